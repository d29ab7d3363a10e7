"""A framed client that takes one recv for the whole reply frame.

Right on a quiet loopback when the reply comes in one write; wrong as soon
as the header or the payload is cut.

expect: framed-client stage 3, assumed one recv = one message
"""
import json
import os
import socket
import struct

PORT = int(os.environ["PORT"])

with socket.create_connection(("127.0.0.1", PORT), timeout=5) as s:
    payload = json.dumps({"msg": "Hello"}).encode("utf-8")
    s.sendall(struct.pack("!I", len(payload)) + payload)
    data = s.recv(65536)                            # the bug: one recv, one frame
    reply = json.loads(data[4:].decode("utf-8"))
    print(f"Decoded reply: {json.dumps(reply)}")

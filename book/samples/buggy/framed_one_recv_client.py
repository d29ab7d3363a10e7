"""A framed client that takes one recv for the whole reply frame.

Right on a quiet loopback when the reply comes in one write; wrong as soon
as the header or the payload is cut.

expect: framed-client stage 3, assumed one recv = one message
"""
import json

from learner import connect
from framing import send_msg  # the book's, found through learner's path

with connect() as s:
    send_msg(s, {"msg": "Hello"})
    data = s.recv(65536)                            # the bug: one recv, one frame
    reply = json.loads(data[4:].decode("utf-8"))
    print(f"Decoded reply: {json.dumps(reply)}")

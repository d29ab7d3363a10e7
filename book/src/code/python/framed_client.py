"""A client for the framed demo: one JSON message out, one JSON message back.

Run:  python3 framed_client.py          (framing.py must sit next to it)
Env:  SOCKET_LAB_HOST (127.0.0.1), SOCKET_LAB_FRAMED_PORT (5000)
"""
import json
import os
import socket

from framing import recv_msg, send_msg

HOST = os.environ.get("SOCKET_LAB_HOST", "127.0.0.1")
PORT = int(os.environ.get("SOCKET_LAB_FRAMED_PORT", "5000"))

with socket.create_connection((HOST, PORT), timeout=5) as s:
    send_msg(s, {"msg": "Hello"})
    reply = recv_msg(s)
    if reply is None:
        raise SystemExit("the server closed without replying")
    print(f"Decoded reply: {json.dumps(reply)}")

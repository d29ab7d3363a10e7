"""The most common TLS mistake, on purpose: plain TCP to a TLS port.

It sends "Hello, Server" in clear to tls-echo and prints what comes back:
not an echo but a 7-byte TLS alert record (type 0x15, level fatal,
description decode_error), and then the server closes.

Run:  python3 tls_plain_mistake.py
Env:  SOCKET_LAB_HOST (127.0.0.1), SOCKET_LAB_TLS_ECHO_PORT (8443)
"""
import os
import socket

HOST = os.environ.get("SOCKET_LAB_HOST", "127.0.0.1")
PORT = int(os.environ.get("SOCKET_LAB_TLS_ECHO_PORT", "8443"))

with socket.create_connection((HOST, PORT), timeout=5) as s:
    s.sendall(b"Hello, Server")
    reply = b""
    while True:
        chunk = s.recv(1024)
        if not chunk:
            break
        reply += chunk

print(f"read {len(reply)} bytes: {reply.hex(' ')}")
if len(reply) >= 7 and reply[0] == 0x15:
    level, desc = reply[5], reply[6]
    print(f"a TLS alert record: level {level} (2 = fatal), description {desc} (50 = decode_error)")

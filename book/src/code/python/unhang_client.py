"""The fix for hanging_client.py: half-close, then read until end of stream.

The same client with one more line. shutdown(SHUT_WR) sends our FIN, so
tcp-echo's next recv returns b"" and it closes its side: now our own read
until b"" ends. The timeout stays, for a server that really is stuck.

Run:  python3 unhang_client.py
Env:  SOCKET_LAB_HOST (127.0.0.1), SOCKET_LAB_TCP_ECHO_PORT (65432)
"""
import os
import socket
import time

HOST = os.environ.get("SOCKET_LAB_HOST", "127.0.0.1")
PORT = int(os.environ.get("SOCKET_LAB_TCP_ECHO_PORT", "65432"))

with socket.create_connection((HOST, PORT), timeout=5) as s:
    # ANCHOR: unhang
    s.settimeout(2)
    s.sendall(b"Hello, Server")
    s.shutdown(socket.SHUT_WR)        # the fix: "I will send no more" (FIN)
    reply = bytearray()
    started = time.monotonic()
    while True:
        chunk = s.recv(1024)
        if chunk == b"":              # the server's FIN, after ours
            break
        reply += chunk
    # ANCHOR_END: unhang
    waited = time.monotonic() - started

print(f"Server replied: {reply.decode()}")
print(f"end of stream after {waited:.3f} s: the server closed once we had")

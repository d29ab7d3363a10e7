"""A client that hangs: it reads until end of stream, but never ends its own.

It sends one message to the tcp-echo demo and then reads until recv returns
b"". tcp-echo answers and keeps the connection open until the client closes,
so that b"" never comes. A 2-second timeout turns the hang into an error, and
the client says what it was waiting for. The fix is unhang_client.py.

Run:  python3 hanging_client.py
Env:  SOCKET_LAB_HOST (127.0.0.1), SOCKET_LAB_TCP_ECHO_PORT (65432)
"""
import os
import socket
import time

HOST = os.environ.get("SOCKET_LAB_HOST", "127.0.0.1")
PORT = int(os.environ.get("SOCKET_LAB_TCP_ECHO_PORT", "65432"))

with socket.create_connection((HOST, PORT), timeout=5) as s:
    # ANCHOR: hang
    s.settimeout(2)                   # a hang becomes socket.timeout after 2 s
    s.sendall(b"Hello, Server")
    reply = bytearray()
    started = time.monotonic()
    try:
        while True:
            chunk = s.recv(1024)
            if chunk == b"":          # end of stream: the server closed
                break
            reply += chunk
        print(f"Server replied: {reply.decode()} (and closed)")
    except TimeoutError:              # socket.timeout is the same class
        waited = time.monotonic() - started
        print(f"got so far: {bytes(reply)!r}")
        print(f"timed out after {waited:.1f} s: waited for an end of stream "
              "the server never sent (it closes only after we do)")
    # ANCHOR_END: hang

"""Half-close: send everything, shutdown(SHUT_WR), read until recv returns b"".

This is the robust way to collect a reply of unknown length from a server
that answers each read and closes when you do, like the tcp-echo demo.

Run:  python3 half_close_client.py
Env:  SOCKET_LAB_HOST (127.0.0.1), SOCKET_LAB_TCP_ECHO_PORT (65432)
"""
import os
import socket

HOST = os.environ.get("SOCKET_LAB_HOST", "127.0.0.1")
PORT = int(os.environ.get("SOCKET_LAB_TCP_ECHO_PORT", "65432"))

with socket.create_connection((HOST, PORT), timeout=5) as s:
    # ANCHOR: half_close
    s.sendall(b"Hello, Server")
    s.shutdown(socket.SHUT_WR)        # send FIN; we can still receive
    reply = bytearray()
    while True:
        chunk = s.recv(1024)
        if chunk == b"":              # the server's FIN: it is done too
            break
        reply += chunk
    # ANCHOR_END: half_close

print(f"Server replied: {reply.decode()}")
print("recv returned b'' : the server closed its side after ours")

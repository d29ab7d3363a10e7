"""A client for the uppercase demo: sends "hello", prints what comes back.

Run:  python3 uppercase_client.py
Env:  SOCKET_LAB_HOST (127.0.0.1), SOCKET_LAB_UPPERCASE_PORT (9999)
"""
import os
import socket

HOST = os.environ.get("SOCKET_LAB_HOST", "127.0.0.1")
PORT = int(os.environ.get("SOCKET_LAB_UPPERCASE_PORT", "9999"))

with socket.create_connection((HOST, PORT), timeout=5) as s:
    s.sendall(b"hello")
    reply = b""
    while chunk := s.recv(1024):     # the server closes after its one reply
        reply += chunk
print(f"Server replied: {reply.decode()}")

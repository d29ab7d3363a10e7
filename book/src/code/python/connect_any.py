"""Connecting *to* 0.0.0.0: on Linux it reaches this machine's own listeners.

Self-contained: a listener on 127.0.0.1, and a client that connects to
0.0.0.0 on the same port.  Run:  python3 connect_any.py
"""
import socket

listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
listener.bind(("127.0.0.1", 0))
listener.listen()
port = listener.getsockname()[1]

try:
    client = socket.create_connection(("0.0.0.0", port), timeout=2)
    print(f"connect to 0.0.0.0:{port} reached {client.getpeername()[0]}:{port}")
    client.close()
except OSError as e:          # Windows refuses it (WSAEADDRNOTAVAIL)
    print(f"connect to 0.0.0.0:{port} failed: {e}")
listener.close()

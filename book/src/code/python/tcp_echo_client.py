"""A TCP client for the tcp-echo demo: sends one message, prints the reply.

Run:  python3 tcp_echo_client.py
Env:  SOCKET_LAB_HOST (127.0.0.1), SOCKET_LAB_TCP_ECHO_PORT (65432)
"""
import os
import socket

HOST = os.environ.get("SOCKET_LAB_HOST", "127.0.0.1")
PORT = int(os.environ.get("SOCKET_LAB_TCP_ECHO_PORT", "65432"))

with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
    s.settimeout(5)                 # never wait forever on a silent server
    s.connect((HOST, PORT))         # the kernel picks our ephemeral port
    s.sendall(b"Hello, Server")
    # One recv is enough for a short reply on a quiet link, but TCP does not
    # promise it: see "The sticky-packet problem" for the robust way.
    response = s.recv(1024)
    print(f"Server replied: {response.decode('utf-8')}")

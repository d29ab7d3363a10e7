"""A TCP client for the tcp-echo demo: sends one message, prints the reply.

Run:  python3 tcp_echo_client.py
Env:  SOCKET_LAB_HOST (127.0.0.1), SOCKET_LAB_TCP_ECHO_PORT (65432)
"""
import os
import socket

HOST = os.environ.get("SOCKET_LAB_HOST", "127.0.0.1")
PORT = int(os.environ.get("SOCKET_LAB_TCP_ECHO_PORT", "65432"))

MESSAGE = b"Hello, Server"

with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
    s.settimeout(5)                 # never wait forever on a silent server
    s.connect((HOST, PORT))         # the kernel picks our ephemeral port
    s.sendall(MESSAGE)
    # The reply is "ACK: " + our message. TCP may hand it over in pieces, so
    # one recv is not enough: read until all of it is here, or the server
    # closes. (See "The sticky-packet problem" for why.)
    expected = len(b"ACK: ") + len(MESSAGE)
    response = b""
    while len(response) < expected:
        chunk = s.recv(1024)
        if not chunk:               # b"": the server closed first
            break
        response += chunk
    print(f"Server replied: {response.decode('utf-8')}")

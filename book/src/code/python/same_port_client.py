"""TCP port 9999 and UDP port 9999 are two different doors.

Talks to the uppercase demo (TCP) and the udp-echo demo (UDP); by default
both use port 9999, and both answer.

Run:  python3 same_port_client.py
Env:  SOCKET_LAB_HOST (127.0.0.1), SOCKET_LAB_UPPERCASE_PORT (9999),
      SOCKET_LAB_UDP_ECHO_PORT (9999)
"""
import os
import socket

HOST = os.environ.get("SOCKET_LAB_HOST", "127.0.0.1")
TCP_PORT = int(os.environ.get("SOCKET_LAB_UPPERCASE_PORT", "9999"))
UDP_PORT = int(os.environ.get("SOCKET_LAB_UDP_ECHO_PORT", "9999"))

# TCP: connect (three-way handshake), send a byte stream, read the reply.
with socket.create_connection((HOST, TCP_PORT), timeout=5) as tcp:
    tcp.sendall(b"hello")
    print(f"TCP port {TCP_PORT} replied: {tcp.recv(1024).decode()}")

# UDP: no connection; one datagram out, one datagram back.
with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
    udp.settimeout(5)
    udp.sendto(b"hello", (HOST, UDP_PORT))
    reply, _ = udp.recvfrom(1024)
    print(f"UDP port {UDP_PORT} replied: {reply.decode()}")

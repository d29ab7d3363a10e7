"""What the layers below a socket look like from a program.

Resolves the server's name (getaddrinfo), connects, prints the knobs the
kernel's TCP/IP stack exposes on the socket, then talks to the uppercase demo.

Run:  python3 layers_client.py
Env:  SOCKET_LAB_HOST (127.0.0.1), SOCKET_LAB_UPPERCASE_PORT (9999)
"""
import os
import socket

HOST = os.environ.get("SOCKET_LAB_HOST", "127.0.0.1")
PORT = int(os.environ.get("SOCKET_LAB_UPPERCASE_PORT", "9999"))

# Layer 3/4 choices: which address family, which socket type, which protocol.
candidates = socket.getaddrinfo(HOST, PORT, type=socket.SOCK_STREAM)
for family, type_, proto, _, sockaddr in candidates:
    print(f"candidate: {family.name} {type_.name} proto={proto} -> {sockaddr}")

family, type_, proto, _, sockaddr = candidates[0]
with socket.socket(family, type_, proto) as s:
    s.settimeout(5)
    s.connect(sockaddr)
    print("SO_SNDBUF  (kernel send buffer):   ", s.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF))
    print("SO_RCVBUF  (kernel receive buffer):", s.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF))
    print("TCP_NODELAY (Nagle off?):          ", s.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
    if family == socket.AF_INET:
        print("IP_TTL     (hops before discard):  ", s.getsockopt(socket.IPPROTO_IP, socket.IP_TTL))
    s.sendall(b"hello layers")      # application-layer bytes: the only layer we write
    print(f"Server replied: {s.recv(1024).decode()}")

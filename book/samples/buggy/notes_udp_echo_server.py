"""The notes' UDP server as written: it decodes every datagram as UTF-8.

expect: udp-echo stage 5, decoded the bytes as UTF-8 text
"""
import socket
import sys

server_sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
server_sock.bind(("127.0.0.1", int(sys.argv[1])))
print(f"listening on 127.0.0.1:{server_sock.getsockname()[1]}", flush=True)
while True:
    data, addr = server_sock.recvfrom(1024)
    print(f"Received {data.decode('utf-8')} from {addr}")   # raises on binary
    server_sock.sendto(b"Message received", addr)

"""The notes' UDP server as written: it decodes every datagram as UTF-8.

expect: udp-echo stage 5, decoded the bytes as UTF-8 text
"""
import socket

from learner import listen

server_sock = listen(socket.SOCK_DGRAM)
while True:
    data, addr = server_sock.recvfrom(1024)
    print(f"Received {data.decode('utf-8')} from {addr}")   # raises on binary
    server_sock.sendto(b"Message received", addr)

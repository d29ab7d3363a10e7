"""A UDP server in the style of the udp-echo demo.

Every datagram gets `Message received` back. There is no accept and no
connection: one socket serves every client, and each recvfrom says who sent.

Run:  python3 udp_echo_server.py [PORT]      (default 9999; 0 = any free port)
"""
import socket
import sys

HOST = "127.0.0.1"
PORT = int(sys.argv[1]) if len(sys.argv) > 1 else 9999
BUF = 1024

sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.bind((HOST, PORT))
host, port = sock.getsockname()
print(f"listening on {host}:{port}", flush=True)

try:
    while True:
        # MSG_PEEK|MSG_TRUNC would tell the real size on Linux; we keep it
        # portable and just note when the buffer was filled to the brim.
        data, addr = sock.recvfrom(BUF)
        note = " (buffer full: it may have been truncated)" if len(data) == BUF else ""
        print(f"datagram of {len(data)} bytes from {addr[0]}:{addr[1]}{note}", flush=True)
        sock.sendto(b"Message received", addr)
except KeyboardInterrupt:
    pass
finally:
    sock.close()

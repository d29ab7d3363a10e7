"""What happens when a datagram is bigger than the receive buffer.

Self-contained: two UDP sockets on loopback, no server needed.
Run:  python3 udp_truncation.py
"""
import socket

receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
receiver.bind(("127.0.0.1", 0))
sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)

addr = receiver.getsockname()
sender.sendto(b"0123456789ABCDEFGHIJ", addr)   # one datagram of 20 bytes
sender.sendto(b"second", addr)                 # and another one

first, _ = receiver.recvfrom(8)    # a buffer of 8: we get the first 8 bytes...
second, _ = receiver.recvfrom(8)   # ...and the other 12 are gone for good
print(f"first recvfrom(8):  {first!r}")
print(f"second recvfrom(8): {second!r}  (the next datagram, not the rest)")
print("Truncated: 12 bytes of the first datagram were discarded")

sender.close()
receiver.close()

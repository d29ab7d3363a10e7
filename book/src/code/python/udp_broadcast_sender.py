"""Sends one UDP datagram to a broadcast address, so every receiver bound to
that port gets it (run udp_broadcast_receiver.py first, twice if you like).

Sending to a broadcast address needs SO_BROADCAST. Without it Linux refuses
the sendto with EACCES, which Python raises as PermissionError: the option
is there so that a program cannot flood a whole network by mistake. Pass
`no-broadcast` to see that error.

The default address, 127.255.255.255, is loopback's broadcast address
(127.0.0.0/8), so nothing leaves this machine. On a LAN you would use that
network's broadcast address (e.g. 192.168.1.255 for 192.168.1.0/24).

Run:  python3 udp_broadcast_sender.py PORT [ADDRESS] [no-broadcast]
"""
import socket
import sys

PORT = int(sys.argv[1]) if len(sys.argv) > 1 else 9998
ADDRESS = sys.argv[2] if len(sys.argv) > 2 else "127.255.255.255"
BROADCAST = "no-broadcast" not in sys.argv[3:]

# ANCHOR: sender
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
if BROADCAST:
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
try:
    sent = sock.sendto(b"hello, everyone", (ADDRESS, PORT))
except PermissionError as e:
    sys.exit(f"sendto {ADDRESS}:{PORT} failed: {e} (set SO_BROADCAST first)")
print(f"sent {sent} bytes to {ADDRESS}:{PORT}")
# ANCHOR_END: sender
sock.close()

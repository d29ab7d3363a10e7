"""Sending UDP to a port where nothing listens: who hears the ICMP error?

Self-contained: finds a free UDP port on loopback and sends to it twice, from
an unconnected and from a connected socket.  Run:  python3 udp_unreachable.py
"""
import socket

probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
probe.bind(("127.0.0.1", 0))
nobody = probe.getsockname()              # a UDP port nobody listens on...
probe.close()                             # ...once this socket is gone


def outcome(sock):
    try:
        sock.recvfrom(1024)
        return "got a reply (someone took the port?)"
    except socket.timeout:                # TimeoutError on 3.10+
        return "recvfrom timed out: the error never reached this socket"
    except ConnectionResetError as e:     # Windows: WSAECONNRESET
        return f"ConnectionResetError: {e}"
    except ConnectionRefusedError as e:   # Linux and macOS, connected sockets
        return f"ConnectionRefusedError: {e}"


# ANCHOR: both
unconnected = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
unconnected.settimeout(1)
unconnected.sendto(b"anyone there?", nobody)
print(f"unconnected: {outcome(unconnected)}")
unconnected.close()

connected = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
connected.settimeout(1)
connected.connect(nobody)                 # sends nothing; fixes the destination
connected.send(b"anyone there?")
print(f"connected:   {outcome(connected)}")
connected.close()
# ANCHOR_END: both

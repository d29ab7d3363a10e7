"""A UDP client for the udp-echo demo, with the retry UDP leaves to you.

Run:  python3 udp_echo_client.py
Env:  SOCKET_LAB_HOST (127.0.0.1), SOCKET_LAB_UDP_ECHO_PORT (9999)
"""
import os
import socket
import sys

HOST = os.environ.get("SOCKET_LAB_HOST", "127.0.0.1")
PORT = int(os.environ.get("SOCKET_LAB_UDP_ECHO_PORT", "9999"))

with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
    sock.settimeout(1.0)
    for attempt in range(1, 4):
        sock.sendto(b"Hello via UDP", (HOST, PORT))
        try:
            response, sender = sock.recvfrom(1024)
        except socket.timeout:
            # Lost request, lost reply, or nobody listening: UDP cannot tell.
            print(f"attempt {attempt}: no reply within 1 s, retrying")
            continue
        print(f"Response: {response.decode('utf-8')}")
        break
    else:
        sys.exit("no reply after 3 attempts")

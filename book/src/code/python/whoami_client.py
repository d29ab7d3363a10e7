"""Shows both ends of a TCP connection: our ephemeral port and the server's port.

Run:  python3 whoami_client.py
Env:  SOCKET_LAB_HOST (127.0.0.1), SOCKET_LAB_TCP_ECHO_PORT (65432)
"""
import os
import socket

HOST = os.environ.get("SOCKET_LAB_HOST", "127.0.0.1")
PORT = int(os.environ.get("SOCKET_LAB_TCP_ECHO_PORT", "65432"))

with socket.create_connection((HOST, PORT), timeout=5) as s:
    local_ip, local_port = s.getsockname()[:2]   # chosen by our kernel
    peer_ip, peer_port = s.getpeername()[:2]     # the server's listening port
    print(f"local address: {local_ip}:{local_port}  (ephemeral, picked by the OS)")
    print(f"peer address:  {peer_ip}:{peer_port}  (the port the server bound)")
    message = f"Hello from port {local_port}".encode()
    s.sendall(message)
    # Read the whole "ACK: " + message, however TCP cuts it.
    reply = b""
    while len(reply) < len(b"ACK: ") + len(message):
        chunk = s.recv(1024)
        if not chunk:
            break
        reply += chunk
    print(f"Server replied: {reply.decode()}")

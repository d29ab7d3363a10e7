"""An auth client that sends hexdigest(): 64 characters instead of 32 bytes.

expect: auth-client stage 1, sent the hex digest, not the 32 raw bytes
"""
import hmac
import os
import socket

PORT = int(os.environ["PORT"])
SECRET = os.environ.get("SOCKET_LAB_SECRET", "my_super_secret_key").encode()


def recv_exactly(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("closed early")
        buf += chunk
    return buf


with socket.create_connection(("127.0.0.1", PORT), timeout=5) as s:
    challenge = recv_exactly(s, 32)
    s.sendall(hmac.new(SECRET, challenge, "sha256").hexdigest().encode())   # the bug
    verdict = b""
    while chunk := s.recv(1024):
        verdict += chunk
print(f"Server says: {verdict.decode()}")

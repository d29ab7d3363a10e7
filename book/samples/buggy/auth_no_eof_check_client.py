"""An auth client whose read loop never checks for b"" (the end of stream).

When the server closes early, recv returns b"" forever and the loop spins.

expect: auth-client stage 7, did not stop when recv returned b""
"""
import hmac
import os
import socket

PORT = int(os.environ["PORT"])
SECRET = os.environ.get("SOCKET_LAB_SECRET", "my_super_secret_key").encode()


def recv_exactly(sock, n):
    buf = b""
    while len(buf) < n:
        buf += sock.recv(n - len(buf))      # the bug: b"" is not an error here
    return buf


with socket.create_connection(("127.0.0.1", PORT), timeout=5) as s:
    challenge = recv_exactly(s, 32)
    s.sendall(hmac.new(SECRET, challenge, "sha256").digest())
    verdict = b""
    while chunk := s.recv(1024):
        verdict += chunk
print(f"Server says: {verdict.decode()}")

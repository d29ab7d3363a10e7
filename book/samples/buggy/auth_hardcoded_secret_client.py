"""An auth client with the notes' secret written into it.

It works against a server using the default secret and nowhere else.

expect: auth-client stage 1 (with --secret class-secret), HMAC with another secret or hash
"""
import hmac
import os
import socket

PORT = int(os.environ["PORT"])
SECRET = b"my_super_secret_key"             # the bug: not SOCKET_LAB_SECRET


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
    s.sendall(hmac.new(SECRET, challenge, "sha256").digest())
    verdict = b""
    while chunk := s.recv(1024):
        verdict += chunk
print(f"Server says: {verdict.decode()}")

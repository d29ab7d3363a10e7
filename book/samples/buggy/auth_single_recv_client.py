"""An auth client that reads the challenge with one s.recv(32).

expect: auth-client stage 3, did not read exactly 32 bytes
"""
import hmac
import os
import socket

PORT = int(os.environ["PORT"])
SECRET = os.environ.get("SOCKET_LAB_SECRET", "my_super_secret_key").encode()

with socket.create_connection(("127.0.0.1", PORT), timeout=5) as s:
    challenge = s.recv(32)                  # the bug: maybe fewer than 32
    s.sendall(hmac.new(SECRET, challenge, "sha256").digest())
    verdict = b""
    while chunk := s.recv(1024):
        verdict += chunk
print(f"Server says: {verdict.decode()}")

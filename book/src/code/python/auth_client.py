"""Authenticate to the auth demo with HMAC-SHA256 challenge-response.

Run:  python3 auth_client.py
Env:  SOCKET_LAB_HOST (127.0.0.1), SOCKET_LAB_AUTH_PORT (8080),
      SOCKET_LAB_SECRET (my_super_secret_key)
"""
import hmac
import os
import socket

HOST = os.environ.get("SOCKET_LAB_HOST", "127.0.0.1")
PORT = int(os.environ.get("SOCKET_LAB_AUTH_PORT", "8080"))
SECRET = os.environ.get("SOCKET_LAB_SECRET", "my_super_secret_key").encode()
CHALLENGE_LEN = 32


def recv_exactly(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError(f"server closed after {len(buf)} of {n} bytes")
        buf += chunk
    return buf


with socket.create_connection((HOST, PORT), timeout=5) as s:
    challenge = recv_exactly(s, CHALLENGE_LEN)          # all 32 bytes, not "a recv"
    answer = hmac.new(SECRET, challenge, 'sha256').digest()  # the digest name is required
    s.sendall(answer)
    verdict = b""
    while chunk := s.recv(1024):                        # the server closes after its verdict
        verdict += chunk

print(f"challenge: {challenge.hex()}")
print(f"answer:    {answer.hex()}")
print(f"Server says: {verdict.decode()}")

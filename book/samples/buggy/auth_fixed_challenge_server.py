"""An auth server whose "random" challenge is the same on every connection.

An answer overheard once is good forever.

expect: auth stage 5, the same challenge twice
"""
import hashlib
import hmac
import os
import socket
import sys

SECRET = os.environ.get("SOCKET_LAB_SECRET", "my_super_secret_key").encode()
CHALLENGE = hashlib.sha256(b"not random at all").digest()   # the bug: fixed


def recv_exactly(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            break
        buf += chunk
    return buf


server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(("127.0.0.1", int(sys.argv[1])))
server.listen(5)
print(f"listening on 127.0.0.1:{server.getsockname()[1]}", flush=True)
while True:
    conn, addr = server.accept()
    with conn:
        try:
            conn.sendall(CHALLENGE)
            conn.settimeout(5)
            answer = recv_exactly(conn, 32)
            ok = hmac.compare_digest(answer, hmac.new(SECRET, CHALLENGE, "sha256").digest())
            conn.sendall(b"Access Granted" if ok else b"Access Denied")
        except OSError:
            pass

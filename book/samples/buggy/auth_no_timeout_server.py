"""An auth server with no deadline on the answer, one client at a time.

A client that connects and says nothing holds it, and everyone behind it,
for as long as it likes.

expect: auth stage 7, waits for a silent client forever
"""
import hashlib
import hmac
import os
import socket
import sys

SECRET = os.environ.get("SOCKET_LAB_SECRET", "my_super_secret_key").encode()


def recv_exactly(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))     # no settimeout: may wait forever
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
            challenge = os.urandom(32)
            conn.sendall(challenge)
            answer = recv_exactly(conn, 32)
            ok = hmac.compare_digest(answer, hmac.new(SECRET, challenge, hashlib.sha256).digest())
            conn.sendall(b"Access Granted" if ok else b"Access Denied")
        except OSError:
            pass

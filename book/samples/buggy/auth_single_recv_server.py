"""The notes' auth server (fixed for Python 3): one conn.recv(32) for the answer.

recv returns what has arrived, so an answer sent in two writes is judged
on its first half.

expect: auth stage 3, did not read exactly 32 bytes
"""
import hashlib
import hmac
import os
import socket
import sys

SECRET_KEY = os.environ.get("SOCKET_LAB_SECRET", "my_super_secret_key").encode()


def verify_connection(conn):
    challenge = os.urandom(32)
    conn.sendall(challenge)
    expected_digest = hmac.new(SECRET_KEY, challenge, hashlib.sha256).digest()
    conn.settimeout(5)
    client_response = conn.recv(len(expected_digest))    # the bug: maybe fewer than 32
    return hmac.compare_digest(client_response, expected_digest)


server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(("127.0.0.1", int(sys.argv[1])))
server.listen(5)
print(f"listening on 127.0.0.1:{server.getsockname()[1]}", flush=True)
while True:
    conn, addr = server.accept()
    try:
        if verify_connection(conn):
            conn.sendall(b"Access Granted")
        else:
            conn.sendall(b"Access Denied")
    except OSError:
        pass
    conn.close()

"""An HMAC-SHA256 challenge-response server, like the auth demo.

Run:  python3 auth_server.py [PORT]      (default 8080; 0 = any free port)
Env:  SOCKET_LAB_SECRET (my_super_secret_key)
"""
import hashlib
import hmac
import os
import socket
import sys

HOST = "127.0.0.1"
PORT = int(sys.argv[1]) if len(sys.argv) > 1 else 8080
SECRET = os.environ.get("SOCKET_LAB_SECRET", "my_super_secret_key").encode()
CHALLENGE_LEN = 32
ANSWER_LEN = hashlib.sha256().digest_size   # 32
ANSWER_TIMEOUT = 5                          # seconds


def recv_exactly(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            break                           # short: the caller will deny
        buf += chunk
    return buf


# ANCHOR: verify
def verify(conn):
    challenge = os.urandom(CHALLENGE_LEN)       # fresh, unpredictable, per connection
    conn.sendall(challenge)
    expected = hmac.new(SECRET, challenge, hashlib.sha256).digest()
    conn.settimeout(ANSWER_TIMEOUT)             # a silent client cannot hold us
    try:
        answer = recv_exactly(conn, ANSWER_LEN)
    except socket.timeout:
        return False
    return hmac.compare_digest(answer, expected)  # constant time, never ==
# ANCHOR_END: verify


def main():
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind((HOST, PORT))
    server.listen(5)
    host, port = server.getsockname()
    print(f"listening on {host}:{port}", flush=True)
    with server:
        while True:
            conn, addr = server.accept()
            with conn:
                try:
                    granted = verify(conn)
                    conn.sendall(b"Access Granted" if granted else b"Access Denied")
                    print(f"{addr[0]}:{addr[1]} {'granted' if granted else 'denied'}", flush=True)
                except OSError as e:
                    print(f"{addr[0]}:{addr[1]} error: {e}", flush=True)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        pass

"""What the buggy programs share and do not get wrong: listening on the port
socket-lab gives, connecting to it, reading to the end of stream, the auth
loop. Importing it also makes the book's framing.py importable, and passes
on its recv_exactly.
"""
import os
import socket
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../src/code/python"))

from framing import recv_exactly  # noqa: E402,F401  (the book's: exactly n bytes, or b"" on a clean close)

SECRET = os.environ.get("SOCKET_LAB_SECRET", "my_super_secret_key").encode()


def listen(kind=socket.SOCK_STREAM, backlog=5):
    """Binds 127.0.0.1 on the port in argv[1] and says so, like the book's servers."""
    sock = socket.socket(socket.AF_INET, kind)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", int(sys.argv[1])))
    if kind == socket.SOCK_STREAM:
        sock.listen(backlog)
    print(f"listening on 127.0.0.1:{sock.getsockname()[1]}", flush=True)
    return sock


def connect():
    """Connects to 127.0.0.1 on the port in $PORT."""
    return socket.create_connection(("127.0.0.1", int(os.environ["PORT"])), timeout=5)


def read_to_close(sock):
    data = b""
    while chunk := sock.recv(1024):
        data += chunk
    return data


def serve_each(serve, errors=(OSError, ValueError)):
    """Accepts clients one at a time and calls serve(conn) for each; an
    error ends that client's connection, not the server."""
    server = listen()
    while True:
        conn, addr = server.accept()
        with conn:
            try:
                serve(conn)
            except errors as e:
                print(f"{addr}: {e}", flush=True)


def serve_auth(new_challenge, read_answer):
    """The auth server; the programs choose how the challenge is made and
    how the answer is read, which is where their bugs are."""
    import hmac

    def verify(conn):
        challenge = new_challenge()
        conn.sendall(challenge)
        answer = read_answer(conn)
        ok = hmac.compare_digest(answer, hmac.new(SECRET, challenge, "sha256").digest())
        conn.sendall(b"Access Granted" if ok else b"Access Denied")

    serve_each(verify)


def auth_client(read_challenge, answer):
    """The auth client's exchange; the programs choose how the challenge is
    read and how it is answered."""
    with connect() as s:
        challenge = read_challenge(s)
        s.sendall(answer(challenge))
        verdict = read_to_close(s)
    print(f"Server says: {verdict.decode()}")

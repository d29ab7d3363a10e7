"""An echo server whose loop never checks for b"" (the end of stream).

When the client half-closes, recv returns b"" at once, again and again,
and the server answers every one of them with "ACK: ".

expect: tcp-echo stage 7, did not stop when recv returned b""
"""
from learner import serve_each


def serve(conn):
    while True:
        data = conn.recv(1024)          # the bug: no `if not data: break`
        conn.sendall(b"ACK: " + data)


serve_each(serve)

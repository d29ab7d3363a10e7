"""Opens several connections at once, then talks on them last-first.

A concurrent server answers every one. An iterative server is stuck reading
the first connection while we wait on the last, so those time out: run it
against tcp_echo_server.py to watch that happen.

Run:  python3 many_clients.py [N]       (default 5)
Env:  SOCKET_LAB_HOST (127.0.0.1), SOCKET_LAB_UPPERCASE_PORT (9999)
"""
import os
import socket
import sys

HOST = os.environ.get("SOCKET_LAB_HOST", "127.0.0.1")
PORT = int(os.environ.get("SOCKET_LAB_UPPERCASE_PORT", "9999"))
N = int(sys.argv[1]) if len(sys.argv) > 1 else 5

# ANCHOR: open
# All N handshakes complete even before the server calls accept(): the kernel
# finishes them and parks them in the listen backlog.
conns = [socket.create_connection((HOST, PORT), timeout=2) for _ in range(N)]
for i, c in enumerate(conns):
    print(f"connection {i}: local port {c.getsockname()[1]}")
# ANCHOR_END: open

# ANCHOR: talk
answered = 0
for i in reversed(range(N)):           # last connection first
    c = conns[i]
    try:
        c.sendall(f"client {i}".encode())
        reply = c.recv(1024)
        print(f"connection {i} got {reply.decode()!r}")
        answered += 1
    except socket.timeout:
        print(f"connection {i}: no answer within 2 s (is the server iterative?)")
    finally:
        c.close()
# ANCHOR_END: talk

print(f"{answered} of {N} connections answered")

"""The uppercase server without socketserver's threads: one client at a time.

A deep listen backlog makes clients that come one after another look served,
but a client that connects and waits holds everybody else.

expect: uppercase stage 4, serves one client at a time
"""
import socket
import sys

server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(("127.0.0.1", int(sys.argv[1])))
server.listen(128)
print(f"listening on 127.0.0.1:{server.getsockname()[1]}", flush=True)
while True:
    conn, addr = server.accept()
    with conn:
        data = conn.recv(1024).strip()      # blocks until this client speaks
        conn.sendall(data.upper())

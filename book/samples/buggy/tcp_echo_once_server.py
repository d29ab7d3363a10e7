"""An echo server that answers one recv per connection, then hangs up.

expect: tcp-echo stage 2, served one message per connection
"""
import socket
import sys

server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(("127.0.0.1", int(sys.argv[1])))
server.listen(5)
print(f"listening on 127.0.0.1:{server.getsockname()[1]}", flush=True)
while True:
    conn, addr = server.accept()
    data = conn.recv(1024)          # one recv = one message, or so it hopes
    conn.sendall(b"ACK: " + data)
    conn.close()

"""A browser's first move, by hand: an HTTP request over a plain TCP socket.

Fetches "/" from the Socket Lab web server and prints the status line and
headers. A browser does the same, then parses the HTML and renders it.

Run:  python3 http_get_client.py
Env:  SOCKET_LAB_HOST (127.0.0.1), SOCKET_LAB_HTTP_PORT (8000)
"""
import os
import socket

HOST = os.environ.get("SOCKET_LAB_HOST", "127.0.0.1")
PORT = int(os.environ.get("SOCKET_LAB_HTTP_PORT", "8000"))

request = (
    "GET / HTTP/1.1\r\n"
    f"Host: {HOST}:{PORT}\r\n"
    "Connection: close\r\n"     # ask the server to close when done
    "\r\n"                      # an empty line ends the headers
).encode("ascii")

with socket.create_connection((HOST, PORT), timeout=5) as s:
    s.sendall(request)
    chunks = []
    while True:                 # read until the server closes (recv -> b"")
        chunk = s.recv(4096)
        if not chunk:
            break
        chunks.append(chunk)

response = b"".join(chunks)
head, _, body = response.partition(b"\r\n\r\n")
for line in head.decode("latin-1").split("\r\n"):
    print(line)
print(f"(and {len(body)} bytes of body)")

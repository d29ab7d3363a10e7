"""A framed server that packs and unpacks the length with "<I" (little-endian).

It talks to itself fine; to anyone using network byte order ("!I") a
16-byte frame looks like a 268 MB one.

expect: framed stage 1, little-endian length
"""
import json
import socket
import struct
import sys

HEADER = struct.Struct("<I")        # the bug: "<" is little-endian, "!" is network order
MAX_FRAME = 1024 * 1024


def recv_exactly(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("closed")
        buf += chunk
    return buf


def send_msg(sock, obj):
    payload = json.dumps(obj).encode("utf-8")
    sock.sendall(HEADER.pack(len(payload)) + payload)


server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(("127.0.0.1", int(sys.argv[1])))
server.listen(5)
print(f"listening on 127.0.0.1:{server.getsockname()[1]}", flush=True)
while True:
    conn, addr = server.accept()
    with conn:
        try:
            while True:
                (length,) = HEADER.unpack(recv_exactly(conn, 4))
                if length > MAX_FRAME:
                    send_msg(conn, {"error": "too_large", "message": f"frame claims {length} bytes"})
                    break
                request = json.loads(recv_exactly(conn, length))
                send_msg(conn, {"echo": request})
        except (ConnectionError, ValueError):
            pass

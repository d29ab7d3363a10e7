"""A framed server that writes len(text), the length in characters.

Fine for ASCII; a reply holding "é" or "✓" is longer in UTF-8 bytes than
its length field says.

expect: framed stage 5, length counted in characters, not UTF-8 bytes
"""
import json
import socket
import struct
import sys


def recv_exactly(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("closed")
        buf += chunk
    return buf


def send_msg(sock, obj):
    text = json.dumps(obj, ensure_ascii=False)
    sock.sendall(struct.pack("!I", len(text)) + text.encode("utf-8"))   # the bug: characters


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
                header = conn.recv(4, socket.MSG_WAITALL)
                if len(header) < 4:
                    break
                (length,) = struct.unpack("!I", header)
                if length > 1024 * 1024:
                    break
                send_msg(conn, {"echo": json.loads(recv_exactly(conn, length))})
        except (ConnectionError, ValueError):
            pass

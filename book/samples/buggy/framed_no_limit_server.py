"""A framed server that believes every length field.

A header claiming 4 GiB makes it wait for 4 GiB (and a server that
allocated first would try to allocate it).

expect: framed stage 8, trusted the length field without a limit
"""
import json
import socket
import sys

sys.path.insert(0, sys.path[0] + "/../../src/code/python")
from framing import HEADER, recv_exactly, send_msg  # noqa: E402

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
                header = recv_exactly(conn, HEADER.size)
                if not header:
                    break
                (length,) = HEADER.unpack(header)           # no limit checked
                payload = recv_exactly(conn, length)
                try:
                    send_msg(conn, {"echo": json.loads(payload)})
                except ValueError as e:
                    send_msg(conn, {"error": "invalid_json", "message": str(e)})
        except ConnectionError as e:
            print(f"{addr}: {e}", flush=True)

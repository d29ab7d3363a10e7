"""A framed server that lets a JSON error end the connection.

The length was fine, so the stream was still in step: it could have
answered with an error frame and read the next frame.

expect: framed stage 7, closed the connection on a bad frame
"""
import json
import socket
import sys

sys.path.insert(0, sys.path[0] + "/../../src/code/python")
from framing import HEADER, MAX_FRAME, recv_exactly, send_msg  # noqa: E402

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
                (length,) = HEADER.unpack(header)
                if length > MAX_FRAME:
                    break
                request = json.loads(recv_exactly(conn, length))   # raises on bad JSON...
                send_msg(conn, {"echo": request})
        except Exception as e:                                  # ...and this hangs up
            print(f"{addr}: {e}", flush=True)

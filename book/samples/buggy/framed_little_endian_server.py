"""A framed server that packs and unpacks the length with "<I" (little-endian).

It talks to itself fine; to anyone using network byte order ("!I") a
16-byte frame looks like a 268 MB one.

expect: framed stage 1, little-endian length
"""
import json
import struct

from learner import recv_exactly, serve_each

HEADER = struct.Struct("<I")        # the bug: "<" is little-endian, "!" is network order
MAX_FRAME = 1024 * 1024


def send_msg(sock, obj):
    payload = json.dumps(obj).encode("utf-8")
    sock.sendall(HEADER.pack(len(payload)) + payload)


def serve(conn):
    while header := recv_exactly(conn, 4):
        (length,) = HEADER.unpack(header)
        if length > MAX_FRAME:
            return send_msg(conn, {"error": "too_large", "message": f"frame claims {length} bytes"})
        send_msg(conn, {"echo": json.loads(recv_exactly(conn, length))})


serve_each(serve)

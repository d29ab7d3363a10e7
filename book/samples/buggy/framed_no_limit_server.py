"""A framed server that believes every length field.

A header claiming 4 GiB makes it wait for 4 GiB (and a server that
allocated first would try to allocate it).

expect: framed stage 8, trusted the length field without a limit
"""
import json

from learner import serve_each
from framing import HEADER, recv_exactly, send_msg  # the book's, found through learner's path


def serve(conn):
    while header := recv_exactly(conn, HEADER.size):
        payload = recv_exactly(conn, HEADER.unpack(header)[0])   # the bug: no limit checked
        try:
            send_msg(conn, {"echo": json.loads(payload)})
        except ValueError as e:
            send_msg(conn, {"error": "invalid_json", "message": str(e)})


serve_each(serve, errors=ConnectionError)

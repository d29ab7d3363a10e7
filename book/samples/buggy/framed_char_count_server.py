"""A framed server that writes len(text), the length in characters.

Fine for ASCII; a reply holding "é" or "✓" is longer in UTF-8 bytes than
its length field says.

expect: framed stage 5, length counted in characters, not UTF-8 bytes
"""
import json
import struct

from learner import serve_each
from framing import recv_msg  # the book's, found through learner's path


def send_msg(sock, obj):
    text = json.dumps(obj, ensure_ascii=False)
    sock.sendall(struct.pack("!I", len(text)) + text.encode("utf-8"))   # the bug: characters


def serve(conn):
    while (request := recv_msg(conn)) is not None:
        send_msg(conn, {"echo": request})


serve_each(serve)

"""A framed client that packs the length with "<I" (little-endian).

expect: framed-client stage 1, little-endian length
"""
import json
import struct

from learner import connect

with connect() as s:
    payload = json.dumps({"msg": "Hello"}).encode("utf-8")
    s.sendall(struct.pack("<I", len(payload)) + payload)     # the bug: "<", not "!"
    (length,) = struct.unpack("<I", s.recv(4))
    print(f"Decoded reply: {s.recv(length).decode()}")

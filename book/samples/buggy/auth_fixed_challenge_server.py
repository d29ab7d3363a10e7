"""An auth server whose "random" challenge is the same on every connection.

An answer overheard once is good forever.

expect: auth stage 5, the same challenge twice
"""
import hashlib

from learner import recv_exactly, serve_auth

CHALLENGE = hashlib.sha256(b"not random at all").digest()   # the bug: fixed


def read_answer(conn):
    conn.settimeout(5)
    return recv_exactly(conn, 32)


serve_auth(lambda: CHALLENGE, read_answer)

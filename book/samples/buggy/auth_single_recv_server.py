"""The notes' auth server (fixed for Python 3): one conn.recv(32) for the answer.

recv returns what has arrived, so an answer sent in two writes is judged
on its first half.

expect: auth stage 3, did not read exactly 32 bytes
"""
import os

from learner import serve_auth


def read_answer(conn):
    conn.settimeout(5)
    return conn.recv(32)            # the bug: maybe fewer than 32


serve_auth(lambda: os.urandom(32), read_answer)

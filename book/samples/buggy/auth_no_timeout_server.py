"""An auth server with no deadline on the answer, one client at a time.

A client that connects and says nothing holds it, and everyone behind it,
for as long as it likes.

expect: auth stage 7, waits for a silent client forever
"""
import os

from learner import recv_exactly, serve_auth

# The bug: no conn.settimeout(...) before reading the answer.
serve_auth(lambda: os.urandom(32), lambda conn: recv_exactly(conn, 32))

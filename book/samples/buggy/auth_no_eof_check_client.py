"""An auth client whose read loop never checks for b"" (the end of stream).

When the server closes early, recv returns b"" forever and the loop spins.

expect: auth-client stage 7, did not stop when recv returned b""
"""
import hmac

from learner import SECRET, auth_client


def read_challenge(sock):
    buf = b""
    while len(buf) < 32:
        buf += sock.recv(32 - len(buf))     # the bug: b"" is not an error here
    return buf


auth_client(read_challenge, lambda challenge: hmac.new(SECRET, challenge, "sha256").digest())

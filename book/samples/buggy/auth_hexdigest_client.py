"""An auth client that sends hexdigest(): 64 characters instead of 32 bytes.

expect: auth-client stage 1, sent the hex digest, not the 32 raw bytes
"""
import hmac

from learner import SECRET, auth_client, recv_exactly

auth_client(
    lambda s: recv_exactly(s, 32),
    lambda challenge: hmac.new(SECRET, challenge, "sha256").hexdigest().encode(),   # the bug
)

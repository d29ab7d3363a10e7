"""An auth client that reads the challenge with one s.recv(32).

expect: auth-client stage 3, did not read exactly 32 bytes
"""
import hmac

from learner import SECRET, auth_client

auth_client(
    lambda s: s.recv(32),           # the bug: maybe fewer than 32
    lambda challenge: hmac.new(SECRET, challenge, "sha256").digest(),
)

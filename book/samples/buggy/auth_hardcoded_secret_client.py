"""An auth client with the notes' secret written into it.

It works against a server using the default secret and nowhere else.

expect: auth-client stage 1 (with --secret class-secret), HMAC with another secret or hash
"""
import hmac

from learner import auth_client, recv_exactly

SECRET = b"my_super_secret_key"             # the bug: not SOCKET_LAB_SECRET

auth_client(
    lambda s: recv_exactly(s, 32),
    lambda challenge: hmac.new(SECRET, challenge, "sha256").digest(),
)

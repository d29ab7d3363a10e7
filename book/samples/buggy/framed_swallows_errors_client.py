"""A framed client that catches every error and still exits with status 0.

Whoever runs it (a script, a grader, a CI job) is told all went well.

expect: framed-client stage 7, exit status 0 on failure
"""
import json

from learner import connect
from framing import recv_msg, send_msg  # the book's, found through learner's path

try:
    with connect() as s:
        send_msg(s, {"msg": "Hello"})
        print(f"Decoded reply: {json.dumps(recv_msg(s))}")
except Exception as e:          # the bug: the error is printed, the status says success
    print(f"something went wrong: {e}")

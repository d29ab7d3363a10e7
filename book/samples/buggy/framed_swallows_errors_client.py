"""A framed client that catches every error and still exits with status 0.

Whoever runs it (a script, a grader, a CI job) is told all went well.

expect: framed-client stage 7, exit status 0 on failure
"""
import json
import os
import socket
import sys

sys.path.insert(0, sys.path[0] + "/../../src/code/python")
from framing import recv_msg, send_msg  # noqa: E402

PORT = int(os.environ["PORT"])

try:
    with socket.create_connection(("127.0.0.1", PORT), timeout=5) as s:
        send_msg(s, {"msg": "Hello"})
        print(f"Decoded reply: {json.dumps(recv_msg(s))}")
except Exception as e:          # the bug: the error is printed, the status says success
    print(f"something went wrong: {e}")

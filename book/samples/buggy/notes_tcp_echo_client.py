"""The notes' echo client: one recv for the reply.

Right on a quiet loopback, where the short reply comes in one piece; wrong
as soon as TCP hands it over in two, and it prints half an answer.

expect: tcp-echo-client stage 3, assumed one recv = one message
"""
from learner import connect

with connect() as s:
    s.sendall(b"Hello, Server")
    response = s.recv(1024)                         # the bug: one recv, one reply
    print(f"Server replied: {response.decode('utf-8')}")

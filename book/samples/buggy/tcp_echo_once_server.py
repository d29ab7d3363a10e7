"""An echo server that answers one recv per connection, then hangs up.

expect: tcp-echo stage 2, served one message per connection
"""
from learner import listen

server = listen()
while True:
    conn, addr = server.accept()
    data = conn.recv(1024)          # one recv = one message, or so it hopes
    conn.sendall(b"ACK: " + data)
    conn.close()

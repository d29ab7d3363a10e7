"""The uppercase server without socketserver's threads: one client at a time.

A deep listen backlog makes clients that come one after another look served,
but a client that connects and waits holds everybody else.

expect: uppercase stage 4, serves one client at a time
"""
from learner import listen

server = listen(backlog=128)
while True:
    conn, addr = server.accept()
    with conn:
        data = conn.recv(1024).strip()      # blocks until this client speaks
        conn.sendall(data.upper())

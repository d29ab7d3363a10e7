"""The notes' framed server: it reads one frame per connection, then closes.

(Fixed for Python 3 and given a reply, as a learner would.)

expect: framed stage 2, served one message per connection
"""
from learner import listen
from framing import recv_msg, send_msg  # the book's, found through learner's path

server = listen()
while True:
    conn, addr = server.accept()
    payload = recv_msg(conn)
    print("Received Payload:", payload)
    send_msg(conn, {"echo": payload})
    conn.close()                      # one frame, and the connection is over

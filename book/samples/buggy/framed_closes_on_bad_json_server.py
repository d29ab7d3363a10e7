"""A framed server that lets a JSON error end the connection.

The length was fine, so the stream was still in step: it could have
answered with an error frame and read the next frame.

expect: framed stage 7, closed the connection on a bad frame
"""
from learner import serve_each
from framing import recv_msg, send_msg  # the book's, found through learner's path


def serve(conn):
    while (request := recv_msg(conn)) is not None:   # json.loads raises on bad JSON...
        send_msg(conn, {"echo": request})


serve_each(serve, errors=Exception)                  # ...and that hangs up

"""The notes' concurrent uppercase server, as a peer for `cargo xtask bench`.

socket-lab's `uppercase` demo is measured against what the course itself
shows: `socketserver.ThreadingTCPServer` with a handler that reads one chunk,
strips it and sends it back upper-cased (a thread per connection). The
handler is the notes' own, print included, fixed for Python 3. Two settings
differ from the notes, both for the benchmark's sake and both in
`peer_server.py` (shared with `framed_server.py`): port 0 (the OS picks a
free port, printed as `listening HOST:PORT`), and a listen backlog of 128
instead of socketserver's 5 -- the backlog tokio's `TcpListener::bind` (and so
socket-lab) listens with, so 32 clients connecting at once measure the server
rather than SYN retransmissions.

Usage: python3 uppercase_server.py [--port 0] [--max-secs 1800]
"""

import socketserver
import sys

from peer_server import serve


class MyTCPHandler(socketserver.BaseRequestHandler):
    """The notes' handler: one read of up to 1024 bytes, answered upper-cased."""

    def handle(self):
        # self.request is the TCP socket connected to the client
        self.data = self.request.recv(1024).strip()
        print(f"Received from {self.client_address[0]}")
        # Process and send back uppercase
        self.request.sendall(self.data.upper())


if __name__ == "__main__":
    sys.exit(serve(MyTCPHandler, __doc__))

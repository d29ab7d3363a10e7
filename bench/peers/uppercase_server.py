"""The notes' concurrent uppercase server, as a peer for `cargo xtask bench`.

socket-lab's `uppercase` demo is measured against what the course itself
shows: `socketserver.ThreadingTCPServer` with a handler that reads one chunk,
strips it and sends it back upper-cased (a thread per connection). The
handler is the notes' own, print included, fixed for Python 3. Two settings
differ from the notes, both for the benchmark's sake: port 0 (the OS picks a
free port, printed as `listening HOST:PORT`), and a listen backlog of 128
instead of socketserver's 5 -- the backlog tokio's `TcpListener::bind` (and so
socket-lab) listens with, so 32 clients connecting at once measure the server
rather than SYN retransmissions.

Usage: python3 uppercase_server.py [--port 0] [--max-secs 1800]
"""

import argparse
import socketserver
import sys
import threading


class MyTCPHandler(socketserver.BaseRequestHandler):
    """The notes' handler: one read of up to 1024 bytes, answered upper-cased."""

    def handle(self):
        # self.request is the TCP socket connected to the client
        self.data = self.request.recv(1024).strip()
        print(f"Received from {self.client_address[0]}")
        # Process and send back uppercase
        self.request.sendall(self.data.upper())


class Server(socketserver.ThreadingTCPServer):
    """ThreadingTCPServer with the benchmark's two settings (see the module doc)."""

    allow_reuse_address = True
    daemon_threads = True
    request_queue_size = 128


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--max-secs", type=float, default=1800, help="stop after this long at most")
    args = parser.parse_args()
    with Server((args.host, args.port), MyTCPHandler) as server:
        host, port = server.server_address[:2]
        print(f"listening {host}:{port}", flush=True)
        # Bounded: the bench stops us, and we stop ourselves after --max-secs anyway.
        timer = threading.Timer(args.max_secs, server.shutdown)
        timer.daemon = True
        timer.start()
        server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())

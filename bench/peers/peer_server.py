"""What the bench's Python peers share: the server class and how they start.

Imported by `uppercase_server.py` and `framed_server.py`, which `cargo xtask
bench` runs as `python3 bench/peers/<name>.py` (so this directory is on
`sys.path`). Each peer is `socketserver.ThreadingTCPServer`, as in the notes,
with two settings for the benchmark's sake: port 0 (the OS picks a free port,
printed as `listening HOST:PORT`, which the bench reads), and a listen backlog
of 128 instead of socketserver's 5 -- the backlog tokio's `TcpListener::bind`
(and so socket-lab) listens with, so 32 clients connecting at once measure the
server rather than SYN retransmissions.
"""

import argparse
import socketserver
import threading


class Server(socketserver.ThreadingTCPServer):
    """ThreadingTCPServer with tokio's listen backlog (128) instead of 5."""

    allow_reuse_address = True
    daemon_threads = True
    request_queue_size = 128


def serve(handler, doc):
    """Parses the peers' flags (`doc`'s first line is the help text), serves `handler`."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--max-secs", type=float, default=1800, help="stop after this long at most")
    args = parser.parse_args()
    with Server((args.host, args.port), handler) as server:
        host, port = server.server_address[:2]
        print(f"listening {host}:{port}", flush=True)
        # Bounded: the bench stops us, and we stop ourselves after --max-secs anyway.
        timer = threading.Timer(args.max_secs, server.shutdown)
        timer.daemon = True
        timer.start()
        server.serve_forever()
    return 0

"""The uppercase server with one thread per connection (socketserver).

Run:  python3 threaded_uppercase_server.py [PORT]   (default 9999; 0 = any free port)
"""
import socketserver
import sys

HOST = "127.0.0.1"
PORT = int(sys.argv[1]) if len(sys.argv) > 1 else 9999


# ANCHOR: handler
class UppercaseHandler(socketserver.BaseRequestHandler):
    def handle(self):
        # Runs in its own thread: a slow client here blocks nobody else.
        self.request.settimeout(30)
        data = self.request.recv(1024).strip()
        print(f"{self.client_address[0]}:{self.client_address[1]} sent {data!r}", flush=True)
        self.request.sendall(data.upper())
        # Returning closes the connection.
# ANCHOR_END: handler


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True   # SO_REUSEADDR, so a restart does not fail
    daemon_threads = True        # do not wait for handler threads on Ctrl-C


if __name__ == "__main__":
    with Server((HOST, PORT), UppercaseHandler) as server:
        host, port = server.server_address
        print(f"listening on {host}:{port}", flush=True)
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass

"""A length-prefixed JSON server in the notes' style, as a peer for `cargo xtask bench`.

socket-lab's `framed` demo is measured against the server a learner would
write from the notes: the notes' `send_msg` / `recv_msg` / `recvall` helpers
(`struct.pack('!I', n)` header, `json` payload), served by
`socketserver.ThreadingTCPServer` (as `peer_server.py` sets it up for both
peers) so that many clients and many frames per connection work (the notes'
own example answers a single frame). Each reply
has the same shape as socket-lab's: the request echoed with what the server
saw. Port 0 picks a free port, printed as `listening HOST:PORT`.

Usage: python3 framed_server.py [--port 0] [--max-secs 1800]
"""

import json
import socketserver
import struct
import sys

from peer_server import serve


def send_msg(sock, data):
    """Serialize, pack the length, send header and payload together (the notes' helper)."""
    serialized = json.dumps(data).encode("utf-8")
    length_prefix = struct.pack("!I", len(serialized))
    sock.sendall(length_prefix + serialized)


def recvall(sock, n):
    """Read exactly n bytes, or None if the peer closes first (the notes' helper)."""
    data = b""
    while len(data) < n:
        packet = sock.recv(n - len(data))
        if not packet:
            return None
        data += packet
    return data


def recv_msg(sock):
    """Read one frame: the 4-byte length, then the payload (the notes' helper).

    Returns (payload length, decoded JSON), or None when the client is done.
    """
    raw_msglen = recvall(sock, 4)
    if not raw_msglen:
        return None
    msglen = struct.unpack("!I", raw_msglen)[0]
    payload = recvall(sock, msglen)
    if payload is None:
        return None
    return msglen, json.loads(payload.decode("utf-8"))


class FramedHandler(socketserver.BaseRequestHandler):
    """Answers every frame on the connection until the client closes."""

    def handle(self):
        index = 0
        while True:
            msg = recv_msg(self.request)
            if msg is None:
                return
            index += 1
            length, request = msg
            send_msg(self.request, {
                "echo": request,
                "seen": {"frame": index, "header": f"{length:08x}", "payload_bytes": length},
            })


if __name__ == "__main__":
    sys.exit(serve(FramedHandler, __doc__))

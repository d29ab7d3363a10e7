"""Receives UDP broadcasts: one datagram sent to a broadcast address reaches
every socket bound to that port, so several of these can run at once.

Two things make that work. The socket binds 0.0.0.0 (every address), not
127.0.0.1: a socket bound to one unicast address never sees datagrams sent
to a broadcast address. And it sets SO_REUSEADDR before bind, or a second
receiver on the same port fails with "Address already in use" (on Linux
SO_REUSEPORT works too; on macOS and the BSDs use SO_REUSEPORT).

Run:  python3 udp_broadcast_receiver.py [PORT] [COUNT]
      PORT: default 9998, 0 = any free port; COUNT: datagrams to wait for
      (default 1), at most 10 s each.
"""
import socket
import sys

PORT = int(sys.argv[1]) if len(sys.argv) > 1 else 9998
COUNT = int(sys.argv[2]) if len(sys.argv) > 2 else 1

# ANCHOR: receiver
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # share the port
sock.bind(("0.0.0.0", PORT))                                 # not 127.0.0.1
host, port = sock.getsockname()
print(f"listening on {host}:{port}", flush=True)
sock.settimeout(10)
for _ in range(COUNT):
    try:
        data, (src, src_port) = sock.recvfrom(1024)
    except TimeoutError:
        sys.exit(f"no datagram within 10 s on port {port}")
    print(f"got {len(data)} bytes from {src}:{src_port}: {data.decode(errors='replace')}",
          flush=True)
# ANCHOR_END: receiver
sock.close()

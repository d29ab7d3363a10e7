"""Print what getaddrinfo makes of a host and a port: every socket address.

Run:  python3 resolve.py [HOST [PORT]]
      HOST defaults to localhost; an empty HOST ("") means no name at all.
      PORT defaults to $SOCKET_LAB_TCP_ECHO_PORT, or 65432.
"""
import os
import socket
import sys

HOST = sys.argv[1] if len(sys.argv) > 1 else "localhost"
PORT = sys.argv[2] if len(sys.argv) > 2 else os.environ.get(
    "SOCKET_LAB_TCP_ECHO_PORT", "65432")


# ANCHOR: show
def show(host, port, flags=0):
    """One line per result: family, type, protocol, socket address."""
    results = socket.getaddrinfo(host, port, family=socket.AF_UNSPEC,
                                 type=socket.SOCK_STREAM, flags=flags)
    for family, type_, proto, _canonname, sockaddr in results:
        print(f"  {family.name:<9} {type_.name:<12} proto {proto:<3} {sockaddr}")
# ANCHOR_END: show


def main():
    # ANCHOR: main
    host = HOST or None     # "" on the command line: no name (None)
    print(f"getaddrinfo({host!r}, {PORT}), as a client asks:")
    show(host, PORT)
    every_type = socket.getaddrinfo(host, PORT)     # no type given
    print(f"  (without type=SOCK_STREAM: {len(every_type)} results,"
          " each address once per socket type)")
    print(f"getaddrinfo(None, {PORT}, flags=AI_PASSIVE), as a server asks:")
    show(None, PORT, socket.AI_PASSIVE)
    # ANCHOR_END: main


try:
    main()
except socket.gaierror as e:        # the name (or the service) is unknown
    print(f"  getaddrinfo failed: {e}")
    sys.exit(1)

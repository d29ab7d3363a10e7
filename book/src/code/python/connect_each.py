"""Connect by name the way create_connection does: try each address in turn.

Then talk to the tcp-echo demo: send Hello, Server and print the reply.

Run:  python3 connect_each.py [HOST [PORT]]
      HOST defaults to localhost; an empty HOST ("") means no name at all,
      which getaddrinfo answers with both loopback addresses, ::1 first.
      PORT defaults to $SOCKET_LAB_TCP_ECHO_PORT, or 65432.
"""
import os
import socket
import sys

HOST = sys.argv[1] if len(sys.argv) > 1 else "localhost"
PORT = int(sys.argv[2] if len(sys.argv) > 2 else os.environ.get(
    "SOCKET_LAB_TCP_ECHO_PORT", "65432"))

MESSAGE = b"Hello, Server"


# ANCHOR: connect_each
def connect_each(host, port):
    """Return a socket connected to the first address that answers."""
    results = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    print(f"{host!r} port {port}: {len(results)} address(es)")
    last_error = None
    for family, type_, proto, _canonname, sockaddr in results:
        try:
            s = socket.socket(family, type_, proto)   # the result's family
        except OSError as e:                # e.g. no IPv6 in this kernel
            print(f"  {family.name} {sockaddr[0]}: no socket: {e}")
            last_error = e
            continue
        s.settimeout(3)     # one attempt may not hold up the next for long
        try:
            s.connect(sockaddr)             # the whole tuple: scope id too
        except OSError as e:
            print(f"  {family.name} {sockaddr[0]}: {e}")
            s.close()
            last_error = e
            continue
        print(f"  {family.name} {sockaddr[0]}: connected")
        return s
    raise last_error or OSError(f"{host!r} gave no address")
# ANCHOR_END: connect_each


def main():
    host = HOST or None     # "" on the command line: no name (None)
    try:
        s = connect_each(host, PORT)
    except OSError as e:    # gaierror too: it is an OSError
        print(f"no address of {host!r} answered; the last error: {e}")
        sys.exit(1)
    # ANCHOR: talk
    with s:
        s.sendall(MESSAGE)          # from here on, nothing knows the family
        expected = len(b"ACK: ") + len(MESSAGE)
        response = b""
        while len(response) < expected:
            chunk = s.recv(1024)
            if not chunk:           # b"": the server closed first
                break
            response += chunk
        print(f"Server replied: {response.decode('utf-8')}")
    # ANCHOR_END: talk


if __name__ == "__main__":
    main()

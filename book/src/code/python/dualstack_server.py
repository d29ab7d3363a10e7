"""tcp_echo_server.py on `::`, dual-stack: IPv6 and IPv4 clients on one socket.

Run:  python3 dualstack_server.py [PORT [v6only]]
      PORT defaults to 65432 (0 = any free port). With `v6only` the socket
      sets IPV6_V6ONLY and IPv4 clients are refused.

`::` is every interface, like 0.0.0.0: other machines can connect too.
Without IPv6 in the kernel, it says so and serves IPv4 on 0.0.0.0 instead.
"""
import socket
import sys

from tcp_echo_server import serve_one   # the same code serves each client

PORT = int(sys.argv[1]) if len(sys.argv) > 1 else 65432
V6ONLY = len(sys.argv) > 2 and sys.argv[2] == "v6only"


def describe(addr):
    """An accepted peer's address, and which family the client really used."""
    ip = addr[0]
    if ip.startswith("::ffff:") and "." in ip:      # ::ffff:a.b.c.d
        return f"[{ip}]:{addr[1]} (an IPv4 client, {ip[7:]}, v4-mapped)"
    if ":" in ip:
        return f"[{ip}]:{addr[1]} (an IPv6 client)"
    return f"{ip}:{addr[1]}"


def main():
    # ANCHOR: listen
    try:
        server = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    except OSError as e:                    # EAFNOSUPPORT: no IPv6 at all
        server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("0.0.0.0", PORT))
        note = f"IPv4 only: this system has no IPv6 ({e})"
    else:
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # 0: IPv4 clients too, as ::ffff:a.b.c.d. Set it yourself: the
        # default is a system setting (Linux: net.ipv6.bindv6only).
        server.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY,
                          1 if V6ONLY else 0)
        server.bind(("::", PORT))
        only = server.getsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY)
        note = f"IPV6_V6ONLY={only}: " + (
            "IPv6 clients only" if only else "IPv6 and IPv4 clients")
    server.listen(5)
    host, port = server.getsockname()[:2]
    shown = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    print(f"listening on {shown}  ({note})", flush=True)
    # ANCHOR_END: listen
    with server:
        while True:
            conn, addr = server.accept()
            print(f"accepted {describe(addr)}", flush=True)
            serve_one(conn, addr)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        pass

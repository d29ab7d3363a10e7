"""How much data one TCP segment carries: TCP_MAXSEG on a loopback connection.

Self-contained: two connections on loopback, no server needed.
Run:  python3 tcp_maxseg.py   (Linux; TCP_MAXSEG is a Unix option)
"""
import socket

MAXSEG = (socket.IPPROTO_TCP, socket.TCP_MAXSEG)


# ANCHOR: measure
def connection(server_mss=None):
    """Connects a client to a fresh listener; returns both ends' TCP_MAXSEG."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if server_mss is not None:
        listener.setsockopt(*MAXSEG, server_mss)  # the MSS the SYN-ACK announces
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    client = socket.create_connection(listener.getsockname())
    conn, _ = listener.accept()
    sizes = client.getsockopt(*MAXSEG), conn.getsockopt(*MAXSEG)
    for s in (client, conn, listener):
        s.close()
    return sizes
# ANCHOR_END: measure


client, server = connection()
print(f"loopback: TCP_MAXSEG client {client}, server {server}")

# The client sets nothing: it learns the server's MSS from the SYN-ACK.
client, server = connection(server_mss=1460)
print(f"server announcing an MSS of 1460: TCP_MAXSEG client {client}, server {server}")

try:
    with open("/proc/sys/net/ipv4/tcp_timestamps") as f:
        on = f.read().strip() != "0"
    # With timestamps, every segment carries a 12-byte option: 1460 - 12 = 1448.
    print(f"TCP timestamps: {'on' if on else 'off'}")
except OSError:
    pass  # not Linux

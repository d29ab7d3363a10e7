"""The tcp-echo server again, serving many clients on one thread with selectors.

Non-blocking sockets plus an event loop: the OS tells us which sockets are
ready (epoll on Linux, kqueue on macOS), and we only ever call accept/recv on
a socket that will not block.

Run:  python3 select_echo_server.py [PORT]   (default 65432; 0 = any free port)
"""
import selectors
import socket
import sys

HOST = "127.0.0.1"
PORT = int(sys.argv[1]) if len(sys.argv) > 1 else 65432

sel = selectors.DefaultSelector()
outbox = {}   # socket -> bytes still waiting to be sent


def accept(server):
    conn, addr = server.accept()      # ready, so this does not block
    conn.setblocking(False)
    outbox[conn] = b""
    sel.register(conn, selectors.EVENT_READ)
    print(f"accepted {addr[0]}:{addr[1]}", flush=True)


# ANCHOR: events
def close(conn):
    sel.unregister(conn)
    del outbox[conn]
    conn.close()


def on_readable(conn):
    try:
        data = conn.recv(1024)
    except ConnectionResetError:
        close(conn)                   # RST: nothing more to say to this peer
        return
    if not data:                      # FIN: the client has finished sending
        if outbox[conn]:
            sel.modify(conn, selectors.EVENT_WRITE)   # flush replies, then close
        else:
            close(conn)
        return
    outbox[conn] += b"ACK: " + data
    sel.modify(conn, selectors.EVENT_READ | selectors.EVENT_WRITE)


def on_writable(conn, reading):
    try:
        sent = conn.send(outbox[conn])  # may send only part: keep the rest
    except (BrokenPipeError, ConnectionResetError):
        close(conn)
        return
    outbox[conn] = outbox[conn][sent:]
    if not outbox[conn]:
        if reading:
            sel.modify(conn, selectors.EVENT_READ)
        else:
            close(conn)               # the client had sent FIN: we are done
# ANCHOR_END: events


def main():
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind((HOST, PORT))
    server.listen(64)
    server.setblocking(False)
    sel.register(server, selectors.EVENT_READ)
    host, port = server.getsockname()
    print(f"listening on {host}:{port}", flush=True)
    # ANCHOR: loop
    while True:
        for key, mask in sel.select():       # sleeps until something is ready
            sock = key.fileobj
            if sock is server:
                accept(server)
                continue
            reading = bool(key.events & selectors.EVENT_READ)
            if mask & selectors.EVENT_WRITE:
                on_writable(sock, reading)
            elif mask & selectors.EVENT_READ:
                on_readable(sock)
    # ANCHOR_END: loop


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        pass

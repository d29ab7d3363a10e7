"""A chat room on one thread: selectors, non-blocking sockets, broadcast.

Every line a client sends goes to every other client, prefixed with the
sender's address. One thread serves them all: the selector tells us which
sockets are ready, and we only ever call accept/recv/send on a socket that
will not block. Each client has an input buffer (bytes not yet a whole line)
and an output buffer (bytes the kernel has not taken yet). This is the same
protocol as the socket-lab `chat` demo:

    on connect   you get  "* you are IP:PORT; N others here" ("1 other")
                 others   "* IP:PORT joined"
    a line L     others   "IP:PORT: L"   (not you; empty lines are ignored)
    on close     others   "* IP:PORT left"  (a last line without \\n counts)
    a line over 1024 bytes, or 64 KiB of output you do not read: dropped.

Run:  python3 chat_server.py [PORT]          (default 9034; 0 = any free port)
Try:  python3 chat_client.py in two terminals, or `nc 127.0.0.1 9034`.
"""
import selectors
import socket
import sys

HOST = "127.0.0.1"
PORT = int(sys.argv[1]) if len(sys.argv) > 1 else 9034
MAX_LINE = 1024            # bytes per line, not counting its "\n"
MAX_PENDING = 64 * 1024    # output a client may leave unread before we drop it

sel = selectors.DefaultSelector()   # epoll on Linux, kqueue on macOS


# ANCHOR: client
class Client:
    """One connection: its socket, its name, and its two buffers."""

    def __init__(self, conn, addr):
        self.conn = conn
        self.name = f"{addr[0]}:{addr[1]}"
        self.inbox = bytearray()    # received, not yet a complete line
        self.outbox = bytearray()   # to send, not yet taken by the kernel


clients = {}   # socket -> Client: everyone in the room
# ANCHOR_END: client


# ANCHOR: send
def send_to(client, data):
    """Queues bytes for one client; they go out when its socket is writable."""
    if not client.outbox:
        # Ask for write events only while there is something to write. An
        # idle socket is almost always writable, so asking all the time
        # would wake the loop for nothing, over and over.
        sel.modify(client.conn, selectors.EVENT_READ | selectors.EVENT_WRITE)
    client.outbox += data


def broadcast(data, sender=None):
    """Queues bytes for everyone but the sender. Never waits for anyone."""
    slow = []
    for client in list(clients.values()):
        if client is not sender:
            send_to(client, data)
            if len(client.outbox) > MAX_PENDING:
                slow.append(client)   # it is not reading: it would cost us
    for client in slow:               # memory without limit, so it goes
        drop(client, "not reading")


def on_writable(client):
    try:
        sent = client.conn.send(client.outbox)  # may take only part of it
    except (BlockingIOError, InterruptedError):
        return
    except OSError:                   # EPIPE, ECONNRESET: the peer is gone
        drop(client, "send failed")
        return
    del client.outbox[:sent]          # keep the rest for the next time
    if not client.outbox:
        sel.modify(client.conn, selectors.EVENT_READ)
# ANCHOR_END: send


# ANCHOR: join_leave
def accept(server):
    conn, addr = server.accept()      # ready, so this does not block
    conn.setblocking(False)
    client = Client(conn, addr)
    sel.register(conn, selectors.EVENT_READ)
    others = len(clients)
    clients[conn] = client
    who = "other" if others == 1 else "others"
    send_to(client, f"* you are {client.name}; {others} {who} here\n".encode())
    broadcast(f"* {client.name} joined\n".encode(), sender=client)
    print(f"{client.name} joined", flush=True)


def drop(client, why, last_words=b""):
    """Takes a client out of the room, tells the others, closes its socket."""
    if clients.pop(client.conn, None) is None:
        return                        # already gone
    sel.unregister(client.conn)
    try:
        # One last try, without waiting: what is still queued, and why it
        # is being closed. A client we are throwing out gets no more of our
        # time than that.
        client.conn.send(client.outbox + last_words)
    except OSError:
        pass
    client.conn.close()
    print(f"{client.name} left ({why})", flush=True)
    broadcast(f"* {client.name} left\n".encode())
# ANCHOR_END: join_leave


# ANCHOR: lines
def on_line(client, line):
    if line.endswith(b"\r"):          # "\r\n" from telnet, nc -C, Windows
        line = line[:-1]
    if line:                          # empty lines are ignored
        broadcast(client.name.encode() + b": " + line + b"\n", sender=client)


def on_readable(client):
    try:
        data = client.conn.recv(4096)
    except (BlockingIOError, InterruptedError):
        return
    except OSError:                   # ECONNRESET: no goodbye, no last line
        drop(client, "reset")
        return
    if not data:                      # end of stream: the client closed
        if client.inbox:              # a last line without its "\n"
            on_line(client, bytes(client.inbox))
        drop(client, "closed")
        return
    client.inbox += data
    # TCP delivers a byte stream, not messages: one recv may hold half a
    # line, or three lines. Split off every complete line; keep the rest.
    while (end := client.inbox.find(b"\n")) != -1:
        if end > MAX_LINE:
            break                     # a complete line, but too long
        line = bytes(client.inbox[:end])
        del client.inbox[:end + 1]
        on_line(client, line)
    # More than MAX_LINE bytes and no newline: this line can never be
    # valid, and buffering it further would let one client eat our memory.
    if len(client.inbox) > MAX_LINE:
        drop(client, "line too long",
             b"* line too long: at most 1024 bytes per line; closing\n")
# ANCHOR_END: lines


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
        for key, mask in sel.select():    # sleeps until something is ready
            if key.fileobj is server:
                accept(server)
                continue
            client = clients.get(key.fileobj)
            if client and mask & selectors.EVENT_WRITE:
                on_writable(client)
            client = clients.get(key.fileobj)  # a failed send drops it
            if client and mask & selectors.EVENT_READ:
                on_readable(client)
    # ANCHOR_END: loop


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        pass

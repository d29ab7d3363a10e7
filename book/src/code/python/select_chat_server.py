"""The chat room of chat_server.py, with select.select instead of selectors.

The same protocol, the same buffers; only the waiting differs. `selectors`
keeps a registry and picks epoll or kqueue; `select.select` is the call
underneath it all: on every turn of the loop we hand the kernel the whole
list of sockets to read from and the list to write to, and it hands back the
ones that are ready. Its limit is on descriptor numbers: none may be 1024
or more (FD_SETSIZE), however few sockets are in the lists.

Run:  python3 select_chat_server.py [PORT]   (default 9034; 0 = any free port)
"""
import select
import socket
import sys

HOST = "127.0.0.1"
PORT = int(sys.argv[1]) if len(sys.argv) > 1 else 9034
MAX_LINE = 1024            # bytes per line, not counting its "\n"
MAX_PENDING = 64 * 1024    # output a client may leave unread before we drop it
TOO_LONG = b"* line too long: at most 1024 bytes per line; closing\n"

names = {}    # socket -> "ip:port", for everyone in the room
inbox = {}    # socket -> bytes received, not yet a complete line
outbox = {}   # socket -> bytes to send, not yet taken by the kernel


def broadcast(data, sender=None):
    slow = []
    for conn in list(names):
        if conn is not sender:
            outbox[conn] += data
            if len(outbox[conn]) > MAX_PENDING:
                slow.append(conn)
    for conn in slow:
        drop(conn)


def drop(conn, last_words=b""):
    name = names.pop(conn, None)
    if name is None:
        return
    try:
        conn.send(outbox.pop(conn) + last_words)   # one try, no waiting
    except OSError:
        pass
    del inbox[conn]
    conn.close()
    broadcast(f"* {name} left\n".encode())


def on_line(conn, line):
    if line.endswith(b"\r"):
        line = line[:-1]
    if line:
        broadcast(names[conn].encode() + b": " + line + b"\n", sender=conn)


def on_readable(conn):
    try:
        data = conn.recv(4096)
    except (BlockingIOError, InterruptedError):
        return
    except OSError:
        drop(conn)
        return
    if not data:
        if inbox[conn]:
            on_line(conn, bytes(inbox[conn]))
        drop(conn)
        return
    buf = inbox[conn]
    buf += data
    while (end := buf.find(b"\n")) != -1 and end <= MAX_LINE:
        line = bytes(buf[:end])
        del buf[:end + 1]
        on_line(conn, line)
    if len(buf) > MAX_LINE:
        drop(conn, TOO_LONG)


def on_writable(conn):
    try:
        sent = conn.send(outbox[conn])
    except (BlockingIOError, InterruptedError):
        return
    except OSError:
        drop(conn)
        return
    del outbox[conn][:sent]


def accept(server):
    conn, (ip, port) = server.accept()
    conn.setblocking(False)
    others = len(names)
    names[conn] = f"{ip}:{port}"
    inbox[conn], outbox[conn] = bytearray(), bytearray()
    who = "other" if others == 1 else "others"
    outbox[conn] += f"* you are {names[conn]}; {others} {who} here\n".encode()
    broadcast(f"* {names[conn]} joined\n".encode(), sender=conn)


def main():
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind((HOST, PORT))
    server.listen(64)
    server.setblocking(False)
    host, port = server.getsockname()
    print(f"listening on {host}:{port}", flush=True)
    # ANCHOR: loop
    while True:
        # Rebuilt on every turn: read from everyone, write only to those
        # we owe bytes (an idle socket is always writable).
        readers = [server, *names]
        writers = [conn for conn in names if outbox[conn]]
        readable, writable, _ = select.select(readers, writers, [])
        for conn in writable:
            if conn in names:           # not dropped earlier in this turn
                on_writable(conn)
        for conn in readable:
            if conn is server:
                accept(server)
            elif conn in names:
                on_readable(conn)
    # ANCHOR_END: loop


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        pass

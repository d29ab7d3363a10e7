"""A client for the chat demo: what you type goes out, what arrives is printed.

A chat client waits for two things at once: a line from the keyboard and a
line from the server, in either order. A blocking `input()` would hide what
others say until you press Enter, so the client asks `selectors` which of
the two is ready, stdin or the socket, like the server does with its
clients. (Watching stdin with select works on Unix, not on Windows.)

End the input (Ctrl-D) and the client shuts down its sending side, then
prints what still arrives until the server closes.

Run:  python3 chat_client.py                 (interactive)
      python3 chat_client.py --say "hello"   (one line, then print what
                                             arrives until 1 s of silence)
Env:  SOCKET_LAB_HOST (127.0.0.1), SOCKET_LAB_CHAT_PORT (9034)
"""
import os
import selectors
import socket
import sys

HOST = os.environ.get("SOCKET_LAB_HOST", "127.0.0.1")
PORT = int(os.environ.get("SOCKET_LAB_CHAT_PORT", "9034"))
SILENCE = 1.0   # --say: seconds without a byte before we leave


def show(data):
    sys.stdout.buffer.write(data)   # bytes as received: the server's UTF-8
    sys.stdout.flush()


# ANCHOR: say
def say(sock, text):
    """Sends one line, prints what arrives until the room is quiet, leaves."""
    sock.sendall(text.encode() + b"\n")
    sock.settimeout(SILENCE)
    try:
        while data := sock.recv(4096):
            show(data)
    except socket.timeout:          # quiet for SILENCE seconds: done
        pass
# ANCHOR_END: say


# ANCHOR: interactive
def interactive(sock):
    # SelectSelector, not the default (epoll on Linux): epoll refuses to
    # watch a regular file or /dev/null (EPERM, since a file is always
    # "ready"), and stdin is one when redirected (`< lines.txt`). select
    # takes any descriptor, and with two to watch its limits don't matter.
    sel = selectors.SelectSelector()
    stdin = sys.stdin.fileno()
    sel.register(stdin, selectors.EVENT_READ)
    sel.register(sock, selectors.EVENT_READ)
    while True:
        for key, _ in sel.select():
            if key.fileobj is sock:
                data = sock.recv(4096)   # ready: does not block
                if not data:
                    return               # the server closed: we are done
                show(data)
            else:
                # os.read, not input(): it returns what is there now, and
                # leaves nothing hidden in a buffer that select can't see.
                typed = os.read(stdin, 4096)
                if typed:
                    sock.sendall(typed)  # lines as typed, "\n" included
                else:                    # EOF on stdin (Ctrl-D)
                    sel.unregister(stdin)
                    sock.shutdown(socket.SHUT_WR)   # FIN: "I have finished"
# ANCHOR_END: interactive


def main():
    if sys.argv[1:2] == ["--say"] and len(sys.argv) == 3:
        line = sys.argv[2]
    elif len(sys.argv) == 1:
        line = None
    else:
        sys.exit(f"usage: {sys.argv[0]} [--say LINE]")
    with socket.create_connection((HOST, PORT), timeout=5) as sock:
        sock.settimeout(None)   # connected; from now on select does the waiting
        if line is None:
            interactive(sock)
        else:
            say(sock, line)

if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        pass

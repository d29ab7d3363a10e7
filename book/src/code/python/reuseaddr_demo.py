"""When does restarting a server fail with "Address already in use"?

Self-contained: everything runs on loopback, on a port the kernel picks, and
takes well under a second.  Run:  python3 reuseaddr_demo.py

For each case a server accepts one client, one side closes first, the other
follows, the server stops, and a new server tries to bind the same port at
once, as a restarted server would.
"""
import socket


# ANCHOR: one_case
def restart(who_closes_first, reuseaddr):
    """Serve one connection, stop, bind the same port again. Returns the result."""
    def new_listener():
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if reuseaddr:  # the same program, so the old and the new server agree
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        return s

    server = new_listener()
    server.bind(("127.0.0.1", 0))
    server.listen()
    port = server.getsockname()[1]

    client = socket.create_connection(("127.0.0.1", port), timeout=2)
    conn, _ = server.accept()
    conn.settimeout(2)
    if who_closes_first == "server":
        conn.close()                  # active close: the server's side keeps TIME_WAIT
        assert client.recv(1) == b""  # the client sees end of stream...
        client.close()                # ...and closes too
    else:
        client.close()                # active close: the client's side keeps TIME_WAIT
        assert conn.recv(1) == b""
        conn.close()
    server.close()                    # the server stops; nothing listens any more

    again = new_listener()            # the restart
    try:
        again.bind(("127.0.0.1", port))
        again.listen()
        return "bind OK"
    except OSError as e:
        return f"bind failed: {e}"
    finally:
        again.close()
# ANCHOR_END: one_case


failed = []
for first in ("client", "server"):
    for reuse in (False, True):
        case = f"{first} closed first, {'with' if reuse else 'no'} SO_REUSEADDR"
        result = restart(first, reuse)
        print(f"{case:38}: {result}")
        if result != "bind OK":
            failed.append(case)
print(f"Restarts that failed: {', '.join(failed) or 'none'}")

"""Two sends, and what comes back from the sticky demo, read by read.

Sends "Hello" and "World" as two separate sendall calls, then half-closes
(shutdown SHUT_WR) and prints every recv until all the bytes are back.
Whether you see one read or several depends on timing and read sizes, not on
how many times we called send.

Run:  python3 sticky_client.py
Env:  SOCKET_LAB_HOST (127.0.0.1), SOCKET_LAB_STICKY_PORT (5001)
"""
import os
import socket

HOST = os.environ.get("SOCKET_LAB_HOST", "127.0.0.1")
PORT = int(os.environ.get("SOCKET_LAB_STICKY_PORT", "5001"))
MESSAGES = [b"Hello", b"World"]

with socket.create_connection((HOST, PORT), timeout=5) as s:
    for m in MESSAGES:
        s.sendall(m)                 # two calls; TCP keeps no trace of the gap
    s.shutdown(socket.SHUT_WR)       # FIN: "I have nothing more to send"
    expected = sum(len(m) for m in MESSAGES)
    received = b""
    reads = 0
    while len(received) < expected:
        chunk = s.recv(1024)
        if not chunk:                # the server closed before echoing it all
            break
        reads += 1
        print(f"read {reads}: {chunk!r}")
        received += chunk

print(f"{len(MESSAGES)} sends arrived as {reads} read(s)")
print(f"Received in total: {received.decode()}")

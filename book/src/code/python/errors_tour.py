"""The errors a socket learner meets first, produced on purpose, on loopback.

Self-contained: run it with no server.  python3 errors_tour.py
"""
import socket
import struct

# ANCHOR: refused
# 1. Connection refused: nobody listens on that port, the kernel answers RST.
probe = socket.socket()
probe.bind(("127.0.0.1", 0))
free_port = probe.getsockname()[1]
probe.close()                                   # now (almost surely) nobody has it
try:
    socket.create_connection(("127.0.0.1", free_port), timeout=2)
except ConnectionRefusedError as e:
    print(f"refused:   {e}")
# ANCHOR_END: refused

# ANCHOR: in_use
# 2. Address already in use: two listeners cannot bind the same port.
first = socket.socket()
first.bind(("127.0.0.1", 0))
first.listen()
port = first.getsockname()[1]
second = socket.socket()
try:
    second.bind(("127.0.0.1", port))
except OSError as e:
    print(f"in use:    {e}")
finally:
    second.close()
# ANCHOR_END: in_use

# ANCHOR: reset
# 3. Connection reset: the peer aborts (SO_LINGER 0 makes close() send RST).
client = socket.create_connection(("127.0.0.1", port), timeout=2)
conn, _ = first.accept()
conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
conn.close()                                    # RST instead of FIN
try:
    client.recv(1024)
except ConnectionResetError as e:
    print(f"reset:     {e}")
client.close()
# ANCHOR_END: reset

# ANCHOR: timeout
# 4. Timeout: connected, but the peer never says anything.
client = socket.create_connection(("127.0.0.1", port), timeout=0.5)
conn, _ = first.accept()
try:
    client.recv(1024)
except socket.timeout as e:                     # TimeoutError on 3.10+
    print(f"timeout:   {e}")
client.close()
conn.close()
first.close()
# ANCHOR_END: timeout
print("All four errors seen")

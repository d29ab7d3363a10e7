"""A full accept queue makes connect() slow, not fail (Linux).

Self-contained: a listener with a backlog of 1 that doesn't call accept()
until the third client is waiting.  Run:  python3 backlog_full.py   (2 s)
"""
import select
import socket
import time

listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
listener.bind(("127.0.0.1", 0))
listener.listen(1)        # Linux queues backlog + 1 finished handshakes
addr = listener.getsockname()

# ANCHOR: queue
first = socket.create_connection(addr, timeout=1)    # queued by the kernel
second = socket.create_connection(addr, timeout=1)   # queued: now it's full
print("connections 1 and 2: connected at once, nobody has called accept()")

third = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
third.setblocking(False)
start = time.monotonic()
third.connect_ex(addr)    # sends a SYN; the full queue makes Linux drop it
time.sleep(0.5)
listener.accept()         # the server takes one: there is room again
_, writable, _ = select.select([], [third], [], 5)   # connect done?
waited = time.monotonic() - start
if writable and third.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0:
    print(f"connection 3: connected after {waited:.1f} s, when its SYN was resent")
else:
    print(f"connection 3: not connected after {waited:.1f} s")
# ANCHOR_END: queue

for s in (first, second, third, listener):
    s.close()

"""select() limits descriptor numbers, not how many you watch.

Self-contained: opens sockets until the next one's descriptor is past
FD_SETSIZE (1024), then asks select() and selectors.DefaultSelector (epoll on Linux,
kqueue on macOS) to watch one single socket.  Run:  python3 select_limit.py
(Unix; it may raise its own open-files soft limit up to the hard limit.)
"""
import resource
import select
import selectors
import socket

FD_SETSIZE = 1024  # glibc's and macOS's value; select's bit sets stop there

soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
want = FD_SETSIZE + 16
if soft < want:
    if hard != resource.RLIM_INFINITY and hard < want:
        raise SystemExit(f"this needs {want} open files, the hard limit is {hard}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))

filler = []
sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
while sock.fileno() < FD_SETSIZE:  # push the next descriptor past the limit
    filler.append(sock)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)

print(f"watching 1 socket, descriptor number {sock.fileno()}")
try:
    select.select([sock], [], [], 0)
    print("select: OK")
except ValueError as e:
    print(f"select: ValueError: {e}")

with selectors.DefaultSelector() as sel:
    sel.register(sock, selectors.EVENT_READ)
    sel.select(timeout=0)
    print(f"{type(sel).__name__}: OK")

for s in filler + [sock]:
    s.close()

"""A receiver that makes message boundaries visible, like the sticky demo.

Each connection is read with a fixed read size, after a fixed delay, and every
read is printed and echoed back. Try:

    python3 sticky_server.py 6001 3 0      # small reads: "Hel", "loW", ...
    python3 sticky_server.py 6001 1024 500 # slow reads: "HelloWorld" at once

Run:  python3 sticky_server.py [PORT] [READ_SIZE] [DELAY_MS]
      (defaults 5001, 1024, 0; PORT 0 = any free port)
"""
import socket
import sys
import time

HOST = "127.0.0.1"
PORT = int(sys.argv[1]) if len(sys.argv) > 1 else 5001
READ_SIZE = int(sys.argv[2]) if len(sys.argv) > 2 else 1024
DELAY = (int(sys.argv[3]) if len(sys.argv) > 3 else 0) / 1000

server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind((HOST, PORT))
server.listen(5)
host, port = server.getsockname()
print(f"listening on {host}:{port} (read size {READ_SIZE}, delay {DELAY * 1000:.0f} ms)", flush=True)

try:
    while True:
        conn, addr = server.accept()
        conn.settimeout(30)
        print(f"accepted {addr[0]}:{addr[1]}", flush=True)
        with conn:
            n = 0
            try:
                while True:
                    # ANCHOR: read
                    time.sleep(DELAY)           # a busy receiver lets bytes pile up
                    data = conn.recv(READ_SIZE)  # at most READ_SIZE, maybe fewer
                    if not data:
                        break
                    n += 1
                    print(f"  read {n}: {len(data)} bytes {data!r}", flush=True)
                    conn.sendall(data)
                    # ANCHOR_END: read
            except (socket.timeout, ConnectionResetError) as e:
                print(f"  connection ended: {e!r}", flush=True)
            print(f"  {addr[0]}:{addr[1]} done after {n} read(s)", flush=True)
except KeyboardInterrupt:
    pass
finally:
    server.close()

"""An iterative TCP echo server: one client at a time, `ACK: ` + every read.

Run:  python3 tcp_echo_server.py [PORT]      (default 65432; 0 = any free port)
"""
import socket
import sys

HOST = "127.0.0.1"
PORT = int(sys.argv[1]) if len(sys.argv) > 1 else 65432
IDLE_TIMEOUT = 30  # seconds a silent client may hold the server


# ANCHOR: serve_one
def serve_one(conn, addr):
    conn.settimeout(IDLE_TIMEOUT)
    try:
        while True:
            data = conn.recv(1024)          # up to 1024 bytes, maybe fewer
            if not data:                    # b"" means the peer sent FIN
                print(f"{addr} closed the connection", flush=True)
                break
            print(f"read {len(data)} bytes from {addr}: {data!r}", flush=True)
            conn.sendall(b"ACK: " + data)   # sendall loops until all is sent
    except socket.timeout:
        print(f"{addr} was idle for {IDLE_TIMEOUT}s; dropping it", flush=True)
    except ConnectionResetError:
        print(f"{addr} reset the connection", flush=True)
    finally:
        conn.close()
# ANCHOR_END: serve_one


def main():
    # ANCHOR: listen
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    # ANCHOR: reuseaddr
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # ANCHOR_END: reuseaddr
    server.bind((HOST, PORT))
    server.listen(5)  # backlog: finished handshakes the kernel may queue
    host, port = server.getsockname()
    print(f"listening on {host}:{port}", flush=True)
    # ANCHOR_END: listen
    # ANCHOR: accept_loop
    with server:
        while True:
            conn, addr = server.accept()    # blocks until a client connects
            print(f"accepted {addr[0]}:{addr[1]}", flush=True)
            serve_one(conn, addr)           # nobody else is served meanwhile
    # ANCHOR_END: accept_loop


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        pass

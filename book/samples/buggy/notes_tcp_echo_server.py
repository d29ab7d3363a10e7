"""The notes' echo server as written: it prints every read as UTF-8 text.

expect: tcp-echo stage 6, decoded the bytes as UTF-8 text
"""
import socket
import sys

server_socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
server_socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server_socket.bind(("127.0.0.1", int(sys.argv[1])))
server_socket.listen(5)
print(f"listening on 127.0.0.1:{server_socket.getsockname()[1]}", flush=True)
while True:
    client_conn, client_addr = server_socket.accept()
    try:
        while True:
            data = client_conn.recv(1024)
            if not data:
                break
            print(f"Received: {data.decode('utf-8')}")   # raises on bytes that are not UTF-8
            client_conn.sendall(b"ACK: " + data)
    finally:
        client_conn.close()

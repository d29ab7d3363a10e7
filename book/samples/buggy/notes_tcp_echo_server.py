"""The notes' echo server as written: it prints every read as UTF-8 text.

expect: tcp-echo stage 6, decoded the bytes as UTF-8 text
"""
from learner import listen

server_socket = listen()
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

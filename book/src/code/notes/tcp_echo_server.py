# The notes' "TCP Server Example", as printed.
# Changed: indentation only (the notes print every line flush left).
# Run on another port with: sed "s/65432/$PORT/" tcp_echo_server.py | python3 -
import socket
# Create a TCP socket
server_socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
server_socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
# Bind and listen
host, port = '127.0.0.1', 65432
server_socket.bind((host, port))
server_socket.listen(5)
print(f"Server listening on {host}:{port}")
while True:
    client_conn, client_addr = server_socket.accept()
    print(f"Connection from {client_addr}")
    try:
        while True:
            data = client_conn.recv(1024)
            if not data:
                break
            print(f"Received: {data.decode('utf-8')}")
            client_conn.sendall(b"ACK: " + data)
    finally:
        client_conn.close()

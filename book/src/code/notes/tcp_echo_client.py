# The notes' "TCP Client Example", as printed.
# Changed: indentation only (the notes print every line flush left).
# Run on another port with: sed "s/65432/$PORT/" tcp_echo_client.py | python3 -
import socket
host, port = '127.0.0.1', 65432
with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
    s.connect((host, port))
    s.sendall(b"Hello, Server")
    response = s.recv(1024)
    print(f"Server replied: {response.decode('utf-8')}")

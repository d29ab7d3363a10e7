# The notes' "UDP Server Example", as printed.
# Changed: indentation only (the notes print every line flush left).
# Run on another port with: sed "s/9999/$PORT/" udp_echo_server.py | python3 -
import socket
server_sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
server_sock.bind(('127.0.0.1', 9999))
print("UDP Server started...")
while True:
    data, addr = server_sock.recvfrom(1024)
    print(f"Received {data.decode('utf-8')} from {addr}")
    server_sock.sendto(b"Message received", addr)

# The notes' "UDP Client Example", unchanged.
# Run on another port with: sed "s/9999/$PORT/" udp_echo_client.py | python3 -
import socket
client_sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
message = b"Hello via UDP"
client_sock.sendto(message, ('127.0.0.1', 9999))
response, _ = client_sock.recvfrom(1024)
print(f"Response: {response.decode('utf-8')}")

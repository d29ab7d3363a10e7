# The notes' "Socket Verification (HMAC)" server, as printed.
# Changed: indentation only (the notes print every line flush left; the
# last line, conn.close(), is put in the loop, after the if/else).
# Run on another port with: sed "s/8080/$PORT/" auth_server.py | python3 -
import socket
import hmac
import os
SECRET_KEY = b'my_super_secret_key'
def verify_connection(conn):
    # Generate random challenge
    challenge = os.urandom(32)
    conn.sendall(challenge)
    # Expected response
    expected_digest = hmac.new(SECRET_KEY, challenge).digest()
    # Actual response
    client_response = conn.recv(len(expected_digest))
    return hmac.compare_digest(client_response, expected_digest)
# Server Implementation
server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
server.bind(('127.0.0.1', 8080))
server.listen(1)
print("Auth Server running...")
while True:
    conn, addr = server.accept()
    if verify_connection(conn):
        print(f"Client {addr} authenticated successfully.")
        conn.sendall(b"Access Granted")
    else:
        print(f"Client {addr} failed authentication.")
    conn.close()

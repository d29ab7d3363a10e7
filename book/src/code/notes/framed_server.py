# The notes' "Solving Sticky Packets" snippet (framing helpers and a server).
# Changed: indentation (the notes print every line flush left); the notes
# print a bare `import` (a SyntaxError), commented out below; and they print
# `.dumps(` and `.loads(` with nothing before the dot (also a SyntaxError),
# given back the module name `json.` they plainly call. Nothing imports json.
# Run on another port with: sed "s/5000/$PORT/" framed_server.py | python3 -
import socket
import struct
# import
# Helper to send messages with a length header
def send_msg(sock, data):
    # Serialize and pack length
    serialized = json.dumps(data).encode('utf-8')
    length_prefix = struct.pack('!I', len(serialized))
    sock.sendall(length_prefix + serialized)
# Helper to receive messages based on length header
def recv_msg(sock):
    # Read the 4-byte length prefix
    raw_msglen = recvall(sock, 4)
    if not raw_msglen: return None
    msglen = struct.unpack('!I', raw_msglen)[0]
    # Read the payload
    return json.loads(recvall(sock, msglen).decode('utf-8'))
def recvall(sock, n):
    data = b''
    while len(data) < n:
        packet = sock.recv(n - len(data))
        if not packet: return None
        data += packet
    return data
# Usage in a Server
server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
server.bind(('0.0.0.0', 5000))
server.listen(5)
conn, addr = server.accept()
# Receiving structured data
payload = recv_msg(conn)
print("Received Payload:", payload)
conn.close()
server.close()

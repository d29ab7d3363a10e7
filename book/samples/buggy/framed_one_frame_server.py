"""The notes' framed server: it reads one frame per connection, then closes.

(Fixed for Python 3 and given a reply, as a learner would.)

expect: framed stage 2, served one message per connection
"""
import json
import socket
import struct
import sys


def recvall(sock, n):
    data = b""
    while len(data) < n:
        packet = sock.recv(n - len(data))
        if not packet:
            return None
        data += packet
    return data


def recv_msg(sock):
    raw_msglen = recvall(sock, 4)
    if not raw_msglen:
        return None
    msglen = struct.unpack("!I", raw_msglen)[0]
    return json.loads(recvall(sock, msglen).decode("utf-8"))


def send_msg(sock, data):
    serialized = json.dumps(data).encode("utf-8")
    sock.sendall(struct.pack("!I", len(serialized)) + serialized)


server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(("127.0.0.1", int(sys.argv[1])))
server.listen(5)
print(f"listening on 127.0.0.1:{server.getsockname()[1]}", flush=True)
while True:
    conn, addr = server.accept()
    payload = recv_msg(conn)
    print("Received Payload:", payload)
    send_msg(conn, {"echo": payload})
    conn.close()                      # one frame, and the connection is over

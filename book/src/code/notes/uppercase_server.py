# The notes' "Concurrent Sockets with SocketServer" server, as printed.
# Changed: indentation only (the notes print every line flush left).
# Run on another port with: sed "s/9999/$PORT/" uppercase_server.py | python3 -
import socketserver
class MyTCPHandler(socketserver.BaseRequestHandler):
    def handle(self):
        # self.request is the TCP socket connected to the client
        self.data = self.request.recv(1024).strip()
        print(f"Received from {self.client_address[0]}")
        # Process and send back uppercase
        self.request.sendall(self.data.upper())
if __name__ == "__main__":
    HOST, PORT = "localhost", 9999
    # Create a threaded server to handle multiple clients
    with socketserver.ThreadingTCPServer((HOST, PORT), MyTCPHandler) as server:
        server.serve_forever()

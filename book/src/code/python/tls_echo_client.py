"""A TLS client for the tls-echo demo: the tcp-echo client with one line more.

The socket is connected as before; `wrap_socket` then runs the TLS handshake
on it (ClientHello out, the server's certificate checked against CAFILE and
against the name "localhost"), and from there every sendall and recv goes
through TLS: the bytes on the wire are encrypted records, the bytes here are
the plain text.

socket-lab makes a new certificate each time it starts and never writes it
to disk; fetch it first (over plain HTTP, from your own machine):

    curl -o socket-lab-cert.pem http://127.0.0.1:8000/tls-cert.pem

Run:  python3 tls_echo_client.py
Env:  SOCKET_LAB_HOST (127.0.0.1), SOCKET_LAB_TLS_ECHO_PORT (8443),
      SOCKET_LAB_TLS_CERT (socket-lab-cert.pem)
"""
import os
import socket
import ssl

HOST = os.environ.get("SOCKET_LAB_HOST", "127.0.0.1")
PORT = int(os.environ.get("SOCKET_LAB_TLS_ECHO_PORT", "8443"))
CAFILE = os.environ.get("SOCKET_LAB_TLS_CERT", "socket-lab-cert.pem")

MESSAGE = b"Hello, TLS"

# Trust exactly the certificate socket-lab made, and check the server's name.
context = ssl.create_default_context(cafile=CAFILE)

with socket.create_connection((HOST, PORT), timeout=5) as raw:
    with context.wrap_socket(raw, server_hostname="localhost") as tls:
        print(f"TLS handshake done: {tls.version()}, {tls.cipher()[0]}")
        tls.sendall(MESSAGE)
        expected = len(b"ACK: ") + len(MESSAGE)
        response = b""
        while len(response) < expected:
            chunk = tls.recv(1024)  # decrypted bytes; b"" when the server closes
            if not chunk:
                break
            response += chunk
        print(f"Server replied: {response.decode('utf-8')}")

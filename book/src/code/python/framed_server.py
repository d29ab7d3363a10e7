"""A server for length-prefixed JSON frames, like the framed demo.

For every frame it replies with a frame: {"echo": <your JSON>, "seen": {...}}.
Bad JSON gets an error frame and the connection goes on; a length over the
limit gets an error frame and a close (after a bad length we no longer know
where the next frame starts).

Run:  python3 framed_server.py [PORT]    (default 5000; 0 = any free port)
"""
import json
import socket
import sys

from framing import HEADER, MAX_FRAME, recv_exactly, send_msg

HOST = "127.0.0.1"
PORT = int(sys.argv[1]) if len(sys.argv) > 1 else 5000


# ANCHOR: serve
def serve(conn, addr):
    frame_no = 0
    while True:
        header = recv_exactly(conn, HEADER.size)
        if not header:
            print(f"{addr} closed between frames", flush=True)
            return
        (length,) = HEADER.unpack(header)
        if length > MAX_FRAME:
            send_msg(conn, {"error": "too_large",
                            "message": f"frame claims {length} bytes; the limit is {MAX_FRAME}"})
            return                               # cannot resynchronise: close
        payload = recv_exactly(conn, length)
        if len(payload) < length:
            raise ConnectionError("closed right after a header")
        frame_no += 1
        try:
            request = json.loads(payload.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            send_msg(conn, {"error": "invalid_json", "message": str(e)})
            continue                             # the length was fine: carry on
        print(f"frame {frame_no} from {addr}: {length} bytes -> {request!r}", flush=True)
        send_msg(conn, {"echo": request,
                        "seen": {"frame": frame_no, "header": f"{length:08x}",
                                 "payload_bytes": length}})
# ANCHOR_END: serve


def main():
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind((HOST, PORT))
    server.listen(5)
    host, port = server.getsockname()
    print(f"listening on {host}:{port}", flush=True)
    with server:
        while True:
            conn, addr = server.accept()
            conn.settimeout(30)
            with conn:
                try:
                    serve(conn, addr)
                except (ConnectionError, socket.timeout) as e:
                    print(f"{addr}: {e}", flush=True)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        pass

"""Length-prefixed JSON frames: a 4-byte big-endian length, then the payload.

Imported by framed_client.py and framed_server.py (keep it next to them).
This is the notes' helper set, fixed: `import json` is there, recv_exactly
never hands back a partial message, and a length limit is checked before any
memory is spent on a claimed length.
"""
import json
import struct

HEADER = struct.Struct("!I")     # "!" network (big-endian) order, "I" unsigned 32-bit
MAX_FRAME = 1024 * 1024          # refuse frames claiming more than 1 MiB


class FrameTooLarge(ValueError):
    """The header claims more bytes than we are willing to read."""


# ANCHOR: send
def send_msg(sock, obj):
    """Serialize obj to JSON and send it as one frame."""
    payload = json.dumps(obj).encode("utf-8")
    sock.sendall(HEADER.pack(len(payload)) + payload)
# ANCHOR_END: send


# ANCHOR: recv_exactly
def recv_exactly(sock, n):
    """Read exactly n bytes. Returns b"" if the peer closed before the first
    byte; raises ConnectionError if it closed part-way through."""
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))     # may return fewer than asked
        if not chunk:
            if not buf:
                return b""
            raise ConnectionError(f"peer closed after {len(buf)} of {n} bytes")
        buf += chunk
    return bytes(buf)
# ANCHOR_END: recv_exactly


# ANCHOR: recv
def recv_msg(sock, max_len=MAX_FRAME):
    """Read one frame and decode its JSON. Returns None on a clean close."""
    header = recv_exactly(sock, HEADER.size)
    if not header:
        return None                          # closed between frames: fine
    (length,) = HEADER.unpack(header)
    if length > max_len:                     # check BEFORE reading the payload
        raise FrameTooLarge(f"frame of {length} bytes exceeds the {max_len}-byte limit")
    payload = recv_exactly(sock, length)
    if len(payload) < length:                # b"": closed right after the header
        raise ConnectionError("peer closed before the payload arrived")
    return json.loads(payload.decode("utf-8"))
# ANCHOR_END: recv

"""The uppercase server on one thread with asyncio: an event loop, no threads.

Run:  python3 asyncio_uppercase_server.py [PORT]   (default 9999; 0 = any free port)
"""
import asyncio
import sys

HOST = "127.0.0.1"
PORT = int(sys.argv[1]) if len(sys.argv) > 1 else 9999


# ANCHOR: handler
async def handle(reader, writer):
    peer = writer.get_extra_info("peername")
    try:
        # `await` hands control back to the event loop until bytes arrive,
        # so thousands of idle clients cost no threads.
        data = await asyncio.wait_for(reader.read(1024), timeout=30)
        print(f"{peer[0]}:{peer[1]} sent {data!r}", flush=True)
        writer.write(data.strip().upper())
        await writer.drain()             # wait until the kernel took the bytes
    except asyncio.TimeoutError:
        print(f"{peer[0]}:{peer[1]} was too slow", flush=True)
    finally:
        writer.close()
        await writer.wait_closed()
# ANCHOR_END: handler


async def main():
    server = await asyncio.start_server(handle, HOST, PORT)
    host, port = server.sockets[0].getsockname()[:2]
    print(f"listening on {host}:{port}", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass

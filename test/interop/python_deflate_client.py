"""Client from Debian's python3-websockets, which offers permessage-deflate by default, against our server.

usage: python3 python_deflate_client.py URL
Sends 20 compressible text messages and a binary one, checks the echoes, closes with 1000, and prints the
Sec-WebSocket-Extensions the server answered (or "none"), then "ok".
"""
import asyncio
import sys

import websockets


async def main():
    async with websockets.connect(sys.argv[1], max_size=2**21) as ws:
        headers = getattr(ws, "response_headers", None) or ws.response.headers
        print(headers.get("Sec-WebSocket-Extensions", "none"), flush=True)
        for i in range(20):
            text = f"message {i}: " + "compressible text, " * 200
            await ws.send(text)
            assert await ws.recv() == text
        blob = bytes(i & 0xFF for i in range(100000))
        await ws.send(blob)
        assert await ws.recv() == blob
    print("ok", flush=True)


asyncio.run(main())

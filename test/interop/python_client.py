"""Client from Debian's python3-websockets, against our server.

usage: python3 python_client.py URL [CAFILE]
Sends a text and a 1 MiB binary message, checks the echoes, closes with 1000, and prints "ok" (or the error).
"""
import asyncio
import ssl
import sys

import websockets


async def main():
    url = sys.argv[1]
    context = None
    if len(sys.argv) == 3:
        context = ssl.create_default_context(cafile=sys.argv[2])
    async with websockets.connect(url, ssl=context, max_size=2**21) as ws:
        await ws.send("hello from python")
        assert await ws.recv() == "hello from python"
        big = bytes(i & 0xFF for i in range(1 << 20))
        await ws.send(big)
        assert await ws.recv() == big
    print("ok", flush=True)


asyncio.run(main())

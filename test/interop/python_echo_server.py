"""Echo server from Debian's python3-websockets: the peer nobody here wrote.

usage: python3 python_echo_server.py [CERT KEY]   (prints "listening PORT" when ready; TLS when given a certificate)
It echoes every message, offers subprotocol "chat", and closes with 4001 "python says bye" on the text "close".
"""
import asyncio
import ssl
import sys

import websockets


async def echo(websocket, path=None):
    async for message in websocket:
        if message == "close":
            await websocket.close(4001, "python says bye")
            return
        await websocket.send(message)


async def main():
    context = None
    if len(sys.argv) == 3:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(sys.argv[1], sys.argv[2])
    async with websockets.serve(echo, "127.0.0.1", 0, ssl=context, subprotocols=["chat"], max_size=2**21) as server:
        print("listening", server.sockets[0].getsockname()[1], flush=True)
        await asyncio.Future()


asyncio.run(main())

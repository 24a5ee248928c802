"""A small asyncio streams program: a local echo server and two clients.

The server listens on 127.0.0.1, on a port the system picks; each client connects,
sends a line, reads the server's answer (the line in capitals) and closes. Both
clients run at once on the one loop, and the server stops when they are done.

    python3 python/socket_demo.py
    python3 python/asyncio_record.py --out sockets.jsonl python/socket_demo.py
"""

import asyncio


async def answer(reader, writer):
    line = await reader.readline()
    writer.write(line.upper())
    await writer.drain()
    writer.close()
    await writer.wait_closed()


async def client(port, text):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(text.encode() + b"\n")
    await writer.drain()
    reply = await reader.readline()
    writer.close()
    await writer.wait_closed()
    return reply.decode().strip()


async def main():
    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        replies = await asyncio.gather(client(port, "hello"), client(port, "loop"))
    for reply in replies:
        print(f"server answered {reply}")


if __name__ == "__main__":
    asyncio.run(main())

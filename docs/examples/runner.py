"""Any asyncio program on a PyLoop: asyncio.Runner (3.11+) or asyncio.run
(3.12+) take PyLoop as their loop factory; data_bridge.pyloop.run works on
3.10 and later. Here a TCP echo server and a client on 127.0.0.1.

    python runner.py
"""
import asyncio
import sys

import data_bridge.pyloop


async def echo(reader, writer):
    writer.write(await reader.readline())
    await writer.drain()
    writer.close()


async def main():
    server = await asyncio.start_server(echo, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"hello\n")
        answer = await reader.readline()
        writer.close()
        await writer.wait_closed()
    return f"{answer.decode().strip()} on {type(asyncio.get_running_loop()).__name__}"


if sys.version_info >= (3, 11):
    with asyncio.Runner(loop_factory=data_bridge.pyloop.new_event_loop) as runner:
        print(runner.run(main()))
if sys.version_info >= (3, 12):
    print(asyncio.run(main(), loop_factory=data_bridge.pyloop.new_event_loop))
print(data_bridge.pyloop.run(main()))

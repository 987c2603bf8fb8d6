"""Real applications on PyLoop: Starlette and FastAPI under uvicorn, an
aiohttp server, and an aiohttp client, each driven end to end.

Needs the third-party packages (uvicorn, starlette, fastapi, websockets,
aiohttp); `make check-apps` runs it in the benchmark virtualenv. A framework
that is not installed is reported as skipped, by name. Every server runs in
its own process on 127.0.0.1 with PyLoop installed and is stopped at the end.
Closes with "N passed, N failed, N skipped".
"""
import asyncio
import json
import os
import socket
import subprocess
import sys
import textwrap
import time

import data_bridge.pyloop as pyloop

STARLETTE_APP = """
import asyncio, sys
import data_bridge.pyloop
from starlette.applications import Starlette
from starlette.responses import JSONResponse, StreamingResponse
from starlette.routing import Route, WebSocketRoute

async def home(request):
    return JSONResponse({"loop": type(asyncio.get_running_loop()).__name__})

async def stream(request):
    async def chunks():
        for i in range(3):
            await asyncio.sleep(0.001)
            yield "chunk%d\\n" % i
    return StreamingResponse(chunks())

async def echo_ws(websocket):
    await websocket.accept()
    await websocket.send_text((await websocket.receive_text()).upper())
    await websocket.close()

app = Starlette(routes=[Route("/", home), Route("/stream", stream), WebSocketRoute("/ws", echo_ws)])
if __name__ == "__main__":
    import uvicorn
    data_bridge.pyloop.install()
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), loop="none", log_level="warning")
"""

FASTAPI_APP = """
import asyncio, sys
import data_bridge.pyloop
from fastapi import FastAPI
from pydantic import BaseModel

app = FastAPI()

class Item(BaseModel):
    name: str
    count: int

@app.get("/")
async def home():
    return {"loop": type(asyncio.get_running_loop()).__name__}

@app.post("/items")
async def create(item: Item):
    await asyncio.sleep(0)
    return {"name": item.name, "double": item.count * 2}

if __name__ == "__main__":
    import uvicorn
    data_bridge.pyloop.install()
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), loop="none", log_level="warning")
"""

AIOHTTP_APP = """
import asyncio, sys
import data_bridge.pyloop
from aiohttp import web

async def home(request):
    return web.json_response({"loop": type(asyncio.get_running_loop()).__name__})

async def echo(request):
    return web.Response(body=await request.read())

async def ws(request):
    socket = web.WebSocketResponse()
    await socket.prepare(request)
    async for message in socket:
        await socket.send_str(message.data.upper())
        break
    await socket.close()
    return socket

app = web.Application()
app.add_routes([web.get("/", home), web.post("/echo", echo), web.get("/ws", ws)])
if __name__ == "__main__":
    data_bridge.pyloop.install()
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None)
"""


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(source, directory):
    port = free_port()
    path = os.path.join(directory, "app_%d.py" % port)
    with open(path, "w") as app_file:
        app_file.write(textwrap.dedent(source))
    process = subprocess.Popen([sys.executable, path, str(port)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("server exited: " + process.stdout.read().decode(errors="replace"))
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return process, port
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise RuntimeError("server did not listen within 20 s")


async def drive_starlette(port):
    import aiohttp

    base = "http://127.0.0.1:%d" % port
    async with aiohttp.ClientSession() as session:
        responses = await asyncio.gather(*[session.get(base + "/") for _ in range(200)])
        assert {response.status for response in responses} == {200}
        assert (await responses[0].json())["loop"] == "PyLoop"
        async with session.get(base + "/stream") as response:
            assert await response.text() == "chunk0\nchunk1\nchunk2\n"
        async with session.ws_connect(base + "/ws") as socket_:
            await socket_.send_str("hello")
            assert (await socket_.receive()).data == "HELLO"


async def drive_fastapi(port):
    import aiohttp

    base = "http://127.0.0.1:%d" % port
    async with aiohttp.ClientSession() as session:
        async with session.get(base + "/") as response:
            assert (await response.json())["loop"] == "PyLoop"
        posts = [session.post(base + "/items", json={"name": "n%d" % i, "count": i}) for i in range(100)]
        for i, response in enumerate(await asyncio.gather(*posts)):
            assert await response.json() == {"name": "n%d" % i, "double": 2 * i}
        async with session.post(base + "/items", json={"name": "x"}) as response:
            assert response.status == 422


async def drive_aiohttp(port):
    import aiohttp

    base = "http://127.0.0.1:%d" % port
    payload = os.urandom(256 * 1024)
    async with aiohttp.ClientSession() as session:
        async with session.get(base + "/") as response:
            assert (await response.json())["loop"] == "PyLoop"
        async with session.post(base + "/echo", data=payload) as response:
            assert await response.read() == payload
        async with session.ws_connect(base + "/ws") as socket_:
            await socket_.send_str("abc")
            assert (await socket_.receive()).data == "ABC"


CASES = [
    ("starlette under uvicorn", ("uvicorn", "starlette", "websockets", "aiohttp"), STARLETTE_APP, drive_starlette),
    ("fastapi under uvicorn", ("uvicorn", "fastapi", "aiohttp"), FASTAPI_APP, drive_fastapi),
    ("aiohttp server and client", ("aiohttp",), AIOHTTP_APP, drive_aiohttp),
]


def main():
    import importlib.util
    import tempfile

    passed = failed = skipped = 0
    with tempfile.TemporaryDirectory() as directory:
        for name, needs, source, drive in CASES:
            missing = [module for module in needs if importlib.util.find_spec(module) is None]
            if missing:
                print("SKIP %s: not installed: %s" % (name, ", ".join(missing)))
                skipped += 1
                continue
            process = None
            try:
                process, port = start_server(source, directory)
                # The client side runs on PyLoop too.
                pyloop.run(asyncio.wait_for(drive(port), 60))
                print("PASS %s" % name)
                passed += 1
            except Exception as error:  # report and go on with the next app
                print("FAIL %s: %r" % (name, error))
                failed += 1
            finally:
                if process is not None:
                    process.terminate()
                    try:
                        output = process.communicate(timeout=10)[0].decode(errors="replace")
                    except subprocess.TimeoutExpired:
                        process.kill()
                        output = process.communicate()[0].decode(errors="replace")
                    if output.strip() and failed:
                        print(textwrap.indent(output[-3000:], "    server: "))
    print(json.dumps(pyloop.build_info()))
    print("%d passed, %d failed, %d skipped" % (passed, failed, skipped))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

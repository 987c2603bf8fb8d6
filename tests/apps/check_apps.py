"""Real applications on PyLoop, each driven end to end.

1. The recipes of docs/usage.md, run as written from docs/examples/ (the
   command a user types, with only the port chosen here): uvicorn with
   --loop data_bridge.pyloop:new_event_loop, alone, with --workers 2 and from
   Python; gunicorn with uvicorn's worker class; hypercorn through
   asyncio.Runner; aiohttp's web.run_app; N processes on one port with
   SO_REUSEPORT; asyncio.Runner in general; the README's quick start. Every
   server is asked GET / over new connections until each of its worker
   processes has answered, and each must answer from a PyLoop. Each recipe's
   command must appear, verbatim, in docs/usage.md or README.md, and every python block
   of README.md and docs/usage.md must be the text of a file run here.
2. Starlette and FastAPI under uvicorn, an aiohttp server and an aiohttp
   client, deeper: streaming, websockets, request bodies.
3. aiohttp's own TLS tests from its sdist, on PyLoop and on stock asyncio:
   the same outcome for every test (aiohttp_tls.py).

Needs the third-party packages of tests/apps/requirements.txt; `make
check-apps` runs it in a virtualenv made from that list. A case whose
package is missing, or whose Python is too old, is reported skipped, with
the reason. Every server runs in its own session on 127.0.0.1 and is stopped
at the end. Closes with "N passed, N failed, N skipped".
"""
import argparse
import asyncio
import concurrent.futures
import json
import os
import re
import signal
import socket
import subprocess
import sys
import textwrap
import time
import urllib.request

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
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), loop="data_bridge.pyloop:new_event_loop", log_level="warning")
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
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), loop="data_bridge.pyloop:new_event_loop", log_level="warning")
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
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, loop=data_bridge.pyloop.new_event_loop())
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


# --------------------------------------------------------------------------
# The recipes of docs/usage.md (files in docs/examples/)

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))


class Recipe(object):
    """One documented way to run a server (or a program) on PyLoop.

    command: what docs/usage.md tells the user to type, verbatim, with PORT
    where the docs show `shown_port`; here PORT is a free port.
    workers: processes that must each answer from a PyLoop (0: a program that
    runs to its end and must print `expect`).
    """

    def __init__(self, name, needs, command, shown_port=None, workers=1, expect=None, python=(3, 10)):
        self.name, self.needs, self.command = name, needs, command
        self.shown_port, self.workers, self.expect, self.python = shown_port, workers, expect, python

    def documented(self):
        return self.command.replace("PORT", str(self.shown_port)) if self.shown_port else self.command


RECIPES = [
    Recipe("uvicorn --loop data_bridge.pyloop:new_event_loop", ("uvicorn",),
           "uvicorn app:app --loop data_bridge.pyloop:new_event_loop --port PORT", 8000),
    Recipe("uvicorn --loop ... --workers 2, a PyLoop in each worker", ("uvicorn",),
           "uvicorn app:app --loop data_bridge.pyloop:new_event_loop --workers 2 --port PORT", 8000, workers=2),
    Recipe("uvicorn.run(loop=...) from Python", ("uvicorn",), "python uvicorn_run.py PORT", 8000),
    Recipe("gunicorn with uvicorn's worker class, a PyLoop in each worker", ("gunicorn", "uvicorn_worker"),
           "gunicorn app:app -k pyloop_worker.PyLoopUvicornWorker -w 2 -b 127.0.0.1:PORT", 8000, workers=2),
    Recipe("hypercorn through asyncio.Runner(loop_factory=...)", ("hypercorn",),
           "python hypercorn_serve.py PORT", 8000, python=(3, 11)),
    Recipe("aiohttp web.run_app on a PyLoop", ("aiohttp",), "python aiohttp_app.py PORT", 8080),
    Recipe("2 processes on one port (SO_REUSEPORT), a PyLoop in each", (),
           "python reuseport_server.py --workers 2 --port PORT", 8080, workers=2),
    Recipe("asyncio.Runner / asyncio.run / data_bridge.pyloop.run", (), "python runner.py", workers=0,
           expect="hello on PyLoop"),
    Recipe("the README's quick start", (), "python quickstart.py", workers=0, expect="done"),
]


def recipe_argv(recipe, port):
    """The documented command with the port filled in; `uvicorn`, `gunicorn`
    and `python` are this interpreter's (the virtualenv's)."""
    words = recipe.command.replace("PORT", str(port)).split()
    if words[0] == "python":
        words[0] = sys.executable
    else:
        words[0] = os.path.join(os.path.dirname(sys.executable), words[0])
    return words


def ask(port):
    """GET / on a new connection: the JSON answer."""
    request = urllib.request.Request("http://127.0.0.1:%d/" % port, headers={"Connection": "close"})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200, response.status
        return json.loads(response.read())


def read_output(path):
    with open(path, errors="replace") as output:
        return output.read()[-3000:]


def wait_listening(process, port, output):
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("server exited with %s: %s" % (process.returncode, read_output(output)))
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("server did not listen within 30 s")


def stop_session(process):
    """SIGTERM to the server (its workers follow), then SIGKILL to its whole
    session, so that no worker outlives the case."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except OSError:
        pass
    process.wait()


def run_recipe(recipe, examples, directory):
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    if recipe.workers == 0:
        result = subprocess.run(recipe_argv(recipe, 0), cwd=examples, env=env, timeout=120,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        text = result.stdout.decode(errors="replace")
        assert result.returncode == 0, text
        assert recipe.expect in text, text
        return "printed %r" % recipe.expect
    port = free_port()
    output = os.path.join(directory, "recipe-%d.out" % port)
    with open(output, "wb") as sink:
        process = subprocess.Popen(recipe_argv(recipe, port), cwd=examples, env=env, stdout=sink,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_listening(process, port, output)
        answers = []
        pids = set()
        deadline = time.monotonic() + 60
        # Concurrent new connections, until every worker has answered.
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            while len(pids) < recipe.workers and time.monotonic() < deadline:
                for answer in pool.map(lambda _: ask(port), range(16)):
                    answers.append(answer)
                    pids.add(answer["pid"])
        loops = {answer["loop"] for answer in answers}
        assert loops == {"PyLoop"}, "answered from %s" % loops
        assert len(pids) == recipe.workers, "%d process(es) answered, %d expected, in %d requests" % (
            len(pids), recipe.workers, len(answers))
        assert recipe.workers == 1 or process.pid not in pids, "the master process answered"
        return "%d requests, answered by %d PyLoop process(es)" % (len(answers), len(pids))
    except Exception:
        print(textwrap.indent(read_output(output), "    server: "))
        raise
    finally:
        stop_session(process)


def python_blocks(path):
    with open(path) as document:
        return re.findall(r"^```python\n(.*?)^```$", document.read(), re.MULTILINE | re.DOTALL)


def check_docs(examples):
    """Every python block of README.md and docs/usage.md is the text of an
    example file run here; every recipe's command is in one of the two."""
    texts = []
    for name in sorted(os.listdir(examples)):
        if name.endswith(".py"):
            with open(os.path.join(examples, name)) as example:
                texts.append(example.read())
    checked = 0
    documents = ""
    for document in ("README.md", os.path.join("docs", "usage.md")):
        for block in python_blocks(os.path.join(TOP, document)):
            assert any(block.strip() in text for text in texts), (
                "%s: this block is in no file of docs/examples/:\n%s" % (document, block))
            checked += 1
        with open(os.path.join(TOP, document)) as text:
            documents += text.read()
    for recipe in RECIPES:
        assert recipe.documented() in documents, "neither README.md nor docs/usage.md shows: %s" % (
            recipe.documented())
    return "%d python blocks, %d commands" % (checked, len(RECIPES))


def run_aiohttp_tls():
    """tests/apps/aiohttp_tls.py: its per-loop lines are printed, its last
    line is the detail, its exit status the verdict."""
    proc = subprocess.run([sys.executable, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                        "aiohttp_tls.py")],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True)
    lines = proc.stdout.strip().splitlines() or ["no output"]
    print(textwrap.indent("\n".join(lines[:-1][-80:]), "    "))
    assert proc.returncode == 0, lines[-1]
    return lines[-1][len("PASS "):]


def main():
    import importlib.util
    import tempfile

    parser = argparse.ArgumentParser(description="real applications on PyLoop")
    parser.add_argument("--examples", default=os.path.join(TOP, "docs", "examples"))
    args = parser.parse_args()
    examples = os.path.abspath(args.examples)
    counts = {"passed": 0, "failed": 0, "skipped": 0}

    def outcome(name, call):
        try:
            detail = call()
            print("PASS %s%s" % (name, ": " + detail if detail else ""))
            counts["passed"] += 1
        except Exception as error:  # report and go on with the next case
            print("FAIL %s: %r" % (name, error))
            counts["failed"] += 1

    with tempfile.TemporaryDirectory() as directory:
        outcome("docs: the README.md and docs/usage.md snippets are files run here", lambda: check_docs(examples))
        for recipe in RECIPES:
            missing = [module for module in recipe.needs if importlib.util.find_spec(module) is None]
            if missing:
                print("SKIP %s: not installed: %s" % (recipe.name, ", ".join(missing)))
                counts["skipped"] += 1
            elif sys.version_info < recipe.python:
                print("SKIP %s: needs Python %d.%d" % ((recipe.name,) + recipe.python))
                counts["skipped"] += 1
            else:
                outcome(recipe.name, lambda: run_recipe(recipe, examples, directory))
        for name, needs, source, drive in CASES:
            missing = [module for module in needs if importlib.util.find_spec(module) is None]
            if missing:
                print("SKIP %s: not installed: %s" % (name, ", ".join(missing)))
                counts["skipped"] += 1
                continue
            process = None
            try:
                process, port = start_server(source, directory)
                # The client side runs on PyLoop too.
                pyloop.run(asyncio.wait_for(drive(port), 60))
                print("PASS %s" % name)
                counts["passed"] += 1
            except Exception as error:  # report and go on with the next app
                print("FAIL %s: %r" % (name, error))
                counts["failed"] += 1
            finally:
                if process is not None:
                    process.terminate()
                    try:
                        output = process.communicate(timeout=10)[0].decode(errors="replace")
                    except subprocess.TimeoutExpired:
                        process.kill()
                        output = process.communicate()[0].decode(errors="replace")
                    if output.strip() and counts["failed"]:
                        print(textwrap.indent(output[-3000:], "    server: "))
        # aiohttp's own TLS tests, on PyLoop and on asyncio (aiohttp_tls.py).
        name = "aiohttp's own TLS tests: the same outcomes on PyLoop as on asyncio"
        missing = [module for module in ("aiohttp", "pytest", "trustme", "pip")
                   if importlib.util.find_spec(module) is None]
        if missing:
            print("SKIP %s: not installed: %s" % (name, ", ".join(missing)))
            counts["skipped"] += 1
        else:
            outcome(name, run_aiohttp_tls)
    print(json.dumps(pyloop.build_info()))
    print("%(passed)d passed, %(failed)d failed, %(skipped)d skipped" % counts)
    return 1 if counts["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())

"""aiohttp's web.run_app on a PyLoop.

    pip install aiohttp
    python aiohttp_app.py [PORT]
"""
import asyncio
import os
import sys

from aiohttp import web

import data_bridge.pyloop


async def hello(request):
    return web.json_response({"loop": type(asyncio.get_running_loop()).__name__, "pid": os.getpid()})


app = web.Application()
app.add_routes([web.get("/", hello)])

if __name__ == "__main__":
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 8080
    web.run_app(app, host="127.0.0.1", port=port, loop=data_bridge.pyloop.new_event_loop())

"""A minimal ASGI application, served by the uvicorn, gunicorn and hypercorn
recipes of docs/usage.md. GET / answers with the class of the event loop it
runs on and the process id, so each worker can show it runs a PyLoop.

Needs only the server: pip install uvicorn (or gunicorn uvicorn-worker, or
hypercorn).
"""
import asyncio
import json
import os


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] != "http":
        return
    body = json.dumps({"loop": type(asyncio.get_running_loop()).__name__, "pid": os.getpid()}).encode()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})

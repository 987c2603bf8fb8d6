"""hypercorn on a PyLoop: asyncio.Runner with PyLoop as its loop factory
(Python 3.11+; on 3.10, data_bridge.pyloop.run(serve(app, config))).

    pip install hypercorn
    python hypercorn_serve.py [PORT]
"""
import asyncio
import sys

from hypercorn.asyncio import serve
from hypercorn.config import Config

import data_bridge.pyloop
from app import app

if __name__ == "__main__":
    config = Config()
    config.bind = ["127.0.0.1:%d" % (int(sys.argv[1]) if len(sys.argv) > 1 else 8000)]
    with asyncio.Runner(loop_factory=data_bridge.pyloop.new_event_loop) as runner:
        runner.run(serve(app, config))

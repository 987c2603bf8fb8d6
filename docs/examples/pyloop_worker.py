"""A gunicorn worker class: uvicorn's worker (the uvicorn-worker package),
with a PyLoop in every worker process.

    pip install gunicorn uvicorn-worker
    gunicorn app:app -k pyloop_worker.PyLoopUvicornWorker -w 2 -b 127.0.0.1:8000
"""
from uvicorn_worker import UvicornWorker


class PyLoopUvicornWorker(UvicornWorker):
    CONFIG_KWARGS = {**UvicornWorker.CONFIG_KWARGS, "loop": "data_bridge.pyloop:new_event_loop"}

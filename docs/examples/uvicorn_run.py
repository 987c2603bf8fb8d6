"""uvicorn from Python: the same as `uvicorn app:app --loop data_bridge.pyloop:new_event_loop`.
uvicorn >= 0.36 takes a loop factory as "module:attribute".

    pip install uvicorn
    python uvicorn_run.py [PORT]
"""
import sys

import uvicorn

if __name__ == "__main__":
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 8000
    uvicorn.run("app:app", host="127.0.0.1", port=port, loop="data_bridge.pyloop:new_event_loop")

import asyncio
import sys

import data_bridge.pyloop

async def main():
    await asyncio.sleep(0.1)
    return "done"

if sys.version_info >= (3, 12):         # asyncio.run, with PyLoop as its loop factory
    print(asyncio.run(main(), loop_factory=data_bridge.pyloop.new_event_loop))
print(data_bridge.pyloop.run(main()))   # the same, on every Python (3.10+)

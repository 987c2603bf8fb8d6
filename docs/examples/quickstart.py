import asyncio
import data_bridge.pyloop

async def main():
    await asyncio.sleep(0.1)
    return "done"

print(data_bridge.pyloop.run(main()))   # like asyncio.run, on a PyLoop

data_bridge.pyloop.install()            # or: every new asyncio loop is a PyLoop
print(asyncio.run(main()))

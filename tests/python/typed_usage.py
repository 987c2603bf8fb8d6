"""A program that uses data_bridge.pyloop's public API, for `mypy --strict`
(tests/python/pip-roundtrip.sh checks it against the installed wheel, then
runs it). It must type-check with no error and no ignore."""
import asyncio
import sys
from typing import Dict, List

import data_bridge.pyloop


async def double(value: int) -> int:
    await asyncio.sleep(0)
    return value * 2


def main() -> None:
    info = data_bridge.pyloop.build_info()
    phase: str = info["phase"]
    batch_limit: int = info["batch_limit"]
    print(f"phase {phase}, batch limit {batch_limit}, version {data_bridge.pyloop.__version__}")

    result: int = data_bridge.pyloop.run(double(21))
    assert result == 42

    loop: data_bridge.pyloop.PyLoop = data_bridge.pyloop.new_event_loop()
    try:
        assert isinstance(loop, asyncio.AbstractEventLoop)
        assert loop.run_until_complete(double(2)) == 4
        counters: Dict[str, int] = loop.stats()
        assert counters["iterations"] > 0
    finally:
        loop.close()

    if sys.version_info >= (3, 11):
        with asyncio.Runner(loop_factory=data_bridge.pyloop.new_event_loop) as runner:
            assert runner.run(double(3)) == 6
    if sys.version_info >= (3, 12):
        tripled: List[int] = [asyncio.run(double(6), loop_factory=data_bridge.pyloop.new_event_loop)]
        assert tripled == [12]

    # asyncio's policy system, deprecated from 3.14 (and ours with it).
    if sys.version_info < (3, 14):
        policy: asyncio.AbstractEventLoopPolicy = data_bridge.pyloop.EventLoopPolicy()
        previous = asyncio.get_event_loop_policy()
        data_bridge.pyloop.install()
        try:
            assert data_bridge.pyloop.is_installed()
            doubled: List[int] = [asyncio.run(double(5))]
            assert doubled == [10]
        finally:
            asyncio.set_event_loop_policy(previous)
        made = policy.new_event_loop()
        try:
            assert isinstance(made, data_bridge.pyloop.PyLoop)
        finally:
            made.close()
    print("typed usage: ok")


if __name__ == "__main__":
    main()

"""data_bridge.pyloop: a drop-in asyncio event loop whose engine is C.

    import data_bridge.pyloop
    data_bridge.pyloop.install()          # every new asyncio loop is a PyLoop
    data_bridge.pyloop.run(main())        # or: like asyncio.run, on a PyLoop

Typed (PEP 561): py.typed, with stubs for the C module and _loop.
"""
from __future__ import annotations

import asyncio
import sys
from typing import TYPE_CHECKING, Any, Coroutine, Optional, TypeVar

from . import _pyloop
from ._loop import EventLoopPolicy, Loop, PyLoop, new_event_loop

__all__ = (
    "PyLoop",
    "Loop",
    "EventLoopPolicy",
    "new_event_loop",
    "install",
    "is_installed",
    "run",
    "build_info",
)

if TYPE_CHECKING:
    from ._pyloop import _BuildInfo

_T = TypeVar("_T")

__version__: str = _pyloop.build_info()["version"]


def build_info() -> _BuildInfo:
    """What the C engine was compiled as: phase, batch limit, wait strategy,
    call_soon path, version and compiler."""
    return _pyloop.build_info()


def install() -> None:
    """Make PyLoop the loop of every asyncio.new_event_loop()/asyncio.run()."""
    asyncio.set_event_loop_policy(EventLoopPolicy())


def is_installed() -> bool:
    """True when the current asyncio policy makes PyLoop loops."""
    return isinstance(asyncio.get_event_loop_policy(), EventLoopPolicy)


def _cancel_all_tasks(loop: asyncio.AbstractEventLoop) -> None:
    to_cancel = asyncio.all_tasks(loop)
    if not to_cancel:
        return
    for task in to_cancel:
        task.cancel()
    loop.run_until_complete(asyncio.gather(*to_cancel, return_exceptions=True))
    for task in to_cancel:
        if task.cancelled():
            continue
        if task.exception() is not None:
            loop.call_exception_handler(
                {
                    "message": "unhandled exception during data_bridge.pyloop.run() shutdown",
                    "exception": task.exception(),
                    "task": task,
                }
            )


def run(main: Coroutine[Any, Any, _T], *, debug: Optional[bool] = None) -> _T:
    """Run the coroutine ``main`` on a new PyLoop and return its result, as
    asyncio.run() does (tasks left are cancelled, async generators and the
    default executor shut down, the loop closed)."""
    if sys.version_info >= (3, 12):
        return asyncio.run(main, debug=debug, loop_factory=new_event_loop)
    if sys.version_info >= (3, 11):
        with asyncio.Runner(debug=debug, loop_factory=new_event_loop) as runner:
            return runner.run(main)
    if asyncio.events._get_running_loop() is not None:
        raise RuntimeError("asyncio.run() cannot be called from a running event loop")
    if not asyncio.iscoroutine(main):
        raise ValueError(f"a coroutine was expected, got {main!r}")
    loop = new_event_loop()
    try:
        asyncio.set_event_loop(loop)
        if debug is not None:
            loop.set_debug(debug)
        return loop.run_until_complete(main)
    finally:
        try:
            _cancel_all_tasks(loop)
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.run_until_complete(loop.shutdown_default_executor())
        finally:
            asyncio.set_event_loop(None)
            loop.close()

"""data_bridge.pyloop: a drop-in asyncio event loop whose engine is C.

    import asyncio, data_bridge.pyloop
    data_bridge.pyloop.run(main())        # like asyncio.run, on a PyLoop
    asyncio.run(main(), loop_factory=data_bridge.pyloop.new_event_loop)  # 3.12+
    with asyncio.Runner(loop_factory=data_bridge.pyloop.new_event_loop) as r:  # 3.11+
        r.run(main())

install(), is_installed() and EventLoopPolicy use asyncio's policy system,
deprecated from Python 3.14 (gone in 3.16): they warn when asyncio's own
policy calls do.

Typed (PEP 561): py.typed, with stubs for the C module and _loop.
"""
from __future__ import annotations

import asyncio
import sys
import warnings
from typing import TYPE_CHECKING, Any, Coroutine, Optional, TypeVar

from . import _pyloop
from . import _loop
from ._loop import Loop, PyLoop, new_event_loop

if sys.version_info >= (3, 14):
    # 3.14 keeps asyncio's policy functions in asyncio.__all__ but drops the
    # policy classes, so that `import *` does not warn: the same here.
    __all__: tuple[str, ...] = ("PyLoop", "Loop", "new_event_loop", "run", "build_info")
    if hasattr(_loop, "EventLoopPolicy"):  # 3.16 removes asyncio's policies, and ours
        __all__ += ("install", "is_installed")
    if TYPE_CHECKING:
        from ._loop import EventLoopPolicy as EventLoopPolicy
else:
    from ._loop import EventLoopPolicy

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


# asyncio's policy system: 3.14 deprecates get_event_loop_policy(),
# set_event_loop_policy() and the public policy classes (each call, each
# access of asyncio.DefaultEventLoopPolicy warns), 3.16 removes them.
# install(), is_installed() and EventLoopPolicy wrap exactly those, so they
# warn exactly then, with asyncio's DeprecationWarning pointing at their
# caller (asyncio's stacklevel), and reach the policy through the
# undeprecated helpers asyncio itself uses: the package never calls a
# deprecated asyncio API.
def _deprecated(name: str) -> None:
    # warnings._deprecated's message; stacklevel 3 is the caller of the
    # deprecated function (or of the module attribute access).
    warnings.warn(
        f"{name!r} is deprecated and slated for removal in Python 3.16; "
        "use asyncio.run(main(), loop_factory=data_bridge.pyloop.new_event_loop), "
        "asyncio.Runner(loop_factory=...) or data_bridge.pyloop.run(main())",
        DeprecationWarning,
        stacklevel=3,
    )


if sys.version_info >= (3, 14) and hasattr(_loop, "EventLoopPolicy"):

    def __getattr__(name: str) -> Any:
        # asyncio.__getattr__ warns on asyncio.DefaultEventLoopPolicy.
        if name == "EventLoopPolicy":
            _deprecated("data_bridge.pyloop.EventLoopPolicy")
            return _loop.EventLoopPolicy
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

    def install() -> None:
        """Make PyLoop the loop of every asyncio.new_event_loop()/asyncio.run()
        (deprecated, as asyncio.set_event_loop_policy() is)."""
        _deprecated("data_bridge.pyloop.install")
        asyncio.events._set_event_loop_policy(_loop.EventLoopPolicy())

    def is_installed() -> bool:
        """True when the current asyncio policy makes PyLoop loops
        (deprecated, as asyncio.get_event_loop_policy() is)."""
        _deprecated("data_bridge.pyloop.is_installed")
        return isinstance(asyncio.events._get_event_loop_policy(), _loop.EventLoopPolicy)

elif sys.version_info < (3, 14):

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

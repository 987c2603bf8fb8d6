"""Types of data_bridge.pyloop._loop (a stub: PEP 561, read by type checkers)."""
from asyncio import unix_events

from . import _pyloop

__all__ = ("PyLoop", "Loop", "EventLoopPolicy", "new_event_loop")

class PyLoop(_pyloop.Loop, unix_events._UnixSelectorEventLoop):
    """A drop-in asyncio event loop whose engine is C (see build_info())."""

    def __init__(self, selector: None = None) -> None: ...

Loop = PyLoop

class EventLoopPolicy(unix_events._UnixDefaultEventLoopPolicy):
    """asyncio's default Unix policy, making PyLoop loops."""

def new_event_loop() -> PyLoop:
    """Return a new PyLoop."""

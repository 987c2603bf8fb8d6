"""The C engine of data_bridge.pyloop (a stub: PEP 561, read by type checkers).

Loop is the C base class of PyLoop (see _loop.pyi); only what it adds to
asyncio's AbstractEventLoop is declared here: its scheduling methods keep
asyncio's own signatures, through PyLoop's asyncio base classes.
"""
import contextvars
from typing import Any, Callable, Dict, Optional, Tuple, TypedDict

from typing_extensions import disjoint_base

class _BuildInfo(TypedDict):
    phase: str
    batch_limit: int
    wait_strategy: str
    call_soon_path: str
    version: str
    compiler: str

def build_info() -> _BuildInfo:
    """What this engine was compiled as: phase, batch limit, wait strategy."""

@disjoint_base
class Handle:
    """A callback scheduled by call_soon (asyncio.Handle's public surface)."""

    def cancel(self) -> None: ...
    def cancelled(self) -> bool: ...
    def get_context(self) -> contextvars.Context: ...
    @property
    def _callback(self) -> Optional[Callable[..., object]]: ...
    @property
    def _args(self) -> Optional[Tuple[Any, ...]]: ...

@disjoint_base
class TimerHandle(Handle):
    """A callback scheduled by call_later/call_at (asyncio.TimerHandle's)."""

    def when(self) -> float: ...

@disjoint_base
class Loop:
    """The C engine; PyLoop puts it first in its MRO."""

    def stats(self) -> Dict[str, int]:
        """The engine's counters (iterations, callbacks_run, timers_fired, ...)."""

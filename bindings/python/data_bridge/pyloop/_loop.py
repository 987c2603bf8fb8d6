"""PyLoop: asyncio's Unix selector event loop with its engine replaced by C.

asyncio's wide API (servers, streams, datagrams, pipes, subprocesses,
signals, SSL, sendfile, executors, DNS) is inherited from
``asyncio.unix_events._UnixSelectorEventLoop``; scheduling, time, the run
loop, stop and fd watching come from the C type ``_pyloop.Loop``, which is
first in the method resolution order.
"""
import asyncio
import collections.abc
import selectors
import signal
import sys
import threading
import weakref
from asyncio import events, unix_events

from . import _pyloop

__all__ = ("PyLoop", "Loop", "EventLoopPolicy", "new_event_loop")


class _PollerMap(collections.abc.Mapping):
    """{fd: SelectorKey} of the C poller, computed on access."""

    def __init__(self, view):
        self._view = view

    def __getitem__(self, fd):
        return self._view.get_key(fd)

    def __iter__(self):
        loop = self._view._loop()
        return iter(loop._fd_map() if loop is not None else ())

    def __len__(self):
        loop = self._view._loop()
        return len(loop._fd_map()) if loop is not None else 0


class _SelectorView(selectors.BaseSelector):
    """A read-only view of the C poller, for the stdlib code that still reads
    ``loop._selector`` (transport reprs). Registration goes through the loop's
    add_reader/add_writer, never through here."""

    def __init__(self, loop):
        self._loop = weakref.ref(loop)

    def _refuse(self, *args, **kwargs):
        raise RuntimeError("PyLoop's poller is read-only here; use loop.add_reader()/add_writer()")

    register = unregister = modify = _refuse

    def select(self, timeout=None):
        raise RuntimeError("PyLoop's C engine does the polling")

    def get_key(self, fileobj):
        loop = self._loop()
        key = loop._fd_key(fileobj) if loop is not None else None
        if key is None:
            raise KeyError(f"{fileobj!r} is not registered")
        events_mask, reader, writer = key
        fd = fileobj if isinstance(fileobj, int) else fileobj.fileno()
        return selectors.SelectorKey(fileobj, fd, events_mask, (reader, writer))

    def get_map(self):
        return _PollerMap(self)

    def close(self):
        pass


class PyLoop(_pyloop.Loop, unix_events._UnixSelectorEventLoop):
    """A drop-in asyncio event loop whose engine is C (see build_info())."""

    def __init__(self, selector=None):
        if selector is not None:
            raise TypeError("PyLoop polls with its own C engine; it takes no selector")
        self._installed_wakeup_fd = False
        super().__init__(_SelectorView(self))

    # -- the run loop: asyncio's setup and cleanup around the C run --------
    def _run_forever_setup(self):
        self._check_closed()
        self._check_running()
        self._set_coroutine_origin_tracking(self._debug)
        self._old_agen_hooks = sys.get_asyncgen_hooks()
        self._thread_id = threading.get_ident()
        sys.set_asyncgen_hooks(
            firstiter=self._asyncgen_firstiter_hook,
            finalizer=self._asyncgen_finalizer_hook,
        )
        events._set_running_loop(self)
        self._install_wakeup_fd()

    def _install_wakeup_fd(self):
        # A signal can arrive after a callback ran and before the C engine
        # blocks, with no Python bytecode in between to run its handler; its
        # byte on the self-pipe wakes the engine (the way uvloop does it).
        # Only in the main thread, and only if nobody else set a wakeup fd.
        self._installed_wakeup_fd = False
        if self._csock is None or threading.current_thread() is not threading.main_thread():
            return
        try:
            previous = signal.set_wakeup_fd(self._csock.fileno())
        except (ValueError, OSError):
            return
        if previous == -1:
            self._installed_wakeup_fd = True
        elif previous != self._csock.fileno():
            signal.set_wakeup_fd(previous)

    def _uninstall_wakeup_fd(self):
        # Signal handlers added meanwhile keep it (asyncio's own use of it).
        if self._installed_wakeup_fd and not self._signal_handlers:
            current = signal.set_wakeup_fd(-1)
            if current != self._csock.fileno():
                signal.set_wakeup_fd(current)  # someone else's now: keep it
        self._installed_wakeup_fd = False

    def _run_forever_cleanup(self):
        self._uninstall_wakeup_fd()
        self._stopping = False
        self._thread_id = None
        events._set_running_loop(None)
        self._set_coroutine_origin_tracking(False)
        if self._old_agen_hooks is not None:
            sys.set_asyncgen_hooks(*self._old_agen_hooks)
            self._old_agen_hooks = None

    def run_forever(self):
        """Run until stop() is called."""
        self._run_forever_setup()
        try:
            self._run()
        finally:
            self._run_forever_cleanup()

    def close(self):
        if self.is_running():
            raise RuntimeError("Cannot close a running event loop")
        if self.is_closed():
            return
        super().close()
        self._close_core()

    # -- asyncio internals that would append to the (unused) _ready deque --
    def _add_callback(self, handle):
        if not handle._cancelled:
            self.call_soon(handle._run)

    def _add_callback_signalsafe(self, handle):
        self._add_callback(handle)

    def _write_to_self(self):
        # Threadsafe calls wake the C engine through its eventfd; the
        # self-pipe only carries signal numbers now.
        pass

    def __repr__(self):
        return (
            f"<{self.__class__.__name__} running={self.is_running()} "
            f"closed={self.is_closed()} debug={self.get_debug()} "
            f"phase={_pyloop.build_info()['phase']}>"
        )


Loop = PyLoop


class EventLoopPolicy(unix_events.DefaultEventLoopPolicy):
    """asyncio's default Unix policy, making PyLoop loops."""

    _loop_factory = PyLoop


def new_event_loop():
    """Return a new PyLoop."""
    return PyLoop()

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
from asyncio import events, selector_events, unix_events

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


# asyncio's transports read with sock.recv(max_size): a fresh 256 KiB bytes
# object per read, which glibc serves with mmap and, once shrunk to what was
# read, hands back with munmap: two extra system calls and page faults on
# every read. PyLoop's transports read into one buffer per loop and copy out
# exactly what arrived, as uvloop does; the rest of each method is asyncio's
# own, line for line (identical in 3.9 to 3.13).
_RECV_BUFFER_SIZE = max(selector_events._SelectorSocketTransport.max_size,
                        selector_events._SelectorDatagramTransport.max_size)


class _SocketTransport(selector_events._SelectorSocketTransport):

    def _read_ready__data_received(self):
        if self._conn_lost:
            return
        buffer = self._loop._recv_buffer(self.max_size)
        if buffer is None:
            return super()._read_ready__data_received()
        try:
            nbytes = self._sock.recv_into(buffer, self.max_size)
        except (BlockingIOError, InterruptedError):
            return
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            self._fatal_error(exc, 'Fatal read error on socket transport')
            return

        if not nbytes:
            self._read_ready__on_eof()
            return

        try:
            self._protocol.data_received(buffer[:nbytes].tobytes())
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            self._fatal_error(
                exc, 'Fatal error: protocol.data_received() call failed.')


class _DatagramTransport(selector_events._SelectorDatagramTransport):

    def _read_ready(self):
        if self._conn_lost:
            return
        buffer = self._loop._recv_buffer(self.max_size)
        if buffer is None:
            return super()._read_ready()
        try:
            nbytes, addr = self._sock.recvfrom_into(buffer, self.max_size)
        except (BlockingIOError, InterruptedError):
            pass
        except OSError as exc:
            self._protocol.error_received(exc)
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            self._fatal_error(exc, 'Fatal read error on datagram transport')
        else:
            self._protocol.datagram_received(buffer[:nbytes].tobytes(), addr)


class PyLoop(_pyloop.Loop, unix_events._UnixSelectorEventLoop):
    """A drop-in asyncio event loop whose engine is C (see build_info())."""

    def __init__(self, selector=None):
        if selector is not None:
            raise TypeError("PyLoop polls with its own C engine; it takes no selector")
        self._installed_wakeup_fd = False
        self._recv_view = None
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
        self._recv_view = None

    # -- transports: asyncio's, reading into one buffer (see above) ---------
    def _recv_buffer(self, size):
        """The loop's read buffer, or None when a read of `size` bytes must
        go the stock way: recv(0) and recv_into(buffer, 0) differ, and a size
        that is not an int fails in recv() with asyncio's own error."""
        if type(size) is not int or not 0 < size <= _RECV_BUFFER_SIZE:
            return None
        if self._recv_view is None:
            self._recv_view = memoryview(bytearray(_RECV_BUFFER_SIZE))
        return self._recv_view

    def _make_socket_transport(self, sock, protocol, waiter=None, *, extra=None, server=None):
        if sys.version_info >= (3, 12):
            self._ensure_fd_no_transport(sock)
        return _SocketTransport(self, sock, protocol, waiter, extra, server)

    def _make_datagram_transport(self, sock, protocol, address=None, waiter=None, extra=None):
        if sys.version_info >= (3, 12):
            self._ensure_fd_no_transport(sock)
        return _DatagramTransport(self, sock, protocol, address, waiter, extra)

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

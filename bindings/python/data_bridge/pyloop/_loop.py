"""PyLoop: asyncio's Unix selector event loop with its engine replaced by C.

asyncio's wide API (servers, streams, datagrams, pipes, subprocesses,
signals, SSL, sendfile, executors, DNS) is inherited from
``asyncio.unix_events._UnixSelectorEventLoop``; scheduling, time, the run
loop, stop and fd watching come from the C type ``_pyloop.Loop``, which is
first in the method resolution order.
"""
import collections.abc
import os
import selectors
import signal
import sys
import threading
import types
import weakref
from asyncio import base_events, constants, events, selector_events, sslproto, trsock, unix_events

from . import _pyloop

# The TLS timeouts asyncio's _accept_connection takes after the backlog
# (ssl_handshake_timeout; from 3.11 ssl_shutdown_timeout too), with its
# defaults: _start_serving is called back with all of them, as asyncio does.
_ACCEPT_TIMEOUTS = selector_events.BaseSelectorEventLoop._accept_connection.__defaults__[3:]
# 3.15 passes the server's context after them (context=None): where it is.
_ACCEPT_CODE = selector_events.BaseSelectorEventLoop._accept_connection.__code__
_ACCEPT_CONTEXT = (_ACCEPT_CODE.co_varnames[6:_ACCEPT_CODE.co_argcount] + ("context",)).index("context")
_ACCEPT_TIMEOUT_NAMES = _ACCEPT_CODE.co_varnames[6:_ACCEPT_CODE.co_argcount]


def _accepts_beyond_backlog():
    """How many accepts asyncio's accept loop makes per readiness beyond
    the backlog: 0, or 1 in the bug-fix releases (3.13.x, 3.14+) whose loop
    is range(backlog + 1). Asked of asyncio's own _accept_connection, with
    a backlog of 0 and a stand-in socket that has nothing to accept."""
    class Sock:
        accepts = 0

        def accept(self):
            self.accepts += 1
            raise BlockingIOError

    sock = Sock()
    selector_events.BaseSelectorEventLoop._accept_connection(None, None, sock, None, None, 0)
    return sock.accepts


_ACCEPTS_BEYOND_BACKLOG = _accepts_beyond_backlog()

# The TLS protocol every entry point makes: the C one, asyncio 3.11+'s
# sslproto on every interpreter (on 3.10, whose asyncio has the older one,
# made on 3.11's bases; asyncio's own there only if the build's C TLS is not
# complete: tls_transport.c's older_types).
_SSLProtocol = getattr(_pyloop, "SSLProtocol", sslproto.SSLProtocol)


def _with_sslprotocol(function):
    """asyncio's own `function` (this interpreter's code, signature and
    checks) with _SSLProtocol where it names sslproto.SSLProtocol."""
    shim = types.SimpleNamespace(**vars(sslproto))
    shim.SSLProtocol = _SSLProtocol
    copy = types.FunctionType(function.__code__, dict(function.__globals__, sslproto=shim), function.__name__,
                              function.__defaults__, function.__closure__)
    copy.__kwdefaults__ = function.__kwdefaults__
    copy.__qualname__ = function.__qualname__
    copy.__doc__ = function.__doc__
    return copy

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
        registered, fd, events_mask, reader, writer = key
        return selectors.SelectorKey(registered, fd, events_mask, (reader, writer))

    def get_map(self):
        return _PollerMap(self)

    def close(self):
        pass


class PyLoop(_pyloop.Loop, unix_events._UnixSelectorEventLoop):
    """A drop-in asyncio event loop whose engine is C (see build_info())."""

    def __init__(self, selector=None):
        if selector is not None:
            raise TypeError("PyLoop polls with its own C engine; it takes no selector")
        super().__init__(_SelectorView(self))
        # The self-pipe carries only signal wakeups, written while the loop
        # blocks (see _run_forever_setup): a busy iteration need not look at
        # it, until add_signal_handler makes it asyncio's wakeup fd.
        self._set_fd_quiet(self._ssock.fileno(), True)

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
        # A full self-pipe (signals during a long callback) loses nothing, as
        # the handlers' trip flags are set anyway: no warning for it, and a
        # forked child drops the fd (_drop_inherited_wakeup_fd).
        global _wakeup_fd_owner
        self._installed_wakeup_fd = False
        if self._csock is None or threading.current_thread() is not threading.main_thread():
            return
        try:
            previous = signal.set_wakeup_fd(self._csock.fileno(), warn_on_full_buffer=False)
        except (ValueError, OSError):
            return
        if previous == -1:
            self._installed_wakeup_fd = True
            _wakeup_fd_owner = self
        elif previous != self._csock.fileno():
            signal.set_wakeup_fd(previous)  # someone else's: keep it

    def _uninstall_wakeup_fd(self):
        # Signal handlers added meanwhile keep it (asyncio's own use of it).
        global _wakeup_fd_owner
        if self._installed_wakeup_fd and not self._signal_handlers:
            current = signal.set_wakeup_fd(-1)
            if current != self._csock.fileno():
                signal.set_wakeup_fd(current)  # someone else's now: keep it
        self._installed_wakeup_fd = False
        if _wakeup_fd_owner is self:
            _wakeup_fd_owner = None

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

    def add_signal_handler(self, sig, callback, *args):
        super().add_signal_handler(sig, callback, *args)
        # asyncio's handlers make the self-pipe the wakeup fd for good:
        # a signal's byte must now be seen by a busy iteration too.
        self._set_fd_quiet(self._ssock.fileno(), False)

    def remove_signal_handler(self, sig):
        removed = super().remove_signal_handler(sig)
        if not self._signal_handlers and self._ssock is not None:
            self._set_fd_quiet(self._ssock.fileno(), True)
        return removed

    def close(self):
        if self.is_running():
            raise RuntimeError("Cannot close a running event loop")
        if self.is_closed():
            return
        super().close()
        self._close_core()

    # -- the accept loop: in C for plain sockets (_pyloop.accept_connections)
    def _accept_connection(self, protocol_factory, sock, sslcontext=None, server=None, backlog=100, *timeouts,
                           **kw_timeouts):
        # Debug mode (asyncio logs each connection) and TLS with asyncio's
        # own sslproto (3.10 without the C TLS) take asyncio's own path.
        if self._debug or (sslcontext is not None and _SSLProtocol is sslproto.SSLProtocol):
            return super()._accept_connection(protocol_factory, sock, sslcontext, server, backlog, *timeouts,
                                              **kw_timeouts)
        if not kw_timeouts:
            timeouts = timeouts + _ACCEPT_TIMEOUTS[len(timeouts):]
        context = kw_timeouts.get("context", timeouts[_ACCEPT_CONTEXT] if _ACCEPT_CONTEXT < len(timeouts) else None)
        tls = None
        if sslcontext:
            # _accept_connection2's TLS keywords: ssl_handshake_timeout (and
            # ssl_shutdown_timeout), as this asyncio passes them on.
            given = dict(zip(_ACCEPT_TIMEOUT_NAMES, timeouts + _ACCEPT_TIMEOUTS[len(timeouts):]), **kw_timeouts)
            tls = (sslcontext, {name: given[name] for name in _ACCEPT_TIMEOUT_NAMES if name != "context"})
        left, accepted = backlog + _ACCEPTS_BEYOND_BACKLOG, None
        while True:
            shortage = _pyloop.accept_connections(self, protocol_factory, sock, server, left, accepted, context, tls)
            if shortage is None:
                return None
            # Out of a system resource (EMFILE, ENFILE, ENOBUFS, ENOMEM): as
            # asyncio, report it, stop watching, try again in a while, and
            # go on through the backlog; the connections accepted so far
            # get their protocols after it, as asyncio's tasks do.
            exc, left, accepted = shortage
            self.call_exception_handler({
                'message': 'socket.accept() out of system resource',
                'exception': exc,
                'socket': trsock.TransportSocket(sock),
            })
            self._remove_reader(sock.fileno())
            self.call_later(constants.ACCEPT_RETRY_DELAY, self._start_serving, protocol_factory, sock, sslcontext,
                            server, backlog, *timeouts, **kw_timeouts)

    # -- transports: the C ones, on the engine's stream layer ---------------
    def _make_socket_transport(self, sock, protocol, waiter=None, *, extra=None, server=None, context=None):
        # context: 3.15's, the Context every callback of the transport runs in.
        return _pyloop.SocketTransport(self, sock, protocol, waiter, extra, server, context)

    def _make_datagram_transport(self, sock, protocol, address=None, waiter=None, extra=None):
        return _pyloop.DatagramTransport(self, sock, protocol, address, waiter, extra)

    def _make_read_pipe_transport(self, pipe, protocol, waiter=None, extra=None):
        return _pyloop.ReadPipeTransport(self, pipe, protocol, waiter, extra)

    def _make_write_pipe_transport(self, pipe, protocol, waiter=None, extra=None):
        return _pyloop.WritePipeTransport(self, pipe, protocol, waiter, extra)

    def _make_ssl_transport(self, rawsock, protocol, sslcontext, waiter=None, *, server_side=False,
                            server_hostname=None, extra=None, server=None, context=None, **timeouts):
        # asyncio's, with the C SSLProtocol (asyncio's 3.11+ sslproto in C,
        # on 3.10 too) over the C transport. `timeouts` are
        # ssl_handshake_timeout (and, from 3.11, ssl_shutdown_timeout), as
        # this interpreter's asyncio passes them: 3.10's callers pass no
        # ssl_shutdown_timeout, so the C protocol's default (3.11's
        # SSL_SHUTDOWN_TIMEOUT) holds there.
        ssl_protocol = _SSLProtocol(self, protocol, sslcontext, waiter, server_side, server_hostname, **timeouts)
        _pyloop.SocketTransport(self, rawsock, ssl_protocol, extra=extra, server=server, context=context)
        return ssl_protocol._app_transport

    if _SSLProtocol is not sslproto.SSLProtocol:
        # asyncio's start_tls, each version's (its signature: 3.10's has no
        # ssl_shutdown_timeout), making the C SSLProtocol.
        start_tls = _with_sslprotocol(base_events.BaseEventLoop.start_tls)

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


# unix_events._UnixDefaultEventLoopPolicy is the class every version names:
# 3.14 renamed its public alias DefaultEventLoopPolicy to
# _DefaultEventLoopPolicy (the policy system is deprecated, gone in 3.16:
# EventLoopPolicy lives as long as asyncio's policies do).
if hasattr(unix_events, "_UnixDefaultEventLoopPolicy"):
    class EventLoopPolicy(unix_events._UnixDefaultEventLoopPolicy):
        """asyncio's default Unix policy, making PyLoop loops."""

        _loop_factory = PyLoop
else:
    __all__ = ("PyLoop", "Loop", "new_event_loop")


def new_event_loop():
    """Return a new PyLoop."""
    return PyLoop()


# The running PyLoop whose self-pipe it made the signal wakeup fd, if any.
_wakeup_fd_owner = None


def _drop_inherited_wakeup_fd():
    # A child forked while a PyLoop runs must not write its own signals into
    # the parent's self-pipe, or, once closed, into whatever file takes that
    # fd number: asyncio sets no wakeup fd without signal handlers.
    global _wakeup_fd_owner
    owner, _wakeup_fd_owner = _wakeup_fd_owner, None
    if owner is not None:
        owner._installed_wakeup_fd = False
        signal.set_wakeup_fd(-1)


os.register_at_fork(after_in_child=_drop_inherited_wakeup_fd)

"""The server's accept loop (create_server / start_server), differential.

PyLoop accepts plain (not TLS) connections in C (_pyloop.accept_connections);
asyncio accepts in Python and builds each connection in a task. What a
program can observe must be the same: every pending connection is served,
each transport reports its peer, a protocol factory that fails drops only
its own connection, and running out of file descriptors is reported and
retried as asyncio does.
"""

import asyncio
import errno
import socket
import unittest
import warnings

from base import TIMEOUT, both_loops


class _Recorder(asyncio.Protocol):
    def __init__(self, made):
        self.made = made
        self.transport = None

    def connection_made(self, transport):
        self.transport = transport
        self.made.append(self)


class _FakeListeningSocket:
    """Just what the accept loop calls: accept() fails with `error`."""

    def __init__(self, error):
        self.error = error
        self.accepts = 0

    def accept(self):
        self.accepts += 1
        raise OSError(self.error, "simulated")

    def fileno(self):
        return 1000

    # trsock.TransportSocket reads these for its repr
    family = socket.AF_INET
    type = socket.SOCK_STREAM
    proto = 0


@both_loops
class _Accept:
    def wait_for(self, predicate):
        async def poll():
            while not predicate():
                await asyncio.sleep(0)
        self.loop.run_until_complete(asyncio.wait_for(poll(), TIMEOUT))

    def start_server(self, factory):
        server = self.loop.run_until_complete(self.loop.create_server(factory, "127.0.0.1", 0))
        return server, server.sockets[0].getsockname()

    def close_server(self, server):
        server.close()
        self.loop.run_until_complete(server.wait_closed())

    def connect(self, address):
        client = socket.create_connection(address, timeout=TIMEOUT)
        self.addCleanup(client.close)
        return client

    def test_every_pending_connection_is_served(self):
        made = []
        server, address = self.start_server(lambda: _Recorder(made))
        clients = [self.connect(address) for _ in range(5)]  # all queued before the loop runs
        self.wait_for(lambda: len(made) == 5)
        peers = sorted(p.transport.get_extra_info("peername") for p in made)
        self.assertEqual(peers, sorted(c.getsockname() for c in clients))
        for protocol in made:
            sock = protocol.transport.get_extra_info("socket")
            self.assertEqual(type(sock).__name__, "TransportSocket")
            self.assertFalse(protocol.transport.is_closing())
            protocol.transport.close()
        self.close_server(server)
        for client in clients:
            self.assertEqual(client.recv(1), b"")

    def test_nodelay_follows_the_listening_socket_proto(self):
        # asyncio sets TCP_NODELAY only on a socket whose proto is
        # IPPROTO_TCP: create_server's own sockets (getaddrinfo gives it),
        # not a listener made with socket.socket() (proto 0), nor what it
        # accepts.
        results = {}
        for label in ("made by create_server", "proto 0"):
            made = []
            if label == "proto 0":
                listener = socket.socket()
                listener.bind(("127.0.0.1", 0))
                server = self.loop.run_until_complete(
                    self.loop.create_server(lambda: _Recorder(made), sock=listener))
            else:
                server = self.loop.run_until_complete(
                    self.loop.create_server(lambda: _Recorder(made), "127.0.0.1", 0))
            self.connect(server.sockets[0].getsockname())
            self.wait_for(lambda: len(made) == 1)
            sock = made[0].transport.get_extra_info("socket")
            results[label] = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
            made[0].transport.close()
            self.close_server(server)
        self.assertEqual(results, {"made by create_server": True, "proto 0": False})

    def test_failing_factory_drops_only_its_connection(self):
        made, calls, handled = [], [], []
        self.loop.set_exception_handler(lambda loop, context: handled.append(context))

        def factory():
            calls.append(1)
            if len(calls) == 1:
                raise ValueError("no protocol for you")
            return _Recorder(made)

        server, address = self.start_server(factory)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ResourceWarning)  # the dropped socket, on both loops
            first = self.connect(address)
            self.wait_for(lambda: len(calls) == 1)
            self.assertEqual(first.recv(1), b"")  # closed once dropped
            second = self.connect(address)
            self.wait_for(lambda: len(made) == 1)
        self.assertEqual(made[0].transport.get_extra_info("peername"), second.getsockname())
        self.assertEqual(handled, [])  # outside debug mode, asyncio says nothing
        made[0].transport.close()
        self.close_server(server)

    def stock_accepts(self, error, backlog):
        """How many accepts stock asyncio's accept loop makes in one
        readiness when every accept() fails with `error` (an errno): the
        running interpreter's, which the bug-fix releases changed (3.13.x,
        3.14+: backlog + 1 accepts, and past ConnectionAbortedError)."""
        stock = asyncio.SelectorEventLoop()
        try:
            stock.set_exception_handler(lambda loop, context: None)
            stock._remove_reader = lambda fd: None
            stock.call_later = lambda delay, callback, *args: None
            sock = _FakeListeningSocket(error)
            try:
                stock._accept_connection(asyncio.Protocol, sock, None, None, backlog)
            except OSError:
                pass
            finally:
                del stock._remove_reader, stock.call_later
            return sock.accepts
        finally:
            stock.close()

    def test_out_of_file_descriptors_is_reported_and_retried(self):
        accepts = self.stock_accepts(errno.EMFILE, 3)
        self.assertIn(accepts, (3, 4))  # the backlog, or one more
        handled, removed, later = [], [], []
        self.loop.set_exception_handler(lambda loop, context: handled.append(context))
        self.loop._remove_reader = lambda fd: removed.append(fd)
        self.loop.call_later = lambda delay, callback, *args: later.append((delay, args))
        sock = _FakeListeningSocket(errno.EMFILE)
        try:
            self.loop._accept_connection(asyncio.Protocol, sock, None, None, 3)
        finally:
            del self.loop._remove_reader, self.loop.call_later
        # asyncio goes on through the backlog, reporting each failure.
        self.assertEqual(sock.accepts, accepts)
        self.assertEqual(len(handled), accepts)
        for context in handled:
            self.assertEqual(context["message"], "socket.accept() out of system resource")
            self.assertIsInstance(context["exception"], OSError)
            self.assertEqual(context["exception"].errno, errno.EMFILE)
            self.assertEqual(type(context["socket"]).__name__, "TransportSocket")
        self.assertEqual(removed, [1000] * accepts)
        self.assertEqual(len(later), accepts)
        for delay, args in later:
            self.assertEqual(delay, asyncio.constants.ACCEPT_RETRY_DELAY)
            self.assertEqual(args[:5], (asyncio.Protocol, sock, None, None, 3))
            self.assertEqual(len(args), 5 + len(asyncio.selector_events.BaseSelectorEventLoop._accept_connection.__defaults__[3:]))

    def test_aborted_connections_end_or_skip_as_asyncio(self):
        # ConnectionAbortedError: asyncio's accept loop returned, as for an
        # empty backlog; the bug-fix releases discard that connection and
        # go on (through backlog + 1 accepts). Nothing is reported.
        accepts = self.stock_accepts(errno.ECONNABORTED, 3)
        self.assertIn(accepts, (1, 4))
        handled = []
        self.loop.set_exception_handler(lambda loop, context: handled.append(context))
        sock = _FakeListeningSocket(errno.ECONNABORTED)
        self.assertIsNone(self.loop._accept_connection(asyncio.Protocol, sock, None, None, 3))
        self.assertEqual(sock.accepts, accepts)
        self.assertEqual(handled, [])

    def test_other_accept_errors_reach_the_exception_handler(self):
        sock = _FakeListeningSocket(errno.EINVAL)
        with self.assertRaises(OSError) as caught:
            self.loop._accept_connection(asyncio.Protocol, sock)
        self.assertEqual(caught.exception.errno, errno.EINVAL)

    def test_empty_backlog_ends_the_loop_quietly(self):
        listener = socket.socket()
        self.addCleanup(listener.close)
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        listener.setblocking(False)
        self.assertIsNone(self.loop._accept_connection(asyncio.Protocol, listener))


if __name__ == "__main__":
    unittest.main()

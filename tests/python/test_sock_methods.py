"""loop.sock_* methods: sock_recv, sock_recv_into, sock_sendall, sock_accept,
sock_connect and, from 3.11, sock_recvfrom, sock_recvfrom_into, sock_sendto.

Each body runs on stock asyncio and on PyLoop (whose methods are C): the
immediate and the would-block path of each, cancellation (the watcher goes,
nothing runs later), the errors asyncio raises, partial sends, refused
connections, the coroutine protocol and reference counts.
"""

import asyncio
import errno
import gc
import os
import re
import select
import selectors
import socket
import ssl
import sys
import unittest
import warnings
from unittest import mock

import base

HOST = "127.0.0.1"
HAS_DATAGRAM_METHODS = sys.version_info >= (3, 11)


class _CountingSocket(socket.socket):
    """A socket that counts the calls asyncio makes on it."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.calls = {}

    def _count(self, name):
        self.calls[name] = self.calls.get(name, 0) + 1

    def recv(self, *args):
        self._count("recv")
        return super().recv(*args)

    def send(self, *args):
        self._count("send")
        return super().send(*args)


def _adopt(sock, cls=_CountingSocket):
    """The same connection as a `cls` socket."""
    return cls(sock.family, sock.type, sock.proto, sock.detach())


class _SockBase:

    def setUp(self):
        super().setUp()
        self._sockets = []

    def tearDown(self):
        for s in self._sockets:
            s.close()
        super().tearDown()

    def keep(self, *socks):
        self._sockets.extend(socks)
        return socks if len(socks) > 1 else socks[0]

    def pair(self, cls=None):
        a, b = socket.socketpair()
        if cls is not None:
            a, b = _adopt(a, cls), _adopt(b, cls)
        a.setblocking(False)
        b.setblocking(False)
        return self.keep(a, b)

    def listener(self, family=socket.AF_INET):
        s = socket.socket(family, socket.SOCK_STREAM)
        self.keep(s)
        s.bind((HOST, 0))
        s.listen(8)
        s.setblocking(False)
        return s

    def udp(self):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.keep(s)
        s.bind((HOST, 0))
        s.setblocking(False)
        return s

    def watched(self, fileobj):
        """The selector events registered for fileobj (0: none)."""
        fd = fileobj if isinstance(fileobj, int) else fileobj.fileno()
        key = self.loop._selector.get_map().get(fd)
        return key.events if key is not None else 0

    async def iterations(self, n=5):
        for _ in range(n):
            await asyncio.sleep(0)

    async def started(self, coro):
        """A task running `coro`, started far enough to be waiting."""
        task = asyncio.ensure_future(coro)
        await self.iterations(2)
        return task


# --------------------------------------------------------------------------
# The immediate and the would-block paths

@base.both_loops
class _SockImmediateAndWaiting(_SockBase):

    def test_recv_immediate_makes_one_call_and_no_watcher(self):
        a, b = self.pair(_CountingSocket)

        async def body():
            a.send(b"ready")
            await self.iterations(1)
            data = await self.loop.sock_recv(b, 100)
            self.assertEqual(data, b"ready")
            self.assertEqual(b.calls["recv"], 1)
            self.assertEqual(self.watched(b), 0)

        self.run_coro(body())

    def test_recv_waits_for_data(self):
        a, b = self.pair(_CountingSocket)

        async def body():
            task = await self.started(self.loop.sock_recv(b, 100))
            self.assertFalse(task.done())
            self.assertEqual(self.watched(b), selectors.EVENT_READ)
            a.send(b"later")
            self.assertEqual(await task, b"later")
            # The first attempt, then one when readable.
            self.assertEqual(b.calls["recv"], 2)
            await self.iterations(1)
            self.assertEqual(self.watched(b), 0)

        self.run_coro(body())

    def test_recv_eof(self):
        a, b = self.pair()

        async def body():
            task = await self.started(self.loop.sock_recv(b, 100))
            a.shutdown(socket.SHUT_WR)
            self.assertEqual(await task, b"")

        self.run_coro(body())

    def test_recv_into_immediate_and_waiting(self):
        a, b = self.pair()

        async def body():
            buf = bytearray(10)
            a.send(b"abc")
            await self.iterations(1)
            self.assertEqual(await self.loop.sock_recv_into(b, buf), 3)
            self.assertEqual(bytes(buf[:3]), b"abc")
            view = memoryview(buf)[3:]
            task = await self.started(self.loop.sock_recv_into(b, view))
            self.assertEqual(self.watched(b), selectors.EVENT_READ)
            a.send(b"defgh")
            self.assertEqual(await task, 5)
            self.assertEqual(bytes(buf[:8]), b"abcdefgh")

        self.run_coro(body())

    def test_sendall_immediate(self):
        a, b = self.pair(_CountingSocket)

        async def body():
            self.assertIsNone(await self.loop.sock_sendall(a, b"hello"))
            self.assertEqual(a.calls["send"], 1)
            self.assertEqual(self.watched(a), 0)
            self.assertEqual(await self.loop.sock_recv(b, 100), b"hello")
            # bytearray and memoryview too; an empty send is one call.
            await self.loop.sock_sendall(a, bytearray(b"ba"))
            await self.loop.sock_sendall(a, memoryview(b"xmvx")[1:3])
            await self.loop.sock_sendall(a, b"")
            self.assertEqual(await self.loop.sock_recv(b, 100), b"bamv")

        self.run_coro(body())

    def test_sendall_large_payload_needs_several_sends(self):
        a, b = self.pair(_CountingSocket)
        a.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
        payload = os.urandom(1 << 16) * 32  # 2 MiB

        async def reader():
            chunks = []
            got = 0
            while got < len(payload):
                chunk = await self.loop.sock_recv(b, 65536)
                if not chunk:
                    break
                chunks.append(chunk)
                got += len(chunk)
            return b"".join(chunks)

        async def body():
            read = asyncio.ensure_future(reader())
            send = asyncio.ensure_future(self.loop.sock_sendall(a, payload))
            await self.iterations(2)
            self.assertFalse(send.done())
            self.assertEqual(self.watched(a), selectors.EVENT_WRITE)
            self.assertIsNone(await send)
            self.assertEqual(await read, payload)
            self.assertGreater(a.calls["send"], 2)
            await self.iterations(1)
            self.assertEqual(self.watched(a), 0)

        self.run_coro(body())

    def test_accept_immediate(self):
        listener = self.listener()

        async def body():
            client = self.keep(socket.create_connection(listener.getsockname()))
            await self.iterations(1)
            conn, address = await self.loop.sock_accept(listener)
            self.keep(conn)
            self.assertEqual(conn.gettimeout(), 0)
            self.assertEqual(address, client.getsockname())
            self.assertEqual(self.watched(listener), 0)

        self.run_coro(body())

    def test_accept_waits(self):
        listener = self.listener()

        async def body():
            task = await self.started(self.loop.sock_accept(listener))
            self.assertEqual(self.watched(listener), selectors.EVENT_READ)
            client = self.keep(socket.socket())
            client.setblocking(False)
            await self.loop.sock_connect(client, listener.getsockname())
            conn, address = await task
            self.keep(conn)
            self.assertIsInstance(conn, socket.socket)
            self.assertEqual(conn.gettimeout(), 0)
            self.assertEqual(address, client.getsockname())
            await self.loop.sock_sendall(client, b"ping")
            self.assertEqual(await self.loop.sock_recv(conn, 10), b"ping")
            await self.iterations(1)
            self.assertEqual(self.watched(listener), 0)

        self.run_coro(body())

    def test_connect_tcp_resolves_and_connects(self):
        listener = self.listener()
        calls = []
        original = self.loop._ensure_resolved

        async def recording(address, **kwargs):
            calls.append((address, sorted(kwargs)))
            return await original(address, **kwargs)

        async def body():
            self.loop._ensure_resolved = recording
            try:
                client = self.keep(socket.socket())
                client.setblocking(False)
                self.assertIsNone(await self.loop.sock_connect(client, listener.getsockname()))
                self.assertEqual(client.getpeername(), listener.getsockname())
            finally:
                del self.loop._ensure_resolved
            self.assertEqual(calls, [(listener.getsockname(), ["family", "loop", "proto", "type"])])
            await self.iterations(1)
            self.assertEqual(self.watched(client), 0)

        self.run_coro(body())

    def test_connect_by_name(self):
        listener = self.listener()

        async def body():
            client = self.keep(socket.socket())
            client.setblocking(False)
            await self.loop.sock_connect(client, ("localhost", listener.getsockname()[1]))
            self.assertEqual(client.getpeername(), listener.getsockname())

        self.run_coro(body())

    def test_connect_unix_is_not_resolved(self):
        with base.tempdir() as path:
            address = os.path.join(path, "sock")
            server = self.keep(socket.socket(socket.AF_UNIX))
            server.bind(address)
            server.listen(1)
            resolved = []

            async def refuse(*args, **kwargs):
                resolved.append(args)
                raise AssertionError("AF_UNIX addresses are not resolved")

            async def body():
                self.loop._ensure_resolved = refuse
                try:
                    client = self.keep(socket.socket(socket.AF_UNIX))
                    client.setblocking(False)
                    await self.loop.sock_connect(client, address)
                    self.assertEqual(client.getpeername(), address)
                finally:
                    del self.loop._ensure_resolved
                self.assertEqual(resolved, [])

            self.run_coro(body())

    def test_connect_refused(self):
        probe = socket.socket()
        probe.bind((HOST, 0))
        port = probe.getsockname()[1]
        probe.close()

        async def body():
            client = self.keep(socket.socket())
            client.setblocking(False)
            with self.assertRaises(ConnectionRefusedError) as caught:
                await self.loop.sock_connect(client, (HOST, port))
            self.assertEqual(caught.exception.errno, errno.ECONNREFUSED)
            self.assertIn(str(caught.exception), (
                "[Errno %d] Connect call failed %s" % (errno.ECONNREFUSED, (HOST, port)),
                "[Errno %d] Connection refused" % errno.ECONNREFUSED))
            await self.iterations(1)
            self.assertEqual(self.watched(client), 0)

        self.run_coro(body())

    @unittest.skipUnless(HAS_DATAGRAM_METHODS, "asyncio has them from 3.11")
    def test_datagrams(self):
        server, client = self.udp(), self.udp()

        async def body():
            # recvfrom: waiting, then immediate.
            task = await self.started(self.loop.sock_recvfrom(server, 100))
            self.assertEqual(self.watched(server), selectors.EVENT_READ)
            self.assertEqual(await self.loop.sock_sendto(client, b"one", server.getsockname()), 3)
            self.assertEqual(await task, (b"one", client.getsockname()))
            client.sendto(b"two", server.getsockname())
            await self.iterations(1)
            self.assertEqual(await self.loop.sock_recvfrom(server, 100), (b"two", client.getsockname()))
            # recvfrom_into: nbytes=0 means len(buf); given, it limits.
            buf = bytearray(8)
            task = await self.started(self.loop.sock_recvfrom_into(server, buf))
            client.sendto(b"three", server.getsockname())
            self.assertEqual(await task, (5, client.getsockname()))
            self.assertEqual(bytes(buf[:5]), b"three")
            client.sendto(b"fourfour", server.getsockname())
            await self.iterations(1)
            self.assertEqual(await self.loop.sock_recvfrom_into(server, buf, 4), (4, client.getsockname()))
            self.assertEqual(bytes(buf[:4]), b"four")
            await self.iterations(1)
            self.assertEqual(self.watched(server), 0)

        self.run_coro(body())

    @unittest.skipUnless(HAS_DATAGRAM_METHODS, "asyncio has them from 3.11")
    def test_sendto_would_block(self):
        # As CPython's test: sendto() raises BlockingIOError until a
        # callback puts the real one back; the watcher then sends.
        server, real = self.udp(), self.udp()

        async def body():
            fake = mock.Mock(real)
            fake.gettimeout = real.gettimeout
            fake.fileno = real.fileno
            fake.sendto.configure_mock(side_effect=BlockingIOError)
            self.loop.call_soon(lambda: setattr(fake, "sendto", real.sendto))
            sent = await self.loop.sock_sendto(fake, b"x" * 100, server.getsockname())
            self.assertEqual(sent, 100)
            data, address = await self.loop.sock_recvfrom(server, 4096)
            self.assertEqual((data, address), (b"x" * 100, real.getsockname()))

        self.run_coro(body())

    def test_zero_size_reads_return_at_once(self):
        # asyncio's sock_recv tries sock.recv(n) first, and socket.recv(0)
        # (recv_into of an empty buffer) asks the kernel nothing: b'' (0) at
        # once, with nothing to read, no watcher, nothing consumed; even on
        # a closed socket.
        a, b = self.pair()

        async def body():
            for start in (lambda: self.loop.sock_recv(b, 0),
                          lambda: self.loop.sock_recv_into(b, bytearray()),
                          lambda: self.loop.sock_recv_into(b, memoryview(bytearray(4))[:0])):
                task = await self.started(start())
                done = task.done()
                if not done:
                    task.cancel()
                self.assertTrue(done, "a zero-size read waited for data")
                self.assertIn(task.result(), (b"", 0))
                self.assertEqual(self.watched(b), 0)
            a.send(b"abc")
            await self.iterations(1)
            self.assertEqual(await self.loop.sock_recv(b, 0), b"")
            self.assertEqual(await self.loop.sock_recv(b, 10), b"abc")
            b.close()
            self.assertEqual(await self.loop.sock_recv(b, 0), b"")
            self.assertEqual(await self.loop.sock_recv_into(b, bytearray()), 0)

        self.run_coro(body())

    @unittest.skipUnless(HAS_DATAGRAM_METHODS, "asyncio has them from 3.11")
    def test_zero_size_datagram_reads_wait(self):
        # socket.recvfrom(0) and recvfrom_into(empty buffer) do ask the
        # kernel: with nothing to read they would block, so asyncio waits;
        # a datagram then comes back truncated to nothing.
        server, client = self.udp(), self.udp()

        async def body():
            task = await self.started(self.loop.sock_recvfrom(server, 0))
            self.assertFalse(task.done())
            self.assertEqual(self.watched(server), selectors.EVENT_READ)
            client.sendto(b"one", server.getsockname())
            self.assertEqual(await task, (b"", client.getsockname()))
            task = await self.started(self.loop.sock_recvfrom_into(server, bytearray()))
            self.assertFalse(task.done())
            client.sendto(b"two", server.getsockname())
            self.assertEqual(await task, (0, client.getsockname()))
            await self.iterations(1)
            self.assertEqual(self.watched(server), 0)

        self.run_coro(body())

    def test_datagram_methods_exist_where_asyncio_has_them(self):
        for name in ("sock_recvfrom", "sock_recvfrom_into", "sock_sendto"):
            self.assertEqual(hasattr(self.loop, name), HAS_DATAGRAM_METHODS, name)


# --------------------------------------------------------------------------
# Cancellation

def _asyncio_sock_accept_checks_done():
    """Does stock asyncio's _sock_accept return at once on a done future
    (gh-153761, in the bug-fix releases: 3.13.x, 3.14+)? Asked of its own
    _sock_accept, with a done stand-in future and a socket that raises."""
    class Done:
        def done(self):
            return True

    class Sock:
        def fileno(self):
            raise LookupError
        accept = fileno

    try:
        asyncio.selector_events.BaseSelectorEventLoop._sock_accept(None, Done(), Sock())
    except LookupError:
        return False
    return True


@base.both_loops
class _SockCancellation(_SockBase):

    def test_accept_cancelled_when_its_watcher_is_due(self):
        # CPython's test_sock_accept_racing: the cancel and the listener's
        # readiness come in one iteration, the cancel first. With gh-153761
        # the connection stays for the next sock_accept; before it, the
        # watcher accepts it and set_result on the cancelled future fails.
        self.require_asyncio_iteration_semantics()
        listener = self.listener()
        checks_done = _asyncio_sock_accept_checks_done()

        async def body():
            task = asyncio.ensure_future(self.loop.sock_accept(listener))
            await asyncio.sleep(0)
            client = self.keep(socket.create_connection(listener.getsockname()))
            select.select([listener], [], [], base.TIMEOUT)
            self.loop.call_soon(task.cancel)
            await asyncio.sleep(0)
            await asyncio.sleep(0)
            with self.assertRaises(asyncio.CancelledError):
                await task
            errors = self.take_loop_errors()
            if not checks_done:
                self.assertEqual(len(errors), 1)
                self.assertIsInstance(errors[0].get("exception"), asyncio.InvalidStateError)
                return
            self.assertEqual(errors, [])
            conn, address = await self.loop.sock_accept(listener)
            self.keep(conn)
            self.assertEqual(address, client.getsockname())

        with warnings.catch_warnings():
            # before gh-153761 the accepted socket is dropped unclosed
            warnings.simplefilter("ignore", ResourceWarning)
            self.run_coro(body())
            gc.collect()

    def test_cancelled_recv_removes_watcher_and_consumes_nothing(self):
        a, b = self.pair()

        async def body():
            task = await self.started(self.loop.sock_recv(b, 100))
            self.assertEqual(self.watched(b), selectors.EVENT_READ)
            task.cancel()
            with self.assertRaises(asyncio.CancelledError):
                await task
            self.assertEqual(self.watched(b), 0)
            # Nothing runs later: the data stays for the next reader.
            a.send(b"kept")
            await self.iterations()
            got = self.loop.create_future()
            self.loop.add_reader(b, lambda: got.done() or got.set_result(b.recv(100)))
            try:
                self.assertEqual(await asyncio.wait_for(got, base.TIMEOUT), b"kept")
            finally:
                self.assertTrue(self.loop.remove_reader(b))

        self.run_coro(body())

    def test_cancel_then_recv_again_at_once(self):
        # A new sock_recv replaces the cancelled one's watcher before that
        # one's done callback runs: the callback must leave it alone.
        a, b = self.pair()

        async def body():
            task = await self.started(self.loop.sock_recv(b, 100))
            task.cancel()
            second = asyncio.ensure_future(self.loop.sock_recv(b, 100))
            await self.iterations(3)
            self.assertTrue(task.cancelled())
            self.assertEqual(self.watched(b), selectors.EVENT_READ)
            a.send(b"second")
            self.assertEqual(await second, b"second")

        self.run_coro(body())

    def test_cancel_before_start(self):
        a, b = self.pair(_CountingSocket)

        async def body():
            task = asyncio.ensure_future(self.loop.sock_recv(b, 100))
            task.cancel()
            with self.assertRaises(asyncio.CancelledError):
                await task
            self.assertEqual(b.calls, {})
            self.assertEqual(self.watched(b), 0)

        self.run_coro(body())

    def test_cancelled_sendall_removes_writer(self):
        a, b = self.pair()
        a.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)

        async def body():
            task = await self.started(self.loop.sock_sendall(a, b"x" * (1 << 22)))
            self.assertEqual(self.watched(a), selectors.EVENT_WRITE)
            task.cancel()
            with self.assertRaises(asyncio.CancelledError):
                await task
            self.assertEqual(self.watched(a), 0)
            # The socket drains; nothing more is sent behind our back.
            drained = 0
            while True:
                try:
                    chunk = b.recv(1 << 20)
                except BlockingIOError:
                    await self.iterations(3)
                    try:
                        chunk = b.recv(1 << 20)
                    except BlockingIOError:
                        break
                drained += len(chunk)
            self.assertLess(drained, 1 << 22)
            await self.loop.sock_sendall(a, b"after")
            self.assertEqual(await self.loop.sock_recv(b, 100), b"after")

        self.run_coro(body())

    def test_accept_timeout_removes_watcher(self):
        listener = self.listener()

        async def body():
            with self.assertRaises(asyncio.TimeoutError):
                await asyncio.wait_for(self.loop.sock_accept(listener), 0.05)
            await self.iterations(1)
            self.assertEqual(self.watched(listener), 0)
            client = self.keep(socket.create_connection(listener.getsockname()))
            await self.iterations()
            # The connection was not taken by a stale watcher.
            conn, address = await self.loop.sock_accept(listener)
            self.keep(conn)
            self.assertEqual(address, client.getsockname())

        self.run_coro(body())

    def test_handle_cancelled_by_remove_reader(self):
        # remove_reader() while a sock_recv waits: the watcher goes, the
        # future stays pending (as in asyncio), until cancelled.
        a, b = self.pair()

        async def body():
            task = await self.started(self.loop.sock_recv(b, 100))
            self.assertTrue(self.loop.remove_reader(b.fileno()))
            a.send(b"x")
            await self.iterations()
            self.assertFalse(task.done())
            task.cancel()
            with self.assertRaises(asyncio.CancelledError):
                await task
            self.assertEqual(b.recv(10), b"x")

        self.run_coro(body())


# --------------------------------------------------------------------------
# Errors

@base.both_loops
class _SockErrors(_SockBase):

    def _each_method(self, sock, listener=None):
        """(name, coroutine factory) for every method on `sock`."""
        address = (HOST, 9)
        made = [
            ("sock_recv", lambda: self.loop.sock_recv(sock, 10)),
            ("sock_recv_into", lambda: self.loop.sock_recv_into(sock, bytearray(10))),
            ("sock_sendall", lambda: self.loop.sock_sendall(sock, b"x")),
            ("sock_accept", lambda: self.loop.sock_accept(sock)),
            ("sock_connect", lambda: self.loop.sock_connect(sock, address)),
        ]
        if HAS_DATAGRAM_METHODS:
            made += [
                ("sock_recvfrom", lambda: self.loop.sock_recvfrom(sock, 10)),
                ("sock_recvfrom_into", lambda: self.loop.sock_recvfrom_into(sock, bytearray(10))),
                ("sock_sendto", lambda: self.loop.sock_sendto(sock, b"x", address)),
            ]
        return made

    def test_closed_socket(self):
        a, b = self.pair()
        b.close()
        listener = self.listener()
        listener.close()

        async def body():
            with self.assertRaises(OSError) as caught:
                await self.loop.sock_recv(b, 10)
            self.assertEqual(caught.exception.errno, errno.EBADF)
            with self.assertRaises(OSError) as caught:
                await self.loop.sock_recv_into(b, bytearray(1))
            self.assertEqual(caught.exception.errno, errno.EBADF)
            with self.assertRaises(OSError) as caught:
                await self.loop.sock_sendall(b, b"x")
            self.assertEqual(caught.exception.errno, errno.EBADF)
            with self.assertRaises(OSError) as caught:
                await self.loop.sock_accept(listener)
            self.assertEqual(caught.exception.errno, errno.EBADF)
            with self.assertRaises(OSError) as caught:
                await self.loop.sock_connect(listener, (HOST, 9))
            self.assertEqual(caught.exception.errno, errno.EBADF)

        self.run_coro(body())

    def test_bad_buffers_and_sizes(self):
        # The socket's own errors, whichever way the call is made.
        a, b = self.pair()

        async def body():
            with self.assertRaisesRegex(ValueError, "negative buffersize in recv"):
                await self.loop.sock_recv(b, -1)
            with self.assertRaises(TypeError):
                await self.loop.sock_recv(b, 1.5)
            with self.assertRaises(TypeError):
                await self.loop.sock_recv_into(b, b"read-only")
            with self.assertRaises((TypeError, BufferError, ValueError)):
                await self.loop.sock_recv_into(b, memoryview(bytearray(8))[::2])
            # A size that is an int subclass, and an empty buffer.
            a.send(b"xyz")
            await self.iterations(1)
            self.assertEqual(await self.loop.sock_recv(b, True), b"x")
            self.assertEqual(await self.loop.sock_recv_into(b, bytearray()), 0)
            self.assertEqual(await self.loop.sock_recv(b, 10), b"yz")

        self.run_coro(body())

    def test_ssl_socket_refused(self):
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        sock = self.keep(context.wrap_socket(socket.socket(), server_hostname="example.invalid",
                                             do_handshake_on_connect=False))
        sock.setblocking(False)

        async def body():
            for name, make in self._each_method(sock):
                with self.subTest(name):
                    with self.assertRaisesRegex(TypeError, "^Socket cannot be of type SSLSocket$"):
                        await make()

        self.run_coro(body())

    def test_blocking_socket_in_debug_mode(self):
        sock = self.keep(socket.socket())  # blocking: gettimeout() is None

        async def body():
            self.loop.set_debug(True)
            try:
                for name, make in self._each_method(sock):
                    with self.subTest(name):
                        with self.assertRaisesRegex(ValueError, "^the socket must be non-blocking$"):
                            await make()
            finally:
                self.loop.set_debug(False)

        self.run_coro(body())

    def test_blocking_socket_allowed_outside_debug_mode(self):
        a, b = socket.socketpair()
        self.keep(a, b)
        b.settimeout(5)

        async def body():
            a.send(b"data")
            self.assertEqual(await self.loop.sock_recv(b, 10), b"data")

        self.run_coro(body())

    def test_fd_used_by_transport(self):
        a, b = socket.socketpair()
        self.keep(a)

        async def body():
            transport, _ = await self.loop.connect_accepted_socket(asyncio.Protocol, b)
            try:
                for name, make in (
                        ("sock_recv", lambda: self.loop.sock_recv(b, 10)),
                        ("sock_recv_into", lambda: self.loop.sock_recv_into(b, bytearray(10)))):
                    with self.subTest(name):
                        with self.assertRaisesRegex(
                                RuntimeError,
                                r"^File descriptor %d is used by transport " % b.fileno()):
                            await make()
            finally:
                transport.close()
                await self.iterations()

        self.run_coro(body())

    def test_bad_arguments(self):
        a, b = self.pair()
        stock = asyncio.selector_events.BaseSelectorEventLoop

        def message(call):
            try:
                coro = call()
            except TypeError as exc:
                return str(exc)
            coro.close()
            self.fail("no TypeError")

        # The messages of a Python function's argument binding.
        for name, args, kwargs in (
                ("sock_recv", (b,), {}),
                ("sock_recv", (), {}),
                ("sock_recv", (b, 1, 2), {}),
                ("sock_recv", (b,), {"nbytes": 1}),
                ("sock_recv", (b, 1), {"sock": b}),
                ("sock_sendall", (), {"data": b"x"}),
                ("sock_accept", (b, b), {}),
                ("sock_connect", (b,), {}),
        ):
            with self.subTest(name=name, args=args, kwargs=kwargs):
                expected = message(lambda: getattr(stock, name)(self.loop, *args, **kwargs))
                self.assertEqual(message(lambda: getattr(self.loop, name)(*args, **kwargs)), expected)

        async def keywords():
            a.send(b"kw")
            await self.iterations(1)
            self.assertEqual(await self.loop.sock_recv(sock=b, n=10), b"kw")

        self.run_coro(keywords())

    def test_exception_in_watcher_callback_goes_to_future(self):
        a, b = self.pair()

        class Failing(socket.socket):
            attempts = 0

            def recv(self, n):
                Failing.attempts += 1
                if Failing.attempts == 1:
                    raise BlockingIOError
                raise ConnectionResetError("boom")

        failing = self.keep(_adopt(b, Failing))
        failing.setblocking(False)

        async def body():
            task = await self.started(self.loop.sock_recv(failing, 10))
            a.send(b"wake")
            with self.assertRaisesRegex(ConnectionResetError, "boom"):
                await task
            self.assertEqual(Failing.attempts, 2)
            await self.iterations(1)
            self.assertEqual(self.watched(failing), 0)

        self.run_coro(body())


# --------------------------------------------------------------------------
# Coroutines, as asyncio's are

@base.both_loops
class _SockCoroutines(_SockBase):

    def test_is_a_coroutine(self):
        a, b = self.pair()
        coro = self.loop.sock_recv(b, 10)
        try:
            self.assertTrue(asyncio.iscoroutine(coro))
            import inspect
            self.assertTrue(inspect.isawaitable(coro))
            self.assertEqual(coro.__qualname__, "BaseSelectorEventLoop.sock_recv")
            self.assertEqual(coro.__name__, "sock_recv")
        finally:
            coro.close()

    def test_accepted_by_task_apis(self):
        a, b = self.pair()

        async def body():
            a.send(b"1")
            await self.iterations(1)
            self.assertEqual(await asyncio.ensure_future(self.loop.sock_recv(b, 10)), b"1")
            a.send(b"2")
            await self.iterations(1)
            self.assertEqual(await self.loop.create_task(self.loop.sock_recv(b, 10)), b"2")
            a.send(b"3")
            self.assertEqual(await asyncio.wait_for(self.loop.sock_recv(b, 10), base.TIMEOUT), b"3")
            results = asyncio.gather(self.loop.sock_recv(b, 10), self.loop.sock_sendall(a, b"4"))
            self.assertEqual(await results, [b"4", None])

        self.run_coro(body())
        a.send(b"5")
        self.assertEqual(self.loop.run_until_complete(self.loop.sock_recv(b, 10)), b"5")

    def test_protocol_by_hand(self):
        a, b = self.pair()
        # Not started: throw() raises at the start, close() is silent.
        coro = self.loop.sock_recv(b, 10)
        with self.assertRaises(KeyError):
            coro.throw(KeyError("k"))
        with self.assertRaisesRegex(RuntimeError, "cannot reuse already awaited coroutine"):
            coro.send(None)
        coro.close()
        coro = self.loop.sock_recv(b, 10)
        coro.close()
        # Done at once: StopIteration carries the result.
        a.send(b"hi")
        coro = self.loop.sock_recv(b, 10)
        with self.assertRaises(StopIteration) as caught:
            coro.send(None)
        self.assertEqual(caught.exception.value, b"hi")
        with self.assertRaisesRegex(RuntimeError, "cannot reuse already awaited coroutine"):
            coro.send(None)
        # A tuple result is not unpacked into StopIteration's args.
        listener = self.listener()
        client = self.keep(socket.create_connection(listener.getsockname()))
        self.run_briefly()
        coro = self.loop.sock_accept(listener)
        with self.assertRaises(StopIteration) as caught:
            coro.send(None)
        conn, address = caught.exception.value
        self.keep(conn)
        self.assertEqual(address, client.getsockname())

    def test_never_awaited_warns(self):
        a, b = self.pair()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            self.loop.sock_recv(b, 10)
            gc.collect()
        messages = [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]
        self.assertEqual(messages, ["coroutine 'BaseSelectorEventLoop.sock_recv' was never awaited"])

    def test_closed_while_waiting_leaves_the_operation(self):
        # Closing the coroutine (a task that is dropped) leaves the future
        # and its watcher, as asyncio's `await fut` does: the data goes to
        # the abandoned future.
        a, b = self.pair()

        async def body():
            coro = self.loop.sock_recv(b, 10)
            future = coro.send(None)
            self.assertIsInstance(future, asyncio.Future)
            coro.close()
            future._asyncio_future_blocking = False  # yielded to nobody
            self.assertFalse(future.done())
            self.assertEqual(self.watched(b), selectors.EVENT_READ)
            a.send(b"gone")
            self.assertEqual(await future, b"gone")
            await self.iterations(1)
            self.assertEqual(self.watched(b), 0)

        self.run_coro(body())


# --------------------------------------------------------------------------
# References

class _Payload(bytes):
    """Non-immortal data whose reference count can be watched."""


@base.both_loops
class _SockReferences(_SockBase):

    def test_no_reference_leaks(self):
        a, b = self.pair()
        listener = self.listener()
        payload = _Payload(b"p" * 100)
        rounds = 2000

        async def round_trips(n):
            for _ in range(n):
                # immediate
                await self.loop.sock_sendall(a, payload)
                await self.loop.sock_recv(b, 1000)
                # would block
                task = asyncio.ensure_future(self.loop.sock_recv(b, 1000))
                await asyncio.sleep(0)
                await self.loop.sock_sendall(a, payload)
                await task
                # cancelled
                task = asyncio.ensure_future(self.loop.sock_recv_into(b, bytearray(10)))
                await asyncio.sleep(0)
                task.cancel()
                try:
                    await task
                except asyncio.CancelledError:
                    pass
            client = socket.socket()
            client.setblocking(False)
            accepting = asyncio.ensure_future(self.loop.sock_accept(listener))
            await self.loop.sock_connect(client, listener.getsockname())
            conn, _ = await accepting
            conn.close()
            client.close()

        def snapshot():
            gc.collect()
            return ([sys.getrefcount(o) for o in (a, b, listener, payload)], len(gc.get_objects()))

        self.run_coro(round_trips(10))  # warm-up
        before = snapshot()
        self.run_coro(round_trips(rounds))
        after = snapshot()
        self.assertEqual(after[0], before[0], "references to the sockets or data leaked")
        self.assertLessEqual(after[1] - before[1], 1000, "gc-tracked objects grew")
        self.assertEqual(self.watched(b), 0)


if __name__ == "__main__":
    unittest.main()

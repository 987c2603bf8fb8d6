"""Datagram transports: loop.create_datagram_endpoint over UDP (IPv4, IPv6)
and Unix datagram sockets, with asyncio's behaviour on both loops: echo,
connected and not, bad input, empty datagrams, error_received, buffering
and flow control when the kernel refuses, closing, extra info, isinstance,
instance attributes, and no leak over 100k round trips."""

import asyncio
import gc
import logging
import os
import re
import socket
import sys
import tracemalloc
import unittest
import warnings
from asyncio import selector_events, transports, trsock

import base

HOST = "127.0.0.1"

# What this interpreter's asyncio does (the PyLoop variant must agree).
SENDS_EMPTY = sys.version_info >= (3, 13)        # gh-113812
HEADER_BYTES = 8 if sys.version_info >= (3, 13) else 0
IS_DATAGRAM_TRANSPORT = issubclass(selector_events._SelectorDatagramTransport,
                                   asyncio.DatagramTransport)
HAS_PAUSE_READING = sys.version_info >= (3, 11)
SANITIZERS = os.environ.get("PYLOOP_SANITIZERS") == "yes"


def _ipv6_available():
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


IPV6 = _ipv6_available()


class _Port(int):
    """An int that is not exactly an int."""


class _Recorder(asyncio.DatagramProtocol):
    """Records every protocol call; futures for the ones a test awaits."""

    def __init__(self, loop, echo=False):
        self.loop = loop
        self.echo = echo
        self.events = []
        self.received = []
        self.errors = []
        self.transport = None
        self.made = loop.create_future()
        self.lost = loop.create_future()
        self._waiter = None
        self._error_waiter = None
        self.paused = self.resumed = 0
        self.lost_calls = 0

    def connection_made(self, transport):
        self.events.append("made")
        self.transport = transport
        self.made.set_result(transport)

    def datagram_received(self, data, addr):
        self.received.append((data, addr))
        if self.echo:
            self.transport.sendto(data, addr)
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def error_received(self, exc):
        self.errors.append(exc)
        if self._error_waiter is not None and not self._error_waiter.done():
            self._error_waiter.set_result(exc)

    def pause_writing(self):
        self.events.append("pause")
        self.paused += 1

    def resume_writing(self):
        self.events.append("resume")
        self.resumed += 1

    def connection_lost(self, exc):
        self.events.append("lost")
        self.lost_calls += 1
        if not self.lost.done():
            self.lost.set_result(exc)

    async def wait_for(self, count):
        while len(self.received) < count:
            self._waiter = self.loop.create_future()
            await self._waiter

    async def wait_error(self):
        if not self.errors:
            self._error_waiter = self.loop.create_future()
            await self._error_waiter
        return self.errors[0]


@base.both_loops
class _DatagramTransport:

    # ---- helpers -----------------------------------------------------------

    def endpoint(self, **kwargs):
        echo = kwargs.pop("echo", False)
        loop = self.loop
        tr, proto = self.run_coro(loop.create_datagram_endpoint(
            lambda: _Recorder(loop, echo=echo), **kwargs))
        if self.LOOP_NAME == "pyloop":  # the C transport, not asyncio's
            self.assertIs(type(tr), self.pyloop._pyloop.DatagramTransport)
        return tr, proto

    def close_all(self, *transports_):
        for tr in transports_:
            tr.close()
        self.run_briefly()

    def _echo(self, family, host, **client_kwargs):
        server_tr, server = self.endpoint(local_addr=(host, 0), family=family, echo=True)
        server_addr = server_tr.get_extra_info("sockname")
        # connected client
        client_tr, client = self.endpoint(remote_addr=server_addr[:2], family=family, **client_kwargs)
        self.assertEqual(client_tr.get_extra_info("peername")[:2], server_addr[:2])
        for i in range(20):
            client_tr.sendto(b"ping %d" % i)
        self.run_coro(client.wait_for(20))
        self.assertEqual([d for d, _ in client.received], [b"ping %d" % i for i in range(20)])
        self.assertEqual({a for _, a in client.received}, {server_addr})
        self.assertEqual({a for _, a in server.received}, {client_tr.get_extra_info("sockname")})
        # the connected address may be given again
        client_tr.sendto(b"again", server_addr)
        self.run_coro(client.wait_for(21))
        # unconnected client
        other_tr, other = self.endpoint(local_addr=(host, 0), family=family)
        other_tr.sendto(b"hello", server_addr)
        other_tr.sendto(bytearray(b"bytearray"), server_addr)
        other_tr.sendto(memoryview(b"xmemoryview")[1:], server_addr)
        self.run_coro(other.wait_for(3))
        self.assertEqual(other.received, [(b"hello", server_addr), (b"bytearray", server_addr),
                                          (b"memoryview", server_addr)])
        self.assertEqual(client.errors + server.errors + other.errors, [])
        self.close_all(client_tr, server_tr, other_tr)
        self.assertEqual(client.events, ["made", "lost"])

    # ---- echo ----------------------------------------------------------------

    def test_udp_echo_ipv4(self):
        self._echo(socket.AF_INET, HOST)

    @unittest.skipUnless(IPV6, "IPv6 not available")
    def test_udp_echo_ipv6(self):
        self._echo(socket.AF_INET6, "::1")

    def test_unix_echo_connected_and_not(self):
        with base.tempdir() as path:
            server_path = os.path.join(path, "server")
            client_path = os.path.join(path, "client")
            other_path = os.path.join(path, "other")
            server_tr, server = self.endpoint(local_addr=server_path, family=socket.AF_UNIX, echo=True)
            client_tr, client = self.endpoint(local_addr=client_path, remote_addr=server_path,
                                              family=socket.AF_UNIX)
            self.assertEqual(client_tr.get_extra_info("peername"), server_path)
            client_tr.sendto(b"one")
            client_tr.sendto(b"two", server_path)
            self.run_coro(client.wait_for(2))
            self.assertEqual(client.received, [(b"one", server_path), (b"two", server_path)])
            self.assertEqual(server.received, [(b"one", client_path), (b"two", client_path)])
            # not connected; the address as bytes, too
            other_tr, other = self.endpoint(local_addr=other_path, family=socket.AF_UNIX)
            other_tr.sendto(b"three", server_path)
            other_tr.sendto(b"four", os.fsencode(server_path))
            self.run_coro(other.wait_for(2))
            self.assertEqual(other.received, [(b"three", server_path), (b"four", server_path)])
            self.close_all(client_tr, server_tr, other_tr)

    @unittest.skipUnless(sys.platform.startswith("linux"), "abstract namespace is Linux's")
    def test_unix_abstract_and_unnamed_senders(self):
        name = b"\0pyloop-datagram-%d-%d" % (os.getpid(), id(self))

        def bound(address):
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            sock.bind(address)
            sock.setblocking(False)
            return sock
        server_tr, server = self.endpoint(sock=bound(name))
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as unnamed:
            unnamed.sendto(b"from nobody", name)
            self.run_coro(server.wait_for(1))
        self.assertEqual(server.received, [(b"from nobody", None)])
        other_tr, other = self.endpoint(sock=bound(name + b"-other"))
        other_tr.sendto(b"hi", name)
        self.run_coro(server.wait_for(2))
        self.assertEqual(server.received[1], (b"hi", name + b"-other"))
        server_tr.sendto(b"back", name + b"-other")
        self.run_coro(other.wait_for(1))
        self.assertEqual(other.received, [(b"back", name)])
        # asyncio sends to None for an unnamed peer, which sock.sendto refuses
        server_tr.sendto(b"nowhere", None)
        self.run_coro(server.lost)
        errors = self.take_loop_errors()
        self.assertEqual([e["message"] for e in errors], ["Fatal write error on datagram transport"])
        self.assertIsInstance(errors[0]["exception"], TypeError)
        self.close_all(server_tr, other_tr)

    def test_hostname_address_goes_through_the_socket(self):
        server_tr, server = self.endpoint(local_addr=(HOST, 0), family=socket.AF_INET)
        port = server_tr.get_extra_info("sockname")[1]
        client_tr, client = self.endpoint(local_addr=(HOST, 0), family=socket.AF_INET)
        client_tr.sendto(b"by name", ("localhost", port))
        client_tr.sendto(b"by int-like port", (HOST, _Port(port)))
        self.run_coro(server.wait_for(2))
        self.assertEqual([d for d, _ in server.received], [b"by name", b"by int-like port"])
        self.close_all(server_tr, client_tr)

    def test_socket_subclass_methods_are_used(self):
        calls = []

        class Sock(socket.socket):
            def sendto(self, *args):
                calls.append(("sendto", args[0]))
                return super().sendto(*args)

            def recvfrom(self, *args):
                calls.append(("recvfrom", args))
                return super().recvfrom(*args)

        server_tr, server = self.endpoint(local_addr=(HOST, 0), family=socket.AF_INET)
        sock = Sock(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind((HOST, 0))
        client_tr, client = self.endpoint(sock=sock, echo=True)
        client_tr.sendto(b"via subclass", server_tr.get_extra_info("sockname"))
        self.run_coro(server.wait_for(1))
        server_tr.sendto(b"back", client_tr.get_extra_info("sockname"))
        self.run_coro(client.wait_for(1))
        self.assertEqual(calls[0], ("sendto", b"via subclass"))
        self.assertIn(("recvfrom", (256 * 1024,)), calls)
        self.close_all(server_tr, client_tr)

    def test_max_size_truncates(self):
        server_tr, server = self.endpoint(local_addr=(HOST, 0), family=socket.AF_INET)
        server_tr.max_size = 4
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.sendto(b"0123456789", server_tr.get_extra_info("sockname"))
            s.sendto(b"ab", server_tr.get_extra_info("sockname"))
            self.run_coro(server.wait_for(2))
        self.assertEqual([d for d, _ in server.received], [b"0123", b"ab"])
        self.close_all(server_tr)

    # ---- bad input -----------------------------------------------------------

    def test_sendto_wrong_address(self):
        server_tr, _ = self.endpoint(local_addr=(HOST, 0), family=socket.AF_INET)
        addr = server_tr.get_extra_info("sockname")
        client_tr, _ = self.endpoint(remote_addr=addr, family=socket.AF_INET)
        with self.assertRaises(ValueError) as caught:
            client_tr.sendto(b"x", (HOST, 1))
        self.assertEqual(str(caught.exception), "Invalid address: must be None or %s" % (addr,))
        self.close_all(server_tr, client_tr)

    def test_sendto_non_bytes(self):
        tr, _ = self.endpoint(local_addr=(HOST, 0), family=socket.AF_INET)
        for bad, name in (("text", "str"), ([1], "list"), (1, "int"), (None, "NoneType")):
            with self.assertRaises(TypeError) as caught:
                tr.sendto(bad, (HOST, 9))
            self.assertEqual(str(caught.exception),
                             "data argument must be a bytes-like object, not %r" % name)
        with self.assertRaises(TypeError):
            tr.sendto()
        self.close_all(tr)

    def test_argument_errors_read_as_asyncio(self):
        # Every method asyncio defines in Python with parameters binds its
        # arguments as a Python function: CPython's TypeError texts, named
        # after the class that defines it, and keywords accepted.
        tr, proto = self.endpoint(local_addr=(HOST, 0), family=socket.AF_INET)
        sel, flow, base_ = "_SelectorTransport", "_FlowControlMixin", "BaseTransport"
        cases = [
            (lambda: tr.sendto(), "_SelectorDatagramTransport.sendto() missing 1 required positional argument: 'data'"),
            (lambda: tr.sendto(b"x", (HOST, 9), 3),
             "_SelectorDatagramTransport.sendto() takes from 2 to 3 positional arguments but 4 were given"),
            (lambda: tr.sendto(b"x", address=(HOST, 9)),
             "_SelectorDatagramTransport.sendto() got an unexpected keyword argument 'address'"),
            (lambda: tr.sendto(b"x", data=b"y"),
             "_SelectorDatagramTransport.sendto() got multiple values for argument 'data'"),
            (lambda: tr.get_extra_info(), base_ + ".get_extra_info() missing 1 required positional argument: 'name'"),
            (lambda: tr.get_extra_info(key="x"), base_ + ".get_extra_info() got an unexpected keyword argument 'key'"),
            (lambda: tr.set_protocol(), sel + ".set_protocol() missing 1 required positional argument: 'protocol'"),
            (lambda: tr.set_protocol(1, 2), sel + ".set_protocol() takes 2 positional arguments but 3 were given"),
            (lambda: tr.set_write_buffer_limits(1, 2, 3),
             flow + ".set_write_buffer_limits() takes from 1 to 3 positional arguments but 4 were given"),
            (lambda: tr.set_write_buffer_limits(foo=1),
             flow + ".set_write_buffer_limits() got an unexpected keyword argument 'foo'"),
            (lambda: tr._set_write_buffer_limits(foo=1),
             flow + "._set_write_buffer_limits() got an unexpected keyword argument 'foo'"),
            (lambda: tr._fatal_error(), sel + "._fatal_error() missing 1 required positional argument: 'exc'"),
            (lambda: tr._force_close(), sel + "._force_close() missing 1 required positional argument: 'exc'"),
            (lambda: tr._call_connection_lost(),
             sel + "._call_connection_lost() missing 1 required positional argument: 'exc'"),
        ]
        for call, text in cases:
            with self.subTest(text):
                with self.assertRaises(TypeError) as caught:
                    call()
                self.assertEqual(str(caught.exception), text)
        self.assertEqual(tr.get_extra_info(name="nope", default=7), 7)
        tr.set_write_buffer_limits(high=20, low=10)
        self.assertEqual(tr.get_write_buffer_limits(), (10, 20))
        other = _Recorder(self.loop)
        tr.set_protocol(protocol=other)
        self.assertIs(tr.get_protocol(), other)
        tr.set_protocol(proto)
        self.close_all(tr)
        self.assertEqual(proto.events, ["made", "lost"])

    def test_sendto_bad_address_is_fatal(self):
        # What sock.sendto raises that is not an OSError: _fatal_error.
        tr, proto = self.endpoint(local_addr=(HOST, 0), family=socket.AF_INET)
        tr.sendto(b"x", "not an address")
        self.run_coro(proto.lost)
        errors = self.take_loop_errors()
        self.assertEqual(len(errors), 1)
        self.assertEqual(errors[0]["message"], "Fatal write error on datagram transport")
        self.assertIsInstance(errors[0]["exception"], TypeError)
        self.assertIs(errors[0]["transport"], tr)
        self.assertIs(proto.lost.result(), errors[0]["exception"])
        self.assertEqual(proto.lost_calls, 1)

    def test_empty_datagram(self):
        server_tr, server = self.endpoint(local_addr=(HOST, 0), family=socket.AF_INET)
        client_tr, _ = self.endpoint(remote_addr=server_tr.get_extra_info("sockname"), family=socket.AF_INET)
        client_tr.sendto(b"")
        client_tr.sendto(b"last")
        self.run_coro(server.wait_for(2 if SENDS_EMPTY else 1))
        expected = [b"", b"last"] if SENDS_EMPTY else [b"last"]
        self.assertEqual([d for d, _ in server.received], expected)
        # empty ones arrive as empty bytes
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.sendto(b"", server_tr.get_extra_info("sockname"))
            self.run_coro(server.wait_for(len(expected) + 1))
        self.assertEqual(server.received[-1][0], b"")
        self.close_all(server_tr, client_tr)

    # ---- errors --------------------------------------------------------------

    def test_error_received_on_port_unreachable(self):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind((HOST, 0))
            closed_addr = s.getsockname()
        tr, proto = self.endpoint(remote_addr=closed_addr, family=socket.AF_INET)
        tr.sendto(b"anyone?")
        exc = self.run_coro(proto.wait_error())
        self.assertIsInstance(exc, ConnectionRefusedError)
        self.assertFalse(tr.is_closing())
        self.assertEqual(proto.lost_calls, 0)
        self.close_all(tr)
        self.assertEqual(proto.lost_calls, 1)

    def test_datagram_received_raising_goes_to_the_handler(self):
        tr, proto = self.endpoint(local_addr=(HOST, 0), family=socket.AF_INET)

        def boom(data, addr):
            raise ZeroDivisionError("boom")
        proto.datagram_received = boom
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.sendto(b"x", tr.get_extra_info("sockname"))
            for _ in range(100):
                self.run_briefly()
                if self._loop_errors:
                    break
        errors = self.take_loop_errors()
        self.assertEqual(len(errors), 1)
        self.assertIsInstance(errors[0]["exception"], ZeroDivisionError)
        self.assertTrue(errors[0]["message"].startswith("Exception in callback "))
        self.assertFalse(tr.is_closing())
        self.close_all(tr)

    # ---- buffering and flow control --------------------------------------------

    def _blocked_pair(self, path):
        """A transport connected to a Unix datagram socket nobody reads."""
        peer = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        peer.bind(os.path.join(path, "peer"))
        peer.setblocking(False)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(os.path.join(path, "self"))
        sock.connect(os.path.join(path, "peer"))
        sock.setblocking(False)
        tr, proto = self.endpoint(sock=sock)
        return peer, tr, proto

    def _fill(self, tr, size):
        """Send until the kernel refuses one: what was sent right away."""
        sent = 0
        while tr.get_write_buffer_size() == 0:
            tr.sendto(b"s" * size)
            sent += 1
            self.assertLess(sent, 100000, "the kernel never refused a datagram")
        return sent - 1

    def _drain(self, peer):
        got = []
        while True:
            try:
                got.append(peer.recv(65536))
            except BlockingIOError:
                return got

    def test_buffering_pause_and_resume(self):
        size = 4096
        with base.tempdir() as path:
            peer, tr, proto = self._blocked_pair(path)
            with peer:
                tr.set_write_buffer_limits(high=3 * size, low=size)
                self.assertEqual(tr.get_write_buffer_limits(), (size, 3 * size))
                direct = self._fill(tr, size)
                self.assertEqual(tr.get_write_buffer_size(), size + HEADER_BYTES)
                self.assertEqual(proto.paused, 0)
                # Queued while the first waits, each counted; the high-water
                # mark is crossed by the third: pause_writing, once.
                payloads = [bytes([65 + i]) * size for i in range(5)]
                mutable = bytearray(payloads[0])
                tr.sendto(mutable)
                mutable[:] = b"?" * size  # what was queued is a copy
                for p in payloads[1:]:
                    tr.sendto(p)
                queued = 6
                self.assertEqual(tr.get_write_buffer_size(), queued * (size + HEADER_BYTES))
                self.assertEqual(proto.events, ["made", "pause"])
                self.assertIn("bufsize=%d" % (queued * (size + HEADER_BYTES)), repr(tr))
                self.assertIn("write=<polling", repr(tr))
                # The peer reads: the queue goes out, then resume_writing.
                got = []
                for _ in range(1000):
                    got += self._drain(peer)
                    if proto.resumed:
                        break
                    self.run_briefly()
                self.assertEqual(proto.events, ["made", "pause", "resume"])
                self.assertLessEqual(tr.get_write_buffer_size(), size)
                got += self._drain(peer)
                for _ in range(100):
                    if len(got) >= direct + queued:
                        break
                    self.run_briefly()
                    got += self._drain(peer)
                self.assertEqual(len(got), direct + queued)
                self.assertEqual(got[direct + 1:], payloads)
                self.assertIn("write=<idle", repr(tr))
                self.close_all(tr)
                self.assertEqual(proto.lost_calls, 1)

    def test_close_with_queue_waits_for_it(self):
        with base.tempdir() as path:
            peer, tr, proto = self._blocked_pair(path)
            with peer:
                direct = self._fill(tr, 1024)
                tr.sendto(b"tail")
                tr.close()
                self.assertTrue(tr.is_closing())
                self.run_briefly()
                self.assertEqual(proto.lost_calls, 0)
                got = []
                for _ in range(1000):
                    got += self._drain(peer)
                    if proto.lost_calls:
                        break
                    self.run_briefly()
                self.assertEqual(proto.lost_calls, 1)
                got += self._drain(peer)
                self.assertEqual(len(got), direct + 2)
                self.assertEqual(got[-1], b"tail")

    def test_abort_drops_the_queue(self):
        with base.tempdir() as path:
            peer, tr, proto = self._blocked_pair(path)
            with peer:
                direct = self._fill(tr, 1024)
                tr.sendto(b"never")
                tr.abort()
                tr.abort()
                tr.close()
                self.run_briefly()
                self.assertEqual(proto.lost_calls, 1)
                self.assertIsNone(proto.lost.result())
                got = self._drain(peer)
                self.assertEqual(len(got), direct)
                self.assertNotIn(b"never", got)

    def test_set_write_buffer_limits_validation(self):
        tr, proto = self.endpoint(local_addr=(HOST, 0), family=socket.AF_INET)
        self.assertEqual(tr.get_write_buffer_limits(), (16384, 65536))
        with self.assertRaises(ValueError) as caught:
            tr.set_write_buffer_limits(high=1, low=2)
        self.assertEqual(str(caught.exception), "high (1) must be >= low (2) must be >= 0")
        tr.set_write_buffer_limits(low=100)
        self.assertEqual(tr.get_write_buffer_limits(), (100, 400))
        tr.set_write_buffer_limits(high=100)
        self.assertEqual(tr.get_write_buffer_limits(), (25, 100))
        tr.set_write_buffer_limits(high=0)
        self.assertEqual(proto.paused, 0)  # nothing queued: 0 <= 0
        self.close_all(tr)

    def test_write_buffer_limits_are_stored_as_given(self):
        # _FlowControlMixin stores the objects it was given (the transport
        # base's limit store, which the datagram transport shares).
        tr, proto = self.endpoint(local_addr=(HOST, 0), family=socket.AF_INET)
        tr.set_write_buffer_limits(1.5)
        self.assertEqual(tr.get_write_buffer_limits(), (1.5 // 4, 1.5))
        self.assertIsInstance(tr.get_write_buffer_limits()[1], float)
        tr.set_write_buffer_limits(2 ** 70)
        self.assertEqual(tr.get_write_buffer_limits(), (2 ** 68, 2 ** 70))
        tr.set_write_buffer_limits(True)
        self.assertIs(tr.get_write_buffer_limits()[1], True)
        tr._set_write_buffer_limits(high=40, low=8)
        self.assertEqual((tr._low_water, tr._high_water), (8, 40))
        self.assertEqual(proto.paused, 0)
        self.close_all(tr)

    # ---- closing ---------------------------------------------------------------

    def test_close_and_abort_call_connection_lost_once(self):
        for how in ("close", "abort", "both"):
            tr, proto = self.endpoint(local_addr=(HOST, 0), family=socket.AF_INET)
            sock = tr.get_extra_info("socket")
            if how in ("close", "both"):
                tr.close()
            if how in ("abort", "both"):
                tr.abort()
            tr.close()
            self.assertTrue(tr.is_closing())
            self.run_briefly()
            self.run_briefly()
            self.assertEqual(proto.lost_calls, 1, how)
            self.assertEqual(proto.events, ["made", "lost"])
            self.assertEqual(sock.fileno(), -1)
            self.assertIsNone(tr.get_protocol())
            self.assertIn(" closed fd=", repr(tr))

    def test_sendto_after_close(self):
        server_tr, server = self.endpoint(local_addr=(HOST, 0), family=socket.AF_INET)
        addr = server_tr.get_extra_info("sockname")
        client_tr, client = self.endpoint(remote_addr=addr, family=socket.AF_INET)
        client_tr.close()
        # connected: dropped and counted, with a warning past the threshold
        with self.assertLogs("asyncio", logging.WARNING) as logs:
            for _ in range(10):
                client_tr.sendto(b"late")
            logging.getLogger("asyncio").warning("end")
        self.assertEqual(logs.output.count("WARNING:asyncio:socket.send() raised exception."), 6)
        self.run_briefly()
        self.assertEqual(client.lost_calls, 1)
        # not connected, closing but not closed yet: still sent
        other_tr, _ = self.endpoint(local_addr=(HOST, 0), family=socket.AF_INET)
        other_tr.close()
        other_tr.sendto(b"while closing", addr)
        self.run_coro(server.wait_for(1))
        self.assertEqual(server.received[0][0], b"while closing")
        self.run_briefly()
        # closed: asyncio's _fatal_error finds no loop
        with self.assertRaises(AttributeError):
            other_tr.sendto(b"after", addr)
        self.close_all(server_tr)

    def test_unclosed_transport_warns(self):
        loop = self.loop
        tr, proto = self.endpoint(local_addr=(HOST, 0), family=socket.AF_INET)
        sock = tr.get_extra_info("socket")
        del tr, proto
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            loop.close()
            gc.collect()
        messages = [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)]
        self.assertTrue(any(re.match(r"unclosed transport <\w+ (closing )?fd=\d+", m) for m in messages), messages)
        self.assertEqual(sock.fileno(), -1)

    # ---- the object ------------------------------------------------------------

    def test_extra_info_and_repr(self):
        server_tr, _ = self.endpoint(local_addr=(HOST, 0), family=socket.AF_INET)
        addr = server_tr.get_extra_info("sockname")
        tr, proto = self.endpoint(remote_addr=addr, family=socket.AF_INET)
        sock = tr.get_extra_info("socket")
        self.assertIsInstance(sock, trsock.TransportSocket)
        self.assertEqual(tr.get_extra_info("sockname"), sock.getsockname())
        self.assertEqual(tr.get_extra_info("peername"), addr)
        self.assertIsNone(server_tr.get_extra_info("peername"))
        self.assertEqual(tr.get_extra_info("nothing", "fallback"), "fallback")
        self.assertEqual(tr.get_extra_info(name="nothing", default=3), 3)
        self.assertIsNone(tr.get_extra_info("nothing"))
        self.assertIs(tr.get_protocol(), proto)
        self.assertRegex(repr(tr), r"^<\w+ fd=%d read=polling write=<idle, bufsize=0>>$" % sock.fileno())
        self.assertFalse(tr.is_closing())
        self.close_all(tr, server_tr)

    def test_isinstance(self):
        tr, _ = self.endpoint(local_addr=(HOST, 0), family=socket.AF_INET)
        self.assertIsInstance(tr, asyncio.BaseTransport)
        self.assertIsInstance(tr, asyncio.Transport)
        self.assertIsInstance(tr, transports._FlowControlMixin)
        self.assertEqual(isinstance(tr, asyncio.DatagramTransport), IS_DATAGRAM_TRANSPORT)
        with self.assertRaises(NotImplementedError):
            tr.write(b"x")  # WriteTransport's, as on asyncio's class
        self.close_all(tr)

    def test_instance_attributes(self):
        tr, proto = self.endpoint(local_addr=(HOST, 0), family=socket.AF_INET)
        tr.custom = 42
        self.assertEqual(tr.custom, 42)
        sent = []
        tr.sendto = lambda data, addr=None: sent.append(data)
        tr.sendto(b"patched")
        self.assertEqual(sent, [b"patched"])
        del tr.sendto
        # a patched _fatal_error is the one called
        fatal = []
        tr._fatal_error = lambda exc, message="": fatal.append((type(exc), message))
        tr.sendto(b"x", "not an address")
        self.assertEqual(fatal, [(TypeError, "Fatal write error on datagram transport")])
        self.close_all(tr)

    def test_pause_and_resume_reading(self):
        tr, proto = self.endpoint(local_addr=(HOST, 0), family=socket.AF_INET)
        if not HAS_PAUSE_READING:
            for name in ("is_reading", "pause_reading", "resume_reading"):
                with self.assertRaises(NotImplementedError):
                    getattr(tr, name)()
            self.close_all(tr)
            return
        self.assertTrue(tr.is_reading())
        tr.pause_reading()
        self.assertFalse(tr.is_reading())
        self.assertIn("read=idle", repr(tr))
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.sendto(b"while paused", tr.get_extra_info("sockname"))
            for _ in range(5):
                self.run_briefly()
            self.assertEqual(proto.received, [])
            tr.resume_reading()
            self.assertTrue(tr.is_reading())
            self.run_coro(proto.wait_for(1))
        self.assertEqual(proto.received[0][0], b"while paused")
        tr.close()
        self.assertFalse(tr.is_reading())
        self.run_briefly()

    # ---- no leak ---------------------------------------------------------------

    def test_no_leak_over_100k_round_trips(self):
        loop = self.loop
        total, window = 100000, 64

        class Client(asyncio.DatagramProtocol):
            def __init__(self):
                self.count = 0
                self.sent = 0
                self.done = loop.create_future()

            def connection_made(self, transport):
                self.transport = transport

            def datagram_received(self, data, addr):
                self.count += 1
                if self.sent < total:
                    self.sent += 1
                    self.transport.sendto(data)
                elif self.count == total and not self.done.done():
                    self.done.set_result(None)

        class Echo(asyncio.DatagramProtocol):
            def connection_made(self, transport):
                self.transport = transport

            def datagram_received(self, data, addr):
                self.transport.sendto(data, addr)

        server_tr, _ = self.run_coro(loop.create_datagram_endpoint(Echo, local_addr=(HOST, 0)))
        client_tr, client = self.run_coro(loop.create_datagram_endpoint(
            Client, remote_addr=server_tr.get_extra_info("sockname")))

        def run(count):
            client.count = client.sent = 0
            client.done = loop.create_future()
            nonlocal total
            total = count
            for _ in range(window):
                client.sent += 1
                client_tr.sendto(b"x" * 100)
            self.run_coro(client.done, timeout=120)

        def rss_kb():
            with open("/proc/self/statm") as f:
                return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024

        run(5000)  # warm up
        gc.collect()
        tracemalloc.start()
        try:
            run(2000)
            gc.collect()
            traced_before = tracemalloc.get_traced_memory()[0]
            rss_before = rss_kb()
            # Under ASan (every allocation checked, asyncio's 256 KiB recv
            # buffers included) a fifth of it, within the hang guard.
            run(20000 if SANITIZERS else 100000)
            gc.collect()
            traced_after = tracemalloc.get_traced_memory()[0]
            rss_after = rss_kb()
        finally:
            tracemalloc.stop()
        self.assertLess(traced_after - traced_before, 64 * 1024,
                        "traced memory grew by %d bytes" % (traced_after - traced_before))
        # Under ASan every object is a malloc (PYTHONMALLOC=malloc) and freed
        # memory waits in ASan's quarantine: RSS grows whatever the loop.
        if not SANITIZERS:
            self.assertLess(rss_after - rss_before, 8 * 1024, "RSS grew by %d KiB" % (rss_after - rss_before))
        self.close_all(client_tr, server_tr)


if __name__ == "__main__":
    unittest.main()

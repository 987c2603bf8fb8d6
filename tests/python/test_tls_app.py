"""TLS app transport and construction (PyLoop's in C, tls_app.c): the app
transport's methods (is_closing, close, abort, _force_close, the buffer
limits, reading pause, write_eof, __del__'s ResourceWarning, ...),
SSLProtocol.__init__ (its attributes and their order, its ValueErrors, the
default client context) and add_flowcontrol_defaults' rule, the same on
both loops; and, on PyLoop, that each of them is the C one."""

import asyncio
import gc
import unittest
import warnings
import weakref
from asyncio import sslproto

import base
import tls_support
from tls_support import HOST, ssl

# asyncio's sslproto is the 3.11+ one (the one PyLoop ports to C).
NEW_SSLPROTO = hasattr(sslproto, "SSLProtocolState")

TRANSPORT_METHODS = (
    "__init__", "get_extra_info", "set_protocol", "get_protocol", "is_closing", "close", "__del__",
    "is_reading", "pause_reading", "resume_reading", "set_write_buffer_limits", "get_write_buffer_limits",
    "get_write_buffer_size", "set_read_buffer_limits", "get_read_buffer_limits", "get_read_buffer_size",
    "write_eof", "can_write_eof", "abort", "_force_close", "_test__append_write_backlog")
PROTOCOL_METHODS = (
    "__init__", "_set_app_protocol", "_set_write_buffer_limits", "_set_read_buffer_limits",
    "_pause_reading", "_resume_reading")


def outcome(call, *args, **kwargs):
    """('ok', result) or (exception type name, text)"""
    try:
        return ("ok", call(*args, **kwargs))
    except Exception as exc:
        return (type(exc).__name__, str(exc))


@base.both_loops
class _TLSApp(tls_support.TLSCerts):

    def setUp(self):
        # These assert asyncio's 3.11+ sslproto, which PyLoop's C TLS is on
        # 3.10 too (base.NEW_SSLPROTO, per loop).
        if not self.NEW_SSLPROTO:
            self.skipTest(tls_support.NO_STOCK_REFERENCE + " (_SSLPipe): these assert 3.11+'s")
        super().setUp()

    def needs_stock_311(self):
        if not NEW_SSLPROTO:
            self.skipTest(tls_support.NO_STOCK_REFERENCE + ": no asyncio 3.11 class here to compare PyLoop's with")

    async def pair(self):
        server, tr, cli, srv = await tls_support.tls_pair(self)
        self.addCleanup(server.close)
        return server, tr, cli, srv

    async def finish(self, server, tr, cli):
        tr.close()
        await cli.lost
        server.close()
        await server.wait_closed()

    def test_tls_protocol_init_sets_asyncios_attributes(self):
        # The loop's own SSLProtocol class sets every attribute asyncio's
        # sets (PyLoop: C fields, not listed by vars()), with asyncio's
        # values, and no other.
        self.needs_stock_311()
        async def main():
            server, tr, cli, srv = await self.pair()
            cls = type(tr._ssl_protocol)
            waiter = self.loop.create_future()
            app = asyncio.Protocol()
            context = self.client_context()
            ours = cls(self.loop, app, context, waiter, server_hostname="localhost")
            stock = sslproto.SSLProtocol(self.loop, app, context, waiter, server_hostname="localhost")
            names = list(vars(stock))
            self.assertEqual([name for name in names if hasattr(ours, name)], names)
            self.assertLessEqual(set(vars(ours)), set(names))
            for name in ("_server_side", "_server_hostname", "_write_buffer_size", "_state", "_app_state",
                         "_conn_lost", "_incoming_high_water", "_incoming_low_water", "_outgoing_high_water",
                         "_outgoing_low_water", "_ssl_handshake_timeout", "_ssl_shutdown_timeout",
                         "_app_protocol_is_buffer", "_app_transport_created", "_eof_received"):
                with self.subTest(name):
                    self.assertEqual(getattr(ours, name), getattr(stock, name))
            self.assertIs(ours._sslcontext, context)
            self.assertEqual(ours._extra, {"sslcontext": context})
            self.assertIs(ours._app_transport._ssl_protocol, ours)
            self.assertIs(type(ours._app_transport), type(tr))
            self.assertIsInstance(ours._sslobj, ssl.SSLObject)
            self.assertEqual(len(ours._ssl_buffer), cls.max_size)
            # not making the connection, and a server side without a name
            other = cls(self.loop, asyncio.BufferedProtocol(), self.server_context(), None, server_side=True,
                        server_hostname="ignored", call_connection_made=False,
                        ssl_handshake_timeout=3, ssl_shutdown_timeout=4.5)
            self.assertEqual((other._app_state, other._server_hostname, other._app_protocol_is_buffer,
                              other._ssl_handshake_timeout, other._ssl_shutdown_timeout),
                             (sslproto.AppProtocolState.STATE_CON_MADE, None, True, 3, 4.5))
            for each in (ours, stock, other):
                each._app_transport._closed = True
            await self.finish(server, tr, cli)

        self.run_coro(main())

    def test_tls_protocol_attribute_deleted_is_reported_as_asyncio_does(self):
        # An attribute asyncio's __init__ set (PyLoop: a C field) deleted
        # from Python is gone for the C read path too: the next read raises
        # asyncio's AttributeError, which _do_read reports as a fatal
        # error, and the app protocol learns it from connection_lost.
        async def main():
            server, tr, cli, srv = await self.pair()
            proto = tr._ssl_protocol
            del proto._app_protocol_is_buffer
            with self.assertRaises(AttributeError):
                proto._app_protocol_is_buffer
            with self.assertRaises(AttributeError):
                del proto._app_protocol_is_buffer
            srv.transport.write(b"x")
            exc = await cli.lost
            [context] = self.take_loop_errors()
            self.assertEqual((context["message"], context["exception"], context["protocol"]),
                             ("Fatal error on SSL protocol", exc, proto))
            self.assertIsInstance(exc, AttributeError)
            self.assertEqual(str(exc), "'SSLProtocol' object has no attribute '_app_protocol_is_buffer'")
            self.assertEqual(cli.data, b"")
            server.close()
            await server.wait_closed()

        self.run_coro(main())

    def test_tls_protocol_attributes_written_from_python_reach_the_c_methods(self):
        # Attributes written from Python are what the read and write paths
        # read: the app protocol rebound by assignment gets the data, and a
        # write buffer limit set by assignment pauses the app's writing.
        async def main():
            server, tr, cli, srv = await self.pair()
            proto = tr._ssl_protocol
            other = tls_support.Proto()
            proto._app_protocol = other
            srv.transport.write(b"ping")
            await other.received(4)
            self.assertEqual((bytes(other.data), bytes(cli.data)), (b"ping", b""))
            proto._app_protocol = cli
            paused = []
            cli.pause_writing = lambda: paused.append(proto._app_writing_paused)
            proto._outgoing_high_water = 0
            tr.write(b"y" * 64)
            self.assertEqual(paused, [True])
            await self.finish(server, tr, cli)

        self.run_coro(main())

    def test_tls_protocol_collected_in_a_cycle_through_its_attributes(self):
        # A reference cycle through the attributes __init__ set (PyLoop: C
        # fields, visited by the GC) is collected.
        self.needs_stock_311()
        async def main():
            server, tr, cli, srv = await self.pair()
            cls = type(tr._ssl_protocol)
            proto = cls(self.loop, asyncio.Protocol(), self.client_context(), None, server_hostname="localhost")
            proto._app_transport._closed = True
            proto._sslcontext = proto
            proto._waiter = [proto._app_transport, proto]
            ref = weakref.ref(proto)
            del proto
            gc.collect()
            self.assertIsNone(ref())
            await self.finish(server, tr, cli)

        self.run_coro(main())

    def test_tls_protocol_init_errors(self):
        async def main():
            server, tr, cli, srv = await self.pair()
            cls = type(tr._ssl_protocol)
            args = (self.loop, asyncio.Protocol(), self.client_context(), None)
            got = [
                outcome(cls, *args, ssl_handshake_timeout=0),
                outcome(cls, *args, ssl_handshake_timeout=-1.5),
                outcome(cls, *args, ssl_shutdown_timeout=0),
                outcome(cls, *args, ssl_shutdown_timeout=-2),
                outcome(cls, self.loop, asyncio.Protocol(), None, None, server_side=True),
                outcome(cls, self.loop),
            ]
            await self.finish(server, tr, cli)
            return got

        got = self.run_coro(main())
        self.assertEqual(got[:5], [
            ("ValueError", "ssl_handshake_timeout should be a positive number, got 0"),
            ("ValueError", "ssl_handshake_timeout should be a positive number, got -1.5"),
            ("ValueError", "ssl_shutdown_timeout should be a positive number, got 0"),
            ("ValueError", "ssl_shutdown_timeout should be a positive number, got -2"),
            ("ValueError", "Server side SSL needs a valid SSLContext"),
        ])
        self.assertEqual(got[5], ("TypeError", "SSLProtocol.__init__() missing 3 required positional arguments: "
                                               "'app_protocol', 'sslcontext', and 'waiter'"))

    def test_tls_protocol_default_client_context(self):
        # sslcontext=None: ssl.create_default_context(), check_hostname
        # off without a server_hostname
        async def main():
            server, tr, cli, srv = await self.pair()
            cls = type(tr._ssl_protocol)
            named = cls(self.loop, asyncio.Protocol(), None, None, server_hostname="example.org")
            anonymous = cls(self.loop, asyncio.Protocol(), None, None)
            for each in (named, anonymous):
                each._app_transport._closed = True
            await self.finish(server, tr, cli)
            return [(type(p._sslcontext).__name__, p._sslcontext.check_hostname,
                     p._sslcontext.verify_mode == ssl.CERT_REQUIRED, p._server_hostname)
                    for p in (named, anonymous)]

        self.assertEqual(self.run_coro(main()), [("SSLContext", True, True, "example.org"),
                                                 ("SSLContext", False, True, None)])

    def test_tls_buffer_limits(self):
        async def main():
            server, tr, cli, srv = await self.pair()
            got = [tr.get_write_buffer_limits(), tr.get_read_buffer_limits()]
            tr.set_write_buffer_limits(high=400)
            tr.set_read_buffer_limits(low=100)
            got += [tr.get_write_buffer_limits(), tr.get_read_buffer_limits()]
            tr.set_write_buffer_limits(10, 0)
            tr.set_read_buffer_limits(high=0)
            got += [tr.get_write_buffer_limits(), tr.get_read_buffer_limits()]
            got.append(outcome(tr.set_write_buffer_limits, 1, 2))
            got.append(outcome(tr.set_read_buffer_limits, low=-1))
            got.append(outcome(tr.set_write_buffer_limits, high=-4))
            got += [tr.get_write_buffer_limits(), tr.get_read_buffer_limits()]
            got.append(outcome(tr.set_write_buffer_limits, 1, 2, 3))
            tr.set_write_buffer_limits()
            tr.set_read_buffer_limits()
            got += [tr.get_write_buffer_limits(), tr.get_read_buffer_limits(), tr.get_write_buffer_size(),
                    tr.get_read_buffer_size(), tr._protocol_paused]
            await self.finish(server, tr, cli)
            return got

        got = self.run_coro(main())
        self.assertEqual(got[:9], [
            (512 * 1024 // 4, 512 * 1024), (256 * 1024 // 4, 256 * 1024),
            (100, 400), (100, 400), (0, 10), (0, 0),
            ("ValueError", "high (1) must be >= low (2) must be >= 0"),
            ("ValueError", "high (-4) must be >= low (-1) must be >= 0"),
            ("ValueError", "high (-4) must be >= low (-1) must be >= 0"),
        ])
        self.assertEqual(got[9:11], [(0, 10), (0, 0)])
        self.assertEqual(got[11][0], "TypeError")
        self.assertEqual(got[12:], [(131072, 524288), (65536, 262144), 0, 0, False])

    def test_tls_transport_small_methods(self):
        async def main():
            server, tr, cli, srv = await self.pair()
            got = [tr.can_write_eof(), outcome(tr.write_eof), tr.get_extra_info("nothing", 5),
                   tr.get_extra_info("sslcontext") is tr._ssl_protocol._sslcontext,
                   tr.get_extra_info(name="peername") == tr._ssl_protocol._transport.get_extra_info("peername"),
                   tr.get_protocol() is cli, tr.is_closing(), tr.is_reading(),
                   outcome(setattr, tr, "_protocol_paused", True)[0],
                   # asyncio's own property's error, text and all
                   outcome(setattr, tr, "_protocol_paused", True) ==
                   outcome(sslproto._SSLProtocolTransport.__dict__["_protocol_paused"].__set__, tr, True)]
            other = tls_support.Proto()
            self.assertIsNone(tr.set_protocol(other))
            got += [tr.get_protocol() is other, tr._ssl_protocol._app_protocol_is_buffer]
            buffered = asyncio.BufferedProtocol()
            tr.set_protocol(buffered)
            got += [tr._ssl_protocol._app_protocol_is_buffer,
                    tr._ssl_protocol._app_protocol_get_buffer == buffered.get_buffer]
            tr.set_protocol(cli)
            # _test__append_write_backlog: CPython's test_sslproto's helper
            before = tr.get_write_buffer_size()
            tr._ssl_protocol._write_backlog.clear()
            tr._ssl_protocol._write_buffer_size = 0
            tr._test__append_write_backlog(b"abcde")
            got += [before, list(tr._ssl_protocol._write_backlog), tr.get_write_buffer_size()]
            tr._ssl_protocol._write_backlog.clear()
            tr._ssl_protocol._write_buffer_size = 0
            await self.finish(server, tr, cli)
            return got

        self.assertEqual(self.run_coro(main()), [
            False, ("NotImplementedError", ""), 5, True, True, True, False, True,
            "AttributeError", True,
            True, False, True, True, 0, [b"abcde"], 5])

    def test_tls_pause_resume_reading(self):
        async def main():
            server, tr, cli, srv = await self.pair()
            tr.pause_reading()
            got = [tr.is_reading(), tr._ssl_protocol._app_reading_paused]
            tr.pause_reading()
            srv.transport.write(b"held")
            tr.resume_reading()
            got.append(tr.is_reading())
            tr.resume_reading()  # not paused: nothing scheduled
            got.append(await cli.received(4))
            await self.finish(server, tr, cli)
            return got

        self.assertEqual(self.run_coro(main()), [False, True, True, b"held"])

    def test_tls_close_twice_and_is_closing(self):
        async def main():
            server, tr, cli, srv = await self.pair()
            protocol = tr._ssl_protocol
            tr.close()
            got = [tr.is_closing(), tr._closed, tr._ssl_protocol is protocol]
            tr.close()  # asyncio drops the protocol on a second close
            got.append(tr._ssl_protocol)
            got.append(await cli.lost)
            got.append(cli.events)
            server.close()
            await server.wait_closed()
            return got

        self.assertEqual(self.run_coro(main()), [True, True, True, None, None, ["made", "eof", "lost"]])

    def test_tls_is_closing_follows_running_asyncio(self):
        # 3.14+ also asks the protocol whether the TCP transport is closing
        # (_is_transport_closing); 3.11-3.13 answer with _closed alone.
        async def scenario():
            server, tr, cli, srv = await tls_support.tls_pair(self)
            got = [tr.is_closing()]
            tr._ssl_protocol._transport.close()
            got += [tr.is_closing(), tr._closed]
            await cli.lost
            got.append(tr.is_closing())
            server.close()
            await server.wait_closed()
            return got

        got = tls_support.differential(self, scenario, [False, False, False, True])
        self.assertEqual(got[1], hasattr(sslproto.SSLProtocol, "_is_transport_closing"))

    def test_tls_abort(self):
        async def main():
            server, tr, cli, srv = await self.pair()
            tr.abort()
            got = [tr.is_closing(), await cli.lost, cli.events, await srv.lost is None or "error"]
            tr.abort()  # after connection_lost: no protocol to abort any more
            server.close()
            await server.wait_closed()
            return got

        got = self.run_coro(main())
        self.assertEqual(got[:3], [True, None, ["made", "lost"]])

    def test_tls_force_close_follows_running_asyncio(self):
        # 3.11-3.12's _force_close calls _abort(exc), which takes no
        # argument there (a TypeError); 3.13+'s aborts with exc.
        async def scenario():
            server, tr, cli, srv = await tls_support.tls_pair(self)
            exc = ConnectionResetError("gone")
            result = outcome(tr._force_close, exc)
            closed = tr._closed
            if result[0] != "ok":
                tr.abort()
            lost = await cli.lost
            server.close()
            await server.wait_closed()
            return [result[0], closed, lost is exc or lost]

        tls_support.differential(self, scenario, ['TypeError', True, None])

    def test_tls_unclosed_transport_warns(self):
        async def main():
            server, tr, cli, srv = await self.pair()
            cls = type(tr._ssl_protocol)
            proto = cls(self.loop, asyncio.Protocol(), self.client_context(), None, server_hostname="localhost")
            app = proto._app_transport
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                del proto, app
                gc.collect()
                closed = type(tr)(self.loop, None)
                closed._closed = True
                del closed
                gc.collect()
            got = [(w.category, str(w.message)) for w in caught]
            # __del__ called directly, with its _warnings parameter
            seen = []

            class Warnings:
                @staticmethod
                def warn(*args, **kwargs):
                    seen.append((args, kwargs))

            other = type(tr)(self.loop, None)
            other.__del__(Warnings)
            other.__del__(Warnings)
            await self.finish(server, tr, cli)
            return got, seen

        got, seen = self.run_coro(main())
        text = "unclosed transport <asyncio._SSLProtocolTransport object>"
        self.assertEqual(got, [(ResourceWarning, text)])
        self.assertEqual(seen, [((text, ResourceWarning), {})])

    def test_tls_types_stay_asyncios(self):
        # repr, isinstance, weak references and GC of both objects: the C
        # methods (an __init__ among them) add no data to the types
        async def main():
            server, tr, cli, srv = await self.pair()
            protocol = tr._ssl_protocol
            for obj, cls, text in ((tr, asyncio.Transport, "<asyncio.sslproto._SSLProtocolTransport object at "),
                                   (protocol, asyncio.BufferedProtocol, "<asyncio.sslproto.SSLProtocol object at ")):
                with self.subTest(text):
                    self.assertIsInstance(obj, cls)
                    self.assertTrue(repr(obj).startswith(text), repr(obj))
                    self.assertIs(weakref.ref(obj)(), obj)
                    self.assertTrue(gc.is_tracked(obj))
                    self.assertIn("__dict__", dir(obj))
            made = type(protocol)(self.loop, asyncio.Protocol(), self.client_context(), None,
                                  server_hostname="localhost")
            made._app_transport._closed = True
            dead = weakref.ref(made), weakref.ref(made._app_transport)
            del made, protocol
            await self.finish(server, tr, cli)
            gc.collect()
            return [ref() for ref in dead]

        self.assertEqual(self.run_coro(main()), [None, None])

    def test_tls_eof_received_true_warns_and_closes(self):
        # asyncio logs that keeping the connection open has no effect over
        # TLS, and shuts it down anyway
        class KeepOpen(tls_support.Proto):
            def __init__(self):
                super().__init__()
                self.eof_result = True

        async def main():
            server, tr, cli, srv = await tls_support.tls_pair(self, server_factory=KeepOpen)
            with self.assertLogs("asyncio", "WARNING") as logs:
                tr.close()
                got = [await srv.lost, await cli.lost, srv.events, cli.events]
            server.close()
            await server.wait_closed()
            return got, [r.getMessage() for r in logs.records]

        got, messages = self.run_coro(main())
        self.assertEqual(got, [None, None, ["made", "eof", "lost"], ["made", "eof", "lost"]])
        self.assertIn("returning true from eof_received() has no effect when using ssl", messages)

    def test_tls_eof_received_error_reported(self):
        class Failing(tls_support.Proto):
            def eof_received(self):
                super().eof_received()
                raise RuntimeError("eof boom")

        async def main():
            server, tr, cli, srv = await tls_support.tls_pair(self, server_factory=Failing)
            tr.close()
            lost = await srv.lost
            await cli.lost
            server.close()
            await server.wait_closed()
            return lost, srv.events

        lost, events = self.run_coro(main())
        self.assertIsInstance(lost, RuntimeError)
        self.assertEqual(events, ["made", "eof", "lost"])
        errors = self.take_loop_errors()
        self.assertEqual([(e["message"], e["exception"]) for e in errors], [("Error calling eof_received()", lost)])

    def test_tls_shutdown_timeout(self):
        # The peer never answers close_notify (its app reading is paused, so
        # its TLS layer reads nothing): the closing side gives up after
        # ssl_shutdown_timeout; what its protocol sees is the running
        # asyncio's (compared with a stock loop).
        async def scenario():
            # (3.10's API has no ssl_shutdown_timeout: PyLoop's TLS, 3.11's,
            # has the timeout, set on the protocol there)
            server, tr, cli, srv = await tls_support.tls_pair(
                self, client_kwargs={"ssl_shutdown_timeout": 0.2} if NEW_SSLPROTO else None)
            if not NEW_SSLPROTO:
                tr._ssl_protocol._ssl_shutdown_timeout = 0.2
            srv.transport.pause_reading()
            tr.close()
            lost = await cli.lost
            srv.transport.abort()
            await srv.lost
            server.close()
            await server.wait_closed()
            return [type(lost).__name__, cli.events]

        tls_support.differential(self, scenario, ['TimeoutError', ['made', 'lost']])
        self.take_loop_errors()

    def test_tls_peer_closes_mid_handshake(self):
        # A plain TCP server that closes once it has read the ClientHello
        # (a FIN, not the RST an unread ClientHello would make, which races
        # with the accept): what create_connection raises is the running
        # asyncio's (compared with a stock loop)
        async def scenario():
            loop = asyncio.get_running_loop()

            class Closer(asyncio.Protocol):
                def connection_made(self, transport):
                    self.transport = transport

                def data_received(self, data):
                    self.transport.close()

            server = await loop.create_server(Closer, HOST, 0)
            try:
                await loop.create_connection(asyncio.Protocol, *server.sockets[0].getsockname(),
                                             ssl=self.client_context(), server_hostname="localhost")
                result = ("connected",)
            except Exception as exc:
                result = (type(exc).__name__, str(exc))
            server.close()
            await server.wait_closed()
            return result, [e["message"] for e in self.take_loop_errors()]

        got = tls_support.differential(self, scenario)
        self.assertNotEqual(got[0], ("connected",))

    def test_tls_cancelled_during_handshake(self):
        # create_connection cancelled while the peer (plain TCP, never
        # answering the ClientHello) holds the handshake: CancelledError,
        # and the TCP connection is closed
        async def scenario():
            loop = asyncio.get_running_loop()
            made, lost = loop.create_future(), loop.create_future()

            class Silent(asyncio.Protocol):
                def connection_made(self, transport):
                    made.set_result(None)

                def connection_lost(self, exc):
                    lost.set_result(exc)

            server = await loop.create_server(Silent, HOST, 0)
            task = loop.create_task(loop.create_connection(
                asyncio.Protocol, *server.sockets[0].getsockname(), ssl=self.client_context(),
                server_hostname="localhost"))
            await made
            task.cancel()
            try:
                await task
                result = "connected"
            except asyncio.CancelledError:
                result = "cancelled"
            peer = await lost
            server.close()
            await server.wait_closed()
            return result, peer, [e["message"] for e in self.take_loop_errors()]

        self.assertEqual(tls_support.differential(self, scenario)[:2], ("cancelled", None))

    def test_tls_connection_made_error(self):
        # the server's app protocol raising in connection_made after the
        # handshake: what each side sees is the running asyncio's
        async def scenario():
            loop = asyncio.get_running_loop()

            class Failing(asyncio.Protocol):
                def connection_made(self, transport):
                    raise RuntimeError("made boom")

            server = await loop.create_server(Failing, HOST, 0, ssl=self.server_context())
            transport, protocol = await loop.create_connection(
                tls_support.Proto, *server.sockets[0].getsockname(), ssl=self.client_context(),
                server_hostname="localhost")
            transport.close()
            lost = await protocol.lost
            server.close()
            await server.wait_closed()
            errors = self.take_loop_errors()
            return (type(lost).__name__, protocol.events,
                    sorted((e["message"], type(e.get("exception")).__name__) for e in errors))

        tls_support.differential(self, scenario, (
            'NoneType', ['made', 'eof', 'lost'],
            [('Fatal error: protocol.buffer_updated() call failed.', 'RuntimeError')]))


@base.pyloop_only
class _TLSAppInC(tls_support.TLSCerts):

    def test_tls_app_methods_are_the_c_ones(self):
        _pyloop = self.pyloop._pyloop
        if not self.NEW_SSLPROTO:
            self.skipTest("3.10's asyncio has the older sslproto, and this build's C TLS is not complete: "
                          "asyncio's own")
        for cls, names in ((_pyloop.SSLProtocolTransport, TRANSPORT_METHODS),
                           (_pyloop.SSLProtocol, PROTOCOL_METHODS)):
            for name in names:
                with self.subTest(cls=cls.__name__, name=name):
                    self.assertIn(name, cls.__dict__)
                    self.assertEqual(type(cls.__dict__[name]).__name__, "method_descriptor")
        paused = _pyloop.SSLProtocolTransport.__dict__["_protocol_paused"]
        self.assertIsInstance(paused, property)
        self.assertEqual(type(paused.fget).__name__, "builtin_function_or_method")


if __name__ == "__main__":
    unittest.main()

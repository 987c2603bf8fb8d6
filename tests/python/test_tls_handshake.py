"""TLS cold paths: asyncio's 3.11+ SSLProtocol state machine, handshake,
shutdown, eof, connection_lost and error reports (PyLoop's in C,
tls_handshake.c), the same on both loops. Where asyncio's sslproto differs
between releases (_abort(exc), the shutdown timeout kept until
connection_lost), the tests assert what the running asyncio does."""

import asyncio
import contextlib
import logging
import shutil
import subprocess
import types
import unittest
import unittest.mock
from asyncio import sslproto

import base
import tls_support
from tls_support import HOST, ssl

NEW_SSLPROTO = hasattr(sslproto, "SSLProtocolState")


class NeedsNew:
    """Mixin: these assert asyncio's 3.11+ sslproto, which PyLoop's C TLS
    is on 3.10 too (base.NEW_SSLPROTO, per loop)."""

    def setUp(self):
        if not self.NEW_SSLPROTO:
            self.skipTest(tls_support.NO_STOCK_REFERENCE + " (_SSLPipe): these assert 3.11+'s")
        super().setUp()


if NEW_SSLPROTO:
    State = sslproto.SSLProtocolState
    # asyncio 3.13+: _abort(exc) force-closes the transport with exc;
    # 3.11/3.12: _abort() calls transport.abort().
    ABORT_TAKES_EXC = sslproto.SSLProtocol._abort.__code__.co_argcount == 2
    HAS_TRANSPORT_CLOSING = hasattr(sslproto.SSLProtocol, "_is_transport_closing")
elif base.PyLoopTestCase.NEW_SSLPROTO:
    # 3.10: PyLoop's C TLS, asyncio 3.11's (its names are _pyloop's)
    State = base.pyloop_module()._pyloop.SSLProtocolState
    ABORT_TAKES_EXC = HAS_TRANSPORT_CLOSING = False

# The methods tls_handshake.c ports (asyncio's names).
PORTED = ("_set_state", "connection_made", "_start_handshake", "_check_handshake_timeout", "_do_handshake",
          "_on_handshake_complete", "_start_shutdown", "_check_shutdown_timeout", "_do_flush", "_do_shutdown",
          "_on_shutdown_complete", "_abort", "eof_received", "_call_eof_received", "connection_lost",
          "_fatal_error", "_wakeup_waiter", "_get_extra_info", "pause_writing", "resume_writing")


class FakeTransport:
    """The low-level transport, recording what the protocol asks of it."""

    def __init__(self, loop):
        self.calls = []
        self.forced = loop.create_future()

    def write(self, data):
        self.calls.append("write")

    def abort(self):
        self.calls.append("abort")

    def _force_close(self, exc):
        self.calls.append(("_force_close", type(exc).__name__, str(exc)) if exc is not None else ("_force_close",))
        if not self.forced.done():
            self.forced.set_result(exc)

    def close(self):
        self.calls.append("close")

    def is_closing(self):
        return False

    def get_extra_info(self, name, default=None):
        return ("transport", name, default)

    def pause_reading(self):
        self.calls.append("pause_reading")

    def resume_reading(self):
        self.calls.append("resume_reading")


class Recorder(asyncio.Protocol):
    def __init__(self, loop, eof_result=None, eof_error=None):
        self.events = []
        self.data = bytearray()
        self.lost = loop.create_future()
        self.eof_result = eof_result
        self.eof_error = eof_error

    def connection_made(self, transport):
        self.transport = transport
        self.events.append("made")

    def data_received(self, data):
        self.data += data

    def eof_received(self):
        self.events.append("eof")
        if self.eof_error is not None:
            raise self.eof_error
        return self.eof_result

    def connection_lost(self, exc):
        self.events.append("lost")
        self.lost.set_result(exc)


class Accepting(asyncio.Protocol):
    """A plain TCP (or TLS) server side: `made` resolves with its transport,
    `lost` at connection_lost."""

    def __init__(self, loop, on_made=None):
        self.made = loop.create_future()
        self.lost = loop.create_future()
        self.on_made = on_made

    def connection_made(self, transport):
        self.transport = transport
        if self.on_made:
            self.on_made(transport)
        self.made.set_result(transport)

    def connection_lost(self, exc):
        if not self.lost.done():
            self.lost.set_result(exc)


@base.both_loops
class _TLSHandshake(NeedsNew, tls_support.TLSCerts):

    def protocol_class(self):
        if self.LOOP_NAME == "pyloop":
            return self.pyloop._pyloop.SSLProtocol
        return sslproto.SSLProtocol

    def make_protocol(self, app=None, **kwargs):
        waiter = self.loop.create_future()
        proto = self.protocol_class()(self.loop, app or Recorder(self.loop), self.client_context(), waiter,
                                      server_hostname="localhost", **kwargs)
        self.addCleanup(self.forget_app_transport, proto)
        return proto, waiter

    @staticmethod
    def forget_app_transport(proto):
        # a protocol these tests drive by hand gets no connection_lost:
        # its app transport would warn "unclosed transport" when collected
        transport = proto._app_transport
        if transport is not None:
            transport._closed = True

    async def plain_server(self, on_made=None):
        accepted = []

        def factory():
            accepted.append(Accepting(self.loop, on_made))
            return accepted[-1]

        server = await self.loop.create_server(factory, HOST, 0)
        self.addCleanup(server.close)
        return server, server.sockets[0].getsockname()[1], accepted

    async def tls_connection(self, client, server_on_made=None):
        accepted = []

        def factory():
            accepted.append(Accepting(self.loop, server_on_made))
            return accepted[-1]

        server = await self.loop.create_server(factory, HOST, 0, ssl=self.server_context())
        self.addCleanup(server.close)
        port = server.sockets[0].getsockname()[1]
        transport, protocol = await self.loop.create_connection(
            lambda: client, HOST, port, ssl=self.client_context(), server_hostname="localhost")
        # The server's side of the handshake ends after the client's (it
        # reads the client's Finished): wait for it, as finish() needs it.
        await accepted[0].made
        return server, transport, accepted

    async def finish(self, server, accepted):
        for each in accepted:
            if not each.lost.done():
                each.transport.abort()
            await each.lost
        server.close()
        await server.wait_closed()

    # ---- the state machine ----------------------------------------------

    def test_tls_set_state_transitions(self):
        allowed = {(State.UNWRAPPED, State.DO_HANDSHAKE), (State.DO_HANDSHAKE, State.WRAPPED),
                   (State.WRAPPED, State.FLUSHING), (State.FLUSHING, State.SHUTDOWN)}
        proto, waiter = self.make_protocol()
        for old in State:
            for new in State:
                proto._state = old
                if new is State.UNWRAPPED or (old, new) in allowed:
                    proto._set_state(new)
                    self.assertIs(proto._state, new)
                else:
                    with self.assertRaises(RuntimeError) as caught:
                        proto._set_state(new)
                    self.assertEqual(str(caught.exception), "cannot switch state from %s to %s" % (old, new))
                    self.assertIs(proto._state, old)
        with self.assertRaises(RuntimeError) as caught:
            proto._state = State.WRAPPED
            proto._set_state(new_state=State.DO_HANDSHAKE)
        self.assertEqual(str(caught.exception),
                         "cannot switch state from SSLProtocolState.WRAPPED to SSLProtocolState.DO_HANDSHAKE")
        with self.assertRaises(TypeError):
            proto._set_state()

    # ---- the handshake, with a recording transport ------------------------

    def test_tls_close_during_handshake_aborts(self):
        async def main():
            proto, waiter = self.make_protocol()
            fake = FakeTransport(self.loop)
            proto.connection_made(fake)
            self.assertIs(proto._transport, fake)
            self.assertIs(proto._state, State.DO_HANDSHAKE)
            self.assertEqual(fake.calls, ["write"])  # the ClientHello
            handle = proto._handshake_timeout_handle
            self.assertIsNotNone(handle)
            app_transport = proto._get_app_transport()
            app_transport.close()
            self.assertIs(proto._state, State.UNWRAPPED)
            self.assertEqual(fake.calls, ["write", ("_force_close",) if ABORT_TAKES_EXC else "abort"])
            self.assertFalse(waiter.done())
            proto.connection_lost(None)
            self.assertTrue(handle.cancelled())
            self.assertIsNone(proto._handshake_timeout_handle)
            self.assertIsNone(proto._transport)
            self.assertIsNone(proto._app_protocol)
            self.assertIsNone(waiter.result())  # asyncio wakes it with None

        self.run_coro(main())

    def test_tls_handshake_timeout_fake_transport(self):
        async def main():
            proto, waiter = self.make_protocol(ssl_handshake_timeout=0.01)
            fake = FakeTransport(self.loop)
            self.loop.set_debug(True)
            with self.assertLogs("asyncio", logging.DEBUG) as logs:
                proto.connection_made(fake)
                exc = await fake.forced
            self.loop.set_debug(False)
            self.assertIsInstance(exc, ConnectionAbortedError)
            self.assertEqual(fake.calls, ["write", ("_force_close", "ConnectionAbortedError",
                                                    "SSL handshake is taking longer than 0.01 seconds: aborting "
                                                    "the connection")])
            messages = [r.getMessage() for r in logs.records]
            self.assertEqual(messages, ["%r starts SSL handshake" % proto, "%r: Fatal error on transport" % proto])
            # not inside an `except`: exc_info=True logs no exception
            self.assertEqual(logs.records[1].exc_info, (None, None, None))
            self.assertIsInstance(proto._handshake_start_time, float)
            self.assertFalse(waiter.done())
            proto.connection_lost(exc)
            self.assertIs(waiter.exception(), exc)

        self.run_coro(main())

    def test_tls_handshake_start_time_without_debug(self):
        proto, waiter = self.make_protocol()
        proto.connection_made(FakeTransport(self.loop))
        self.assertIsNone(proto._handshake_start_time)
        proto.connection_lost(None)

    def test_tls_eof_during_handshake_fake(self):
        async def main():
            proto, waiter = self.make_protocol()
            fake = FakeTransport(self.loop)
            proto.connection_made(fake)
            self.assertIsNone(proto.eof_received())
            self.assertTrue(proto._eof_received)
            self.assertIs(proto._state, State.UNWRAPPED)
            self.assertEqual(fake.calls, ["write", ("_force_close", "ConnectionResetError", "")])
            self.assertIsInstance(waiter.exception(), ConnectionResetError)
            self.assertEqual(waiter.exception().args, ())
            self.assertIsNone(proto._handshake_timeout_handle)

        self.run_coro(main())

    def test_tls_on_handshake_complete_odd_argument(self):
        # `raise handshake_exc` of something not an exception: the
        # TypeError is handled as the handshake's failure.
        async def main():
            proto, waiter = self.make_protocol()
            proto.connection_made(FakeTransport(self.loop))
            proto._on_handshake_complete(handshake_exc=42)
            self.assertIsInstance(waiter.exception(), TypeError)
            self.assertEqual(str(waiter.exception()), "exceptions must derive from BaseException")

        self.run_coro(main())
        errors = self.take_loop_errors()
        self.assertEqual([e["message"] for e in errors], ["SSL handshake failed"])

    # ---- errors and the rest, with a recording transport ------------------

    def test_tls_fatal_error_rules(self):
        proto, waiter = self.make_protocol()
        fake = FakeTransport(self.loop)
        proto._transport = fake
        proto._fatal_error(OSError("os"))
        proto._fatal_error(asyncio.CancelledError())
        self.assertEqual(self.take_loop_errors(), [])
        value = ValueError("v")
        proto._fatal_error(value, message="custom")
        proto._fatal_error(KeyError("k"))
        errors = self.take_loop_errors()
        self.assertEqual([sorted(e) for e in errors], [["exception", "message", "protocol", "transport"]] * 2)
        self.assertEqual([e["message"] for e in errors], ["custom", "Fatal error on transport"])
        self.assertIs(errors[0]["exception"], value)
        self.assertIs(errors[0]["transport"], fake)
        self.assertIs(errors[0]["protocol"], proto)
        self.assertEqual([c[:2] for c in fake.calls], [("_force_close", "OSError"),
                                                      ("_force_close", "CancelledError"),
                                                      ("_force_close", "ValueError"),
                                                      ("_force_close", "KeyError")])
        proto._transport = None
        proto._fatal_error(OSError("no transport"))
        self.assertEqual(len(fake.calls), 4)

    def test_tls_extra_info_and_waiter(self):
        proto, waiter = self.make_protocol()
        self.assertIs(proto._get_extra_info("nothing"), None)
        self.assertEqual(proto._get_extra_info("nothing", 3), 3)
        proto._extra["here"] = 1
        self.assertEqual(proto._get_extra_info(name="here", default=3), 1)
        proto._transport = FakeTransport(self.loop)
        self.assertEqual(proto._get_extra_info("x", 3), ("transport", "x", 3))
        self.assertEqual(proto._get_extra_info("x"), ("transport", "x", None))
        proto._wakeup_waiter()
        self.assertIsNone(waiter.result())
        self.assertIsNone(proto._waiter)
        proto._wakeup_waiter(ValueError())  # no waiter: nothing
        cancelled = self.loop.create_future()
        cancelled.cancel()
        proto._waiter = cancelled
        proto._wakeup_waiter(exc=ValueError())
        self.assertIsNone(proto._waiter)

    def test_tls_pause_resume_writing(self):
        proto, waiter = self.make_protocol()
        outgoing = []
        proto._process_outgoing = lambda: outgoing.append(1)
        proto.pause_writing()
        self.assertTrue(proto._ssl_writing_paused)
        if __debug__:
            with self.assertRaises(AssertionError):
                proto.pause_writing()
        proto.resume_writing()
        self.assertFalse(proto._ssl_writing_paused)
        self.assertEqual(outgoing, [1])
        if __debug__:
            with self.assertRaises(AssertionError):
                proto.resume_writing()
            self.assertEqual(outgoing, [1])

    def test_tls_abort_signature(self):
        proto, waiter = self.make_protocol()
        fake = FakeTransport(self.loop)
        proto._transport = fake
        if ABORT_TAKES_EXC:
            with self.assertRaises(TypeError):
                proto._abort()
            proto._abort(ValueError("x"))
            self.assertEqual(fake.calls, [("_force_close", "ValueError", "x")])
        else:
            with self.assertRaises(TypeError):
                proto._abort(None)
            proto._abort()
            self.assertEqual(fake.calls, ["abort"])
        self.assertIs(proto._state, State.UNWRAPPED)

    def test_tls_is_transport_closing(self):
        proto, waiter = self.make_protocol()
        if not HAS_TRANSPORT_CLOSING:
            self.assertFalse(hasattr(proto, "_is_transport_closing"))
            return
        self.assertIs(proto._is_transport_closing(), False)
        proto._transport = FakeTransport(self.loop)
        self.assertIs(proto._is_transport_closing(), False)

    # ---- real connections --------------------------------------------------

    def test_tls_peer_closes_mid_handshake(self):
        async def main():
            # The peer half-closes before answering the ClientHello.
            server, port, accepted = await self.plain_server(on_made=lambda t: t.write_eof())
            client = Recorder(self.loop)
            with self.assertRaises(ConnectionResetError) as caught:
                await self.loop.create_connection(lambda: client, HOST, port, ssl=self.client_context(),
                                                  server_hostname="localhost")
            self.assertEqual(caught.exception.args, ())
            self.assertEqual(client.events, [])
            await self.finish(server, accepted)

        self.run_coro(main())

    def test_tls_cancel_during_handshake(self):
        async def main():
            server, port, accepted = await self.plain_server()  # never answers
            client = Recorder(self.loop)
            task = self.loop.create_task(self.loop.create_connection(
                lambda: client, HOST, port, ssl=self.client_context(), server_hostname="localhost"))
            while not accepted:
                await base.next_round()  # sleep(0) never polls on the baseline phase
            await accepted[0].made
            task.cancel()
            with self.assertRaises(asyncio.CancelledError):
                await task
            await accepted[0].lost  # the client closed its socket
            self.assertEqual(client.events, [])
            server.close()
            await server.wait_closed()

        self.run_coro(main())

    def test_tls_shutdown_timeout(self):
        async def main():
            # The peer stops reading: our close_notify is never answered.
            client = Recorder(self.loop)
            accepted = []

            def factory():
                accepted.append(Accepting(self.loop, on_made=lambda t: t.pause_reading()))
                return accepted[-1]

            server = await self.loop.create_server(factory, HOST, 0, ssl=self.server_context())
            port = server.sockets[0].getsockname()[1]
            # (3.10's API has no ssl_shutdown_timeout: PyLoop's TLS, 3.11's,
            # has the timeout, set on the protocol there)
            timeout = {"ssl_shutdown_timeout": 0.05} if NEW_SSLPROTO else {}
            transport, _ = await self.loop.create_connection(
                lambda: client, HOST, port, ssl=self.client_context(), server_hostname="localhost", **timeout)
            await accepted[0].made
            ssl_protocol = transport._ssl_protocol
            if not NEW_SSLPROTO:
                self.assertEqual(ssl_protocol._ssl_shutdown_timeout, 30.0)
                ssl_protocol._ssl_shutdown_timeout = 0.05
            transport.close()
            self.assertIs(ssl_protocol._state, State.SHUTDOWN)
            self.assertIsNotNone(ssl_protocol._shutdown_timeout_handle)
            exc = await client.lost
            self.assertIsInstance(exc, TimeoutError)
            self.assertEqual(str(exc), "SSL shutdown timed out")
            self.assertIsNone(ssl_protocol._shutdown_timeout_handle)
            self.assertEqual(client.events, ["made", "lost"])
            await self.finish(server, accepted)

        self.run_coro(main())

    def test_tls_eof_received_paused_returns_true(self):
        async def main():
            client = Recorder(self.loop)
            server, transport, accepted = await self.tls_connection(client)
            proto = transport._ssl_protocol
            transport.pause_reading()
            self.assertIs(proto.eof_received(), True)
            self.assertIs(proto._state, State.FLUSHING)
            self.assertEqual(client.events, ["made"])
            transport.abort()
            self.assertIsNone(await client.lost)
            await self.finish(server, accepted)

        self.run_coro(main())

    def test_tls_eof_received_flushes_and_closes(self):
        async def main():
            client = Recorder(self.loop)
            server, transport, accepted = await self.tls_connection(client)
            proto = transport._ssl_protocol
            self.assertIsNone(proto.eof_received())
            self.assertIs(proto._state, State.SHUTDOWN)
            self.assertIsNone(await client.lost)
            self.assertEqual(client.events, ["made", "eof", "lost"])
            self.assertIs(proto._state, State.UNWRAPPED)
            await self.finish(server, accepted)

        self.run_coro(main())

    def peer_closes(self, client):
        async def main():
            server, transport, accepted = await self.tls_connection(client, server_on_made=lambda t: t.close())
            exc = await client.lost
            await self.finish(server, accepted)
            return exc

        return self.run_coro(main())

    def test_tls_app_eof_received_true_warns(self):
        client = Recorder(self.loop, eof_result=True)
        with self.assertLogs("asyncio", logging.WARNING) as logs:
            self.assertIsNone(self.peer_closes(client))
        self.assertEqual([r.getMessage() for r in logs.records],
                         ["returning true from eof_received() has no effect when using ssl"])
        self.assertEqual(client.events, ["made", "eof", "lost"])

    def test_tls_app_eof_received_false_is_quiet(self):
        client = Recorder(self.loop, eof_result=False)
        with self.assertNoLogs("asyncio", logging.WARNING):
            self.assertIsNone(self.peer_closes(client))
        self.assertEqual(client.events, ["made", "eof", "lost"])

    def test_tls_app_eof_received_error_reported(self):
        error = ValueError("eof boom")
        client = Recorder(self.loop, eof_error=error)
        self.assertIs(self.peer_closes(client), error)
        self.assertEqual(client.events, ["made", "eof", "lost"])
        errors = self.take_loop_errors()
        self.assertEqual([e["message"] for e in errors], ["Error calling eof_received()"])
        self.assertIs(errors[0]["exception"], error)
        self.assertIsInstance(errors[0]["protocol"], self.protocol_class())

    def test_tls_app_connection_made_error_reported(self):
        loop = self.loop

        class Failing(Recorder):
            def connection_made(self, transport):
                super().connection_made(transport)
                raise ValueError("made boom")

        async def main():
            client = Failing(loop)
            server = await loop.create_server(lambda: Accepting(loop), HOST, 0, ssl=self.server_context())
            port = server.sockets[0].getsockname()[1]
            # the error leaves buffer_updated: the socket transport's
            # _fatal_error closes it, connection_lost wakes the waiter
            with self.assertRaises(ValueError) as caught:
                await loop.create_connection(lambda: client, HOST, port, ssl=self.client_context(),
                                             server_hostname="localhost")
            exc = await client.lost
            self.assertIs(exc, caught.exception)
            server.close()
            await server.wait_closed()
            return client, exc

        client, exc = self.run_coro(main())
        self.assertIsInstance(exc, ValueError)
        self.assertEqual(client.events, ["made", "lost"])
        errors = self.take_loop_errors()
        self.assertEqual(len(errors), 1)
        self.assertIs(errors[0]["exception"], exc)
        self.assertEqual(errors[0]["message"], "Fatal error: protocol.buffer_updated() call failed.")

    def test_tls_certificate_failure_logged_in_debug(self):
        async def main():
            server = await self.loop.create_server(lambda: Accepting(self.loop), HOST, 0,
                                                   ssl=self.server_context())
            port = server.sockets[0].getsockname()[1]
            self.loop.set_debug(True)
            with self.assertLogs("asyncio", logging.DEBUG) as logs:
                with self.assertRaises(ssl.SSLCertVerificationError) as caught:
                    await self.loop.create_connection(lambda: Recorder(self.loop), HOST, port,
                                                      ssl=self.untrusting_client_context(),
                                                      server_hostname="localhost")
                # In debug mode the server's accept is asyncio's task, which
                # ends when its side of the failed handshake does: after the
                # client's, in an iteration of its own.
                accepts = [task for task in asyncio.all_tasks(self.loop)
                           if task.get_coro().__qualname__.endswith("_accept_connection2")]
                if accepts:
                    await asyncio.wait(accepts)
            self.loop.set_debug(False)
            server.close()
            await server.wait_closed()
            return logs, caught.exception

        logs, exc = self.run_coro(main())
        failed = [r for r in logs.records if r.getMessage().endswith(": SSL handshake failed on verifying the "
                                                                     "certificate")]
        self.assertEqual(len(failed), 1)
        self.assertIs(failed[0].exc_info[1], exc)
        # The client's OSError is logged, not reported; the server's side of
        # the handshake, which the test waited for, is reported by asyncio's
        # debug-mode accept (_accept_connection2), on both loops.
        errors = self.take_loop_errors()
        self.assertEqual([e for e in errors if e.get("exception") is exc], [])
        self.assertEqual({e["message"] for e in errors} - {"Error on transport creation for incoming connection"}, set())

    def test_tls_read_error_logged_in_debug_with_exception(self):
        # A record that does not decrypt: _do_read's `except Exception as
        # ex: self._fatal_error(ex, ...)`; an SSLError is an OSError, logged
        # in debug mode with the exception being handled (exc_info=True).
        async def main():
            client = Recorder(self.loop)
            server, transport, accepted = await self.tls_connection(client)
            peer = await accepted[0].made
            self.loop.set_debug(True)
            with self.assertLogs("asyncio", logging.DEBUG) as logs:
                peer._ssl_protocol._transport.write(b"\x17\x03\x03\x00\x20" + b"\x00" * 32)
                exc = await client.lost
            self.loop.set_debug(False)
            await self.finish(server, accepted)
            return logs, exc

        logs, exc = self.run_coro(main())
        self.assertIsInstance(exc, ssl.SSLError)
        fatal = [r for r in logs.records if r.getMessage().endswith(": Fatal error on SSL protocol")]
        self.assertEqual(len(fatal), 1)
        self.assertIs(fatal[0].exc_info[1], exc)
        self.assertEqual(self.take_loop_errors(), [])

    @unittest.skipUnless(shutil.which("openssl"), "needs the openssl command (s_client) to renegotiate")
    def test_tls_client_renegotiation_refused(self):
        # asyncio leaves renegotiation to OpenSSL through SSLObject (the ssl
        # module cannot start one): a TLS 1.2 peer asking for one (s_client's
        # "R" command) is refused by OpenSSL, and the connection ends with
        # the SSLError the refusal leads to, reported as asyncio reports it.
        loop = self.loop

        class Server(Recorder):
            def data_received(self, data):
                super().data_received(data)
                got.set_result(data)

        async def main():
            ctx = self.server_context()
            ctx.maximum_version = ssl.TLSVersion.TLSv1_2
            server_protocol = Server(loop)
            server = await loop.create_server(lambda: server_protocol, HOST, 0, ssl=ctx)
            port = server.sockets[0].getsockname()[1]
            proc = await asyncio.create_subprocess_exec(
                "openssl", "s_client", "-connect", "%s:%d" % (HOST, port), "-tls1_2",
                stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                proc.stdin.write(b"hello\n")
                self.assertEqual(await got, b"hello\n")
                proc.stdin.write(b"R\n")
                exc = await server_protocol.lost
            finally:
                if proc.returncode is None:
                    proc.kill()
                await proc.wait()
            server.close()
            await server.wait_closed()
            return server_protocol, exc

        got = loop.create_future()
        server_protocol, exc = self.run_coro(main())
        self.assertIsInstance(exc, ssl.SSLError)
        self.assertEqual(server_protocol.events, ["made", "lost"])
        self.assertEqual(self.take_loop_errors(), [])  # an OSError: not reported

    def test_tls_patched_base_methods_are_honoured(self):
        # mock.patch.object(sslproto.SSLProtocol, ...) (CPython's
        # test_sslproto does it) reaches the loop's protocol, whose class
        # is asyncio's or a subclass of it.
        calls = []
        originals = {name: getattr(sslproto.SSLProtocol, name)
                     for name in ("connection_made", "_on_handshake_complete", "_start_shutdown", "connection_lost")}

        def spy(name):
            def method(proto, *args, **kwargs):
                calls.append(name)
                return originals[name](proto, *args, **kwargs)
            return method

        async def main():
            client = Recorder(self.loop)
            server, transport, accepted = await self.tls_connection(client)
            transport.close()
            await client.lost
            await self.finish(server, accepted)

        with contextlib.ExitStack() as stack:
            for name in originals:
                stack.enter_context(unittest.mock.patch.object(sslproto.SSLProtocol, name, spy(name)))
            self.run_coro(main())
        for name in originals:
            if NEW_SSLPROTO:
                self.assertIn(name, calls)
            self.assertIs(getattr(sslproto.SSLProtocol, name), originals[name])
        if not NEW_SSLPROTO:
            # 3.10: PyLoop's C TLS is 3.11's, no subclass of 3.10's class
            self.assertEqual(calls, [])


@base.pyloop_only
class _TLSHandshakeInC(NeedsNew, tls_support.TLSCerts):

    def test_tls_cold_paths_are_c(self):
        cls = self.pyloop._pyloop.SSLProtocol
        for name in PORTED:
            with self.subTest(name=name):
                self.assertIsInstance(cls.__dict__.get(name), types.MethodDescriptorType)
        self.assertEqual("_is_transport_closing" in cls.__dict__, HAS_TRANSPORT_CLOSING)
        if HAS_TRANSPORT_CLOSING:
            self.assertIsInstance(cls.__dict__["_is_transport_closing"], types.MethodDescriptorType)


if __name__ == "__main__":
    unittest.main()

"""TLS core: asyncio's 3.11+ SSLProtocol and its app transport (PyLoop's
with the read/write path in C, tls_transport.c), the same on both loops:
the classes a program sees, BufferedProtocol and Protocol reads, write()'s
checks, both directions' flow control, the error reports, close_notify,
start_tls and the handshake timeout."""

import asyncio
import os
import types
import unittest
from asyncio import sslproto

import base
import tls_support
from tls_support import HOST, ssl

# asyncio's sslproto is the 3.11+ one (the one PyLoop ports to C).
NEW_SSLPROTO = hasattr(sslproto, "SSLProtocolState")


def asyncio311():
    """asyncio 3.11+'s sslproto, its classes: the running asyncio's
    module on 3.11+; on 3.10 (PyLoop only: its C TLS) a namespace with the
    C types in 3.11's classes' place."""
    if NEW_SSLPROTO:
        return sslproto
    _pyloop = base.pyloop_module()._pyloop
    return types.SimpleNamespace(SSLProtocol=_pyloop.SSLProtocol, _SSLProtocolTransport=_pyloop.SSLProtocolTransport)


def add_flowcontrol_defaults(high, low, kb):
    # asyncio 3.11's sslproto.add_flowcontrol_defaults (3.10 has none)
    hi = (kb * 1024 if low is None else 4 * low) if high is None else high
    lo = hi // 4 if low is None else low
    if not hi >= lo >= 0:
        raise ValueError('high (%r) must be >= low (%r) must be >= 0' % (hi, lo))
    return hi, lo


class Recorder(asyncio.Protocol):
    """Records its calls; `lost` resolves at connection_lost."""

    def __init__(self, loop):
        self.events = []
        self.data = bytearray()
        self.made = loop.create_future()
        self.lost = loop.create_future()
        self.eof = loop.create_future()
        self.transport = None

    def connection_made(self, transport):
        self.transport = transport
        self.events.append("made")
        self.made.set_result(transport)

    def data_received(self, data):
        self.data += data

    def eof_received(self):
        self.events.append("eof")
        self.eof.set_result(None)

    def pause_writing(self):
        self.events.append("pause")

    def resume_writing(self):
        self.events.append("resume")

    def connection_lost(self, exc):
        self.events.append("lost")
        self.lost.set_result(exc)


class Echo(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        self.transport.write(data)


async def close_all(server, transport, protocol):
    """Close the client transport, wait for its connection_lost, then the
    server."""
    transport.close()
    await protocol.lost
    server.close()
    await server.wait_closed()


@base.both_loops
class _TLSCore(tls_support.TLSCerts):

    def setUp(self):
        # These assert asyncio's 3.11+ sslproto: on 3.10, PyLoop's C TLS
        # (test_tls_entry/test_tls_transport cover asyncio 3.10's own).
        if not self.NEW_SSLPROTO:
            self.skipTest(tls_support.NO_STOCK_REFERENCE + " (these assert 3.11+'s)")
        super().setUp()
        self.sslproto = asyncio311()

    async def connect(self, server_factory, client_factory, **kwargs):
        server = await self.loop.create_server(server_factory, HOST, 0, ssl=self.server_context())
        self.addCleanup(server.close)
        port = server.sockets[0].getsockname()[1]
        transport, protocol = await self.loop.create_connection(
            client_factory, HOST, port, ssl=self.client_context(), server_hostname="localhost", **kwargs)
        return server, transport, protocol

    def test_tls_classes_are_asyncios(self):
        async def main():
            server, transport, protocol = await self.connect(Echo, lambda: Recorder(self.loop))
            self.assertIsInstance(transport, self.sslproto._SSLProtocolTransport)
            self.assertEqual(type(transport).__name__, "_SSLProtocolTransport")
            self.assertEqual(type(transport).__module__, "asyncio.sslproto")
            ssl_protocol = transport._ssl_protocol
            self.assertIsInstance(ssl_protocol, self.sslproto.SSLProtocol)
            self.assertIsInstance(ssl_protocol, asyncio.BufferedProtocol)
            self.assertEqual(type(ssl_protocol).__name__, "SSLProtocol")
            self.assertTrue(repr(ssl_protocol).startswith("<asyncio.sslproto.SSLProtocol object at "))
            self.assertIs(ssl_protocol._app_transport, transport)
            self.assertIs(transport.get_protocol(), protocol)
            transport.close()
            self.assertIsNone(await protocol.lost)
            server.close()
            await server.wait_closed()

        self.run_coro(main())

    def test_tls_extra_info(self):
        async def main():
            client_context = self.client_context()
            server = await self.loop.create_server(Echo, HOST, 0, ssl=self.server_context())
            port = server.sockets[0].getsockname()[1]
            transport, protocol = await self.loop.create_connection(
                lambda: Recorder(self.loop), HOST, port, ssl=client_context, server_hostname="localhost")
            self.assertIs(transport.get_extra_info("sslcontext"), client_context)
            sslobj = transport.get_extra_info("ssl_object")
            self.assertIsInstance(sslobj, ssl.SSLObject)
            self.assertEqual(transport.get_extra_info("cipher"), sslobj.cipher())
            self.assertEqual(transport.get_extra_info("compression"), sslobj.compression())
            self.assertEqual(transport.get_extra_info("peercert"), sslobj.getpeercert())
            self.assertEqual(transport.get_extra_info("peername"), (HOST, port))
            self.assertIsNotNone(transport.get_extra_info("socket"))
            marker = object()
            self.assertIs(transport.get_extra_info("no such key", marker), marker)
            await close_all(server, transport, protocol)

        self.run_coro(main())

    def read_whole(self, protocol_factory, payload):
        async def main():
            server, transport, protocol = await self.connect(Echo, protocol_factory)
            transport.write(payload)
            await protocol.done
            got = bytes(protocol.data)
            await close_all(server, transport, protocol)
            return got

        return self.run_coro(main(), timeout=30)

    def test_tls_buffered_protocol_small_buffer(self):
        # BufferedProtocol over TLS: SSLObject.read(n, buffer) into a
        # buffer smaller than a record, refilled until the record is out
        # (asyncio's _do_read__buffered and its call_soon of _do_read).
        payload = os.urandom(300 * 1024)
        loop = self.loop

        class Buffered(asyncio.BufferedProtocol):
            def __init__(self):
                self.buffer = bytearray(1000)
                self.data = bytearray()
                self.done = loop.create_future()
                self.lost = loop.create_future()
                self.sizes = set()

            def get_buffer(self, sizehint):
                self.sizes.add(type(sizehint))
                return memoryview(self.buffer)

            def buffer_updated(self, nbytes):
                self.data += self.buffer[:nbytes]
                if len(self.data) >= len(payload) and not self.done.done():
                    self.done.set_result(None)

            def connection_lost(self, exc):
                self.lost.set_result(exc)

        self.assertEqual(self.read_whole(Buffered, payload), payload)

    def test_tls_protocol_reads_join_records(self):
        payload = os.urandom(700 * 1024)
        loop = self.loop

        class Copied(Recorder):
            def __init__(self):
                super().__init__(loop)
                self.done = loop.create_future()
                self.calls = 0

            def data_received(self, data):
                self.assertType = type(data)
                self.calls += 1
                super().data_received(data)
                if len(self.data) >= len(payload) and not self.done.done():
                    self.done.set_result(None)

        self.assertEqual(self.read_whole(Copied, payload), payload)

    def test_tls_write_checks(self):
        async def main():
            server, transport, protocol = await self.connect(Echo, lambda: Recorder(self.loop))
            with self.assertRaises(TypeError) as caught:
                transport.write("text")
            self.assertEqual(str(caught.exception), "data: expecting a bytes-like instance, got str")
            with self.assertRaises(TypeError) as caught:
                transport.write()
            self.assertEqual(str(caught.exception),
                             "_SSLProtocolTransport.write() missing 1 required positional argument: 'data'")
            transport.write(b"")
            transport.write(data=b"k")
            transport.writelines([b"a", bytearray(b"b"), memoryview(b"c")])
            transport.writelines(iter([b"d"]))
            self.assertEqual(transport.get_write_buffer_size(), 0)
            while len(protocol.data) < 5:
                await asyncio.sleep(0.01)
            self.assertEqual(bytes(protocol.data), b"kabcd")
            self.assertFalse(transport.can_write_eof())
            with self.assertRaises(NotImplementedError):
                transport.write_eof()
            transport.close()
            self.assertTrue(transport.is_closing())
            # writes once closed are counted and dropped, as asyncio's
            transport.write(b"late")
            transport.writelines([b"late"])
            await protocol.lost
            server.close()
            await server.wait_closed()

        self.run_coro(main())

    def test_tls_write_flow_control_sequence(self):
        # _control_app_writing's pause/resume sequence for scripted limits
        # and writes (what is written leaves the outgoing BIO at once).
        async def main():
            server, transport, protocol = await self.connect(Echo, lambda: Recorder(self.loop))
            low, high = transport.get_write_buffer_limits()
            self.assertEqual((low, high), add_flowcontrol_defaults(
                None, None, getattr(asyncio.constants, "FLOW_CONTROL_HIGH_WATER_SSL_WRITE", 512))[::-1])
            transport.set_write_buffer_limits(high=0)
            self.assertEqual(transport.get_write_buffer_limits(), (0, 0))
            transport.write(b"x")
            transport.write(b"y")
            transport.set_write_buffer_limits(high=10, low=5)
            transport.write(b"z")
            with self.assertRaises(ValueError):
                transport.set_write_buffer_limits(high=1, low=2)
            seen = list(protocol.events)
            await close_all(server, transport, protocol)
            return seen

        self.assertEqual(self.run_coro(main()), ["made", "pause", "resume", "pause", "resume"])

    def test_tls_write_backpressure_pauses_and_resumes(self):
        # The peer stops reading: the client's writes back up, its
        # protocol is paused, and resumed once the peer reads again.
        loop = self.loop

        class Stalled(asyncio.Protocol):
            def connection_made(self, transport):
                self.transport = transport
                stalled.set_result(transport)

            def data_received(self, data):
                received.append(len(data))

        async def main():
            server, transport, protocol = await self.connect(Stalled, lambda: Recorder(loop))
            peer = await stalled
            peer.pause_reading()
            chunk = b"x" * 65536
            while "pause" not in protocol.events:
                transport.write(chunk)
                await asyncio.sleep(0)
            self.assertGreaterEqual(transport.get_write_buffer_size(), transport.get_write_buffer_limits()[1])
            peer.resume_reading()
            while "resume" not in protocol.events:
                await asyncio.sleep(0.01)
            self.assertLessEqual(transport.get_write_buffer_size(), transport.get_write_buffer_limits()[0])
            await close_all(server, transport, protocol)

        received = []
        stalled = loop.create_future()
        self.run_coro(main(), timeout=30)

    def test_tls_pause_reading_holds_data(self):
        loop = self.loop

        class Speaker(asyncio.Protocol):
            def connection_made(self, transport):
                speaker.set_result(transport)

        async def main():
            server, transport, protocol = await self.connect(Speaker, lambda: Recorder(loop))
            peer = await speaker
            self.assertTrue(transport.is_reading())
            transport.pause_reading()
            self.assertFalse(transport.is_reading())
            peer.write(b"hello")
            while not transport.get_read_buffer_size():
                await asyncio.sleep(0.01)
            self.assertEqual(protocol.data, b"")
            transport.resume_reading()
            self.assertTrue(transport.is_reading())
            while len(protocol.data) < 5:
                await asyncio.sleep(0.01)
            self.assertEqual(protocol.data, b"hello")
            self.assertEqual(transport.get_read_buffer_size(), 0)
            await close_all(server, transport, protocol)

        speaker = loop.create_future()
        self.run_coro(main())

    def test_tls_data_received_error_reported(self):
        loop = self.loop

        class Failing(Recorder):
            def data_received(self, data):
                raise ValueError("boom")

        async def main():
            server, transport, protocol = await self.connect(Echo, lambda: Failing(loop))
            transport.write(b"ping")
            exc = await protocol.lost
            self.assertIsInstance(exc, ValueError)
            server.close()
            await server.wait_closed()
            return transport

        transport = self.run_coro(main())
        errors = self.take_loop_errors()
        self.assertEqual([e["message"] for e in errors], ["Fatal error on SSL protocol"])
        self.assertIsInstance(errors[0]["exception"], ValueError)
        self.assertIsInstance(errors[0]["protocol"], self.sslproto.SSLProtocol)
        self.assertIs(errors[0]["protocol"]._app_transport, None)

    def test_tls_pause_writing_error_reported(self):
        loop = self.loop

        class Failing(Recorder):
            def pause_writing(self):
                raise RuntimeError("no pause")

        async def main():
            server, transport, protocol = await self.connect(Echo, lambda: Failing(loop))
            transport.set_write_buffer_limits(high=0)
            await close_all(server, transport, protocol)
            return transport

        transport = self.run_coro(main())
        errors = self.take_loop_errors()
        # high=0 makes _control_app_writing pause and resume in turn: each
        # pause_writing() call raised and was reported.
        self.assertTrue(errors)
        self.assertEqual({e["message"] for e in errors}, {"protocol.pause_writing() failed"})
        self.assertIsInstance(errors[0]["exception"], RuntimeError)
        self.assertIs(errors[0]["transport"], transport)
        self.assertIsInstance(errors[0]["protocol"], self.sslproto.SSLProtocol)

    def test_tls_peer_close_notify(self):
        loop = self.loop

        class Closer(asyncio.Protocol):
            def connection_made(self, transport):
                transport.write(b"bye")
                transport.close()

        async def main():
            server, transport, protocol = await self.connect(Closer, lambda: Recorder(loop))
            self.assertIsNone(await protocol.lost)
            self.assertEqual(protocol.data, b"bye")
            server.close()
            await server.wait_closed()
            return protocol.events

        self.assertEqual(self.run_coro(main()), ["made", "eof", "lost"])

    def test_tls_start_tls_upgrade(self):
        loop = self.loop

        async def main():
            upgraded = loop.create_future()

            class Upgrading(asyncio.Protocol):
                def connection_made(self, transport):
                    self.transport = transport

                def data_received(self, data):
                    if data == b"STARTTLS":
                        self.transport.write(b"OK")
                        task = loop.create_task(loop.start_tls(self.transport, echo, self.ctx, server_side=True))
                        task.add_done_callback(lambda t: upgraded.set_result(t.result()))

            echo = Recorder(loop)  # start_tls makes no connection_made call
            factory = Upgrading
            Upgrading.ctx = self.server_context()
            server = await loop.create_server(factory, HOST, 0)
            port = server.sockets[0].getsockname()[1]
            transport, protocol = await loop.create_connection(lambda: Recorder(loop), HOST, port)
            with self.assertRaises(TypeError) as caught:
                await loop.start_tls(transport, protocol, None)
            self.assertEqual(str(caught.exception),
                             "sslcontext is expected to be an instance of ssl.SSLContext, got None")
            transport.write(b"STARTTLS")
            while protocol.data != b"OK":
                await asyncio.sleep(0.01)
            del protocol.data[:]
            tls_transport = await loop.start_tls(transport, protocol, self.client_context(),
                                                 server_hostname="localhost")
            server_tls = await upgraded
            self.assertIsInstance(server_tls, self.sslproto._SSLProtocolTransport)
            self.assertIsInstance(tls_transport._ssl_protocol, self.sslproto.SSLProtocol)
            tls_transport.write(b"secret")
            while len(echo.data) < 6:
                await asyncio.sleep(0.01)
            self.assertEqual(echo.data, b"secret")
            server_tls.write(b"back")
            while len(protocol.data) < 4:
                await asyncio.sleep(0.01)
            self.assertEqual(protocol.data, b"back")
            tls_transport.close()
            await protocol.lost
            server.close()
            await server.wait_closed()

        self.run_coro(main())

    def test_tls_handshake_timeout(self):
        loop = self.loop

        async def main():
            # A TCP server that never answers the ClientHello.
            server = await loop.create_server(asyncio.Protocol, HOST, 0)
            port = server.sockets[0].getsockname()[1]
            with self.assertRaises(ConnectionAbortedError) as caught:
                await loop.create_connection(lambda: Recorder(loop), HOST, port, ssl=self.client_context(),
                                             server_hostname="localhost", ssl_handshake_timeout=0.1)
            server.close()
            await server.wait_closed()
            return str(caught.exception)

        self.assertEqual(self.run_coro(main()),
                         "SSL handshake is taking longer than 0.1 seconds: aborting the connection")

    def test_tls_sslobject_class_is_called(self):
        # A context's sslobject_class (a subclass of ssl.SSLObject) gets
        # every read and write, as asyncio makes them (PyLoop calls only an
        # exact SSLObject's _ssl object directly).
        loop = self.loop
        calls = []

        class Counting(ssl.SSLObject):
            def read(self, *args):
                calls.append("read")
                return super().read(*args)

            def write(self, data):
                calls.append("write")
                return super().write(data)

        async def main():
            context = self.client_context()
            context.sslobject_class = Counting
            server = await loop.create_server(Echo, HOST, 0, ssl=self.server_context())
            port = server.sockets[0].getsockname()[1]
            transport, protocol = await loop.create_connection(
                lambda: Recorder(loop), HOST, port, ssl=context, server_hostname="localhost")
            self.assertIsInstance(transport.get_extra_info("ssl_object"), Counting)
            payload = os.urandom(100 * 1024)
            transport.write(payload)
            while len(protocol.data) < len(payload):
                await asyncio.sleep(0.01)
            self.assertEqual(bytes(protocol.data), payload)
            await close_all(server, transport, protocol)

        self.run_coro(main())
        self.assertIn("write", calls)
        self.assertIn("read", calls)

    def test_tls_verification_failure(self):
        loop = self.loop

        async def main():
            server = await loop.create_server(Echo, HOST, 0, ssl=self.server_context())
            port = server.sockets[0].getsockname()[1]
            strict = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # trusts nothing
            with self.assertRaises(ssl.SSLCertVerificationError):
                await loop.create_connection(lambda: Recorder(loop), HOST, port, ssl=strict,
                                             server_hostname="localhost")
            server.close()
            await server.wait_closed()

        self.run_coro(main())


@base.pyloop_only
class _TLSInC(tls_support.TLSCerts):

    def test_tls_protocol_is_the_c_one(self):
        # Every entry point makes the C protocol: create_connection,
        # create_server's accepted connections, start_tls.
        _pyloop = self.pyloop._pyloop
        if not self.NEW_SSLPROTO:
            self.skipTest("3.10's asyncio has the older sslproto, and this build's C TLS is not complete: "
                          "asyncio's own")
        loop = self.loop
        accepted = loop.create_future()

        class Server(Echo):
            def __init__(self):
                # the C accept loop makes the connection at once, not in
                # asyncio's _accept_connection2 task (docs/usage.md)
                factory_tasks.append(asyncio.current_task())

            def connection_made(self, transport):
                super().connection_made(transport)
                accepted.set_result(transport)

        async def main():
            server = await loop.create_server(Server, HOST, 0, ssl=self.server_context())
            port = server.sockets[0].getsockname()[1]
            transport, protocol = await loop.create_connection(
                lambda: Recorder(loop), HOST, port, ssl=self.client_context(), server_hostname="localhost")
            peer = await accepted
            for each in (transport, peer):
                self.assertIs(type(each), _pyloop.SSLProtocolTransport)
                self.assertIs(type(each._ssl_protocol), _pyloop.SSLProtocol)
            await close_all(server, transport, protocol)

        factory_tasks = []
        self.run_coro(main())
        self.assertEqual(factory_tasks, [None])
        start_tls = type(loop).start_tls
        self.assertIs(start_tls.__code__, asyncio.base_events.BaseEventLoop.start_tls.__code__)
        self.assertIs(start_tls.__globals__["sslproto"].SSLProtocol, _pyloop.SSLProtocol)


if __name__ == "__main__":
    unittest.main()

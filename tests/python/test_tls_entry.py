"""TLS at every entry point, and how it fails: create_connection,
create_server, open_connection, start_server, start_tls (both sides),
connect_accepted_socket with ssl=; handshake failures (untrusted
certificate, wrong hostname, plain peer) as the awaiting side and the
loop's exception handler see them; ssl_handshake_timeout and
ssl_shutdown_timeout. Real TLS over sockets, the body once for both loops;
asyncio's 3.11+ sslproto is the reference (3.10's differences are asserted
where they show)."""

import asyncio
import errno
import os
import socket
import struct
import sys
import threading
import unittest

import base
import tls_support
from tls_support import HOST, Proto, ssl, tls_pair, wait_new_tasks

# asyncio's API takes ssl_shutdown_timeout (3.11+; PyLoop's is asyncio's
# own, the interpreter's, even where its TLS is 3.11's).
SHUTDOWN_TIMEOUT_API = sys.version_info >= (3, 11)


def plain_client_to_tls_server(test, payload=None, **server_kwargs):
    """A TLS server (create_server's server_kwargs) and a plain client
    that writes payload, if any, then waits for its connection to go.
    Returns (what the client's connection_lost got, the bytes it
    received, the server's protocols)."""
    loop = test.loop
    factory, protos = tls_support.collecting_factory()

    async def main():
        server = await loop.create_server(
            factory, HOST, 0, ssl=test.server_context(), **server_kwargs)
        async with server:
            tr, cli = await loop.create_connection(
                Proto, *server.sockets[0].getsockname())
            if payload is not None:
                tr.write(payload)
            lost = await cli.lost
            return lost, bytes(cli.data)
    lost, data = test.run_coro(main())
    return lost, data, protos


@base.both_loops
class _TLSEntryPoints(tls_support.TLSCerts):

    async def echo_once(self, tr, cli, srv, payload=b"ping"):
        tr.write(payload)
        self.assertEqual(await srv.received(len(payload)), payload)
        srv.transport.write(payload[::-1])
        self.assertEqual(await cli.received(len(payload)), payload[::-1])

    def test_create_connection_and_create_server(self):
        async def main():
            server, tr, cli, srv = await tls_pair(self)
            async with server:
                self.assertIsNotNone(tr.get_extra_info("ssl_object"))
                self.assertIsNotNone(
                    srv.transport.get_extra_info("ssl_object"))
                await self.echo_once(tr, cli, srv)
                tr.close()
                self.assertIsNone(await cli.lost)
                self.assertIsNone(await srv.lost)
        self.run_coro(main())

    def test_open_connection_and_start_server(self):
        done = self.loop.create_future()

        async def handler(reader, writer):
            try:
                line = await reader.readline()
                writer.write(line.upper())
                await writer.drain()
                self.assertEqual(await reader.read(), b"")
                writer.close()
                await writer.wait_closed()
                done.set_result(True)
            except BaseException as exc:
                done.set_exception(exc)

        async def main():
            server = await asyncio.start_server(
                handler, HOST, 0, ssl=self.server_context())
            async with server:
                reader, writer = await asyncio.open_connection(
                    *server.sockets[0].getsockname(),
                    ssl=self.client_context(), server_hostname="localhost")
                self.assertIsNotNone(writer.get_extra_info("ssl_object"))
                writer.write(b"hello\n")
                self.assertEqual(await reader.readline(), b"HELLO\n")
                # Half-close over TLS is refused on the client side of a
                # stream: asyncio's transport says it can't write EOF.
                self.assertFalse(writer.can_write_eof())
                writer.close()
                await writer.wait_closed()
                # close() sends close_notify: the handler reads EOF.
                self.assertTrue(await done)
        self.run_coro(main())

    def test_start_tls_both_sides(self):
        loop = self.loop

        async def main():
            factory, accepted = tls_support.accepting_factory()
            server = await loop.create_server(factory, HOST, 0)
            async with server:
                tr, cli = await loop.create_connection(
                    Proto, *server.sockets[0].getsockname())
                srv = await accepted
                tr.write(b"STARTTLS\n")
                self.assertEqual(await srv.received(9), b"STARTTLS\n")
                srv.data.clear()
                srv_tls, cli_tls = await asyncio.gather(
                    loop.start_tls(srv.transport, srv, self.server_context(),
                                   server_side=True),
                    loop.start_tls(tr, cli, self.client_context(),
                                   server_hostname="localhost"))
                # The plain transports are handed over, never closed by
                # start_tls: the TLS ones wrap them.
                self.assertIsNot(cli_tls, tr)
                self.assertFalse(tr.is_closing())
                self.assertIs(cli_tls.get_protocol(), cli)
                self.assertIs(srv_tls.get_protocol(), srv)
                # connection_made is not called again by start_tls.
                self.assertEqual(cli.events, ["made"])
                self.assertEqual(srv.events, ["made"])
                self.assertIsNotNone(cli_tls.get_extra_info("peercert"))
                self.assertEqual(
                    srv_tls.get_extra_info("peername"),
                    tr.get_extra_info("sockname"))
                cli_tls.write(b"secret")
                self.assertEqual(await srv.received(6), b"secret")
                srv_tls.write(b"reply")
                self.assertEqual(await cli.received(5), b"reply")
                cli_tls.close()
                self.assertIsNone(await cli.lost)
                self.assertIsNone(await srv.lost)
                self.assertTrue(tr.is_closing())
        self.run_coro(main())

    async def plain_pair(self):
        loop = asyncio.get_running_loop()
        factory, accepted = tls_support.accepting_factory()

        server = await loop.create_server(factory, HOST, 0)
        tr, cli = await loop.create_connection(
            Proto, *server.sockets[0].getsockname())
        srv = await accepted
        return server, tr, cli, srv

    def test_start_tls_rejects_a_non_context(self):
        async def main():
            server, tr, cli, srv = await self.plain_pair()
            async with server:
                with self.assertRaises(TypeError) as cm:
                    await self.loop.start_tls(tr, cli, object())
                self.assertIn("sslcontext is expected to be an instance of "
                              "ssl.SSLContext", str(cm.exception))
                tr.close()
                await srv.lost
        self.run_coro(main())

    def test_connect_accepted_socket(self):
        loop = self.loop

        async def main():
            listener = socket.socket()
            listener.bind((HOST, 0))
            listener.listen(1)
            with listener:
                client = socket.socket()
                client.setblocking(False)
                await loop.sock_connect(client, listener.getsockname())
                conn, _ = listener.accept()
            conn.setblocking(False)
            (srv_tr, srv), (tr, cli) = await asyncio.gather(
                loop.connect_accepted_socket(
                    Proto, conn, ssl=self.server_context()),
                loop.create_connection(
                    Proto, sock=client, ssl=self.client_context(),
                    server_hostname="localhost"))
            self.assertIs(srv.transport, srv_tr)
            self.assertIsNotNone(srv_tr.get_extra_info("ssl_object"))
            await self.echo_once(tr, cli, srv)
            srv_tr.close()
            self.assertIsNone(await srv.lost)
            self.assertIsNone(await cli.lost)
        self.run_coro(main())

    def test_ssl_arguments_without_ssl_are_refused(self):
        async def main():
            with self.assertRaises(ValueError) as cm:
                await self.loop.create_connection(
                    Proto, HOST, 1, server_hostname="localhost")
            self.assertEqual(str(cm.exception),
                             "server_hostname is only meaningful with ssl")
            with self.assertRaises(ValueError) as cm:
                await self.loop.create_connection(
                    Proto, HOST, 1, ssl_handshake_timeout=1)
            self.assertEqual(str(cm.exception),
                             "ssl_handshake_timeout is only meaningful "
                             "with ssl")
            with self.assertRaises(ValueError) as cm:
                await self.loop.create_server(
                    Proto, HOST, 0, ssl_handshake_timeout=1)
            self.assertEqual(str(cm.exception),
                             "ssl_handshake_timeout is only meaningful "
                             "with ssl")
            if SHUTDOWN_TIMEOUT_API:
                with self.assertRaises(ValueError) as cm:
                    await self.loop.create_connection(
                        Proto, HOST, 1, ssl_shutdown_timeout=1)
                self.assertEqual(str(cm.exception),
                                 "ssl_shutdown_timeout is only meaningful "
                                 "with ssl")
            else:
                # 3.10's API has none, PyLoop's neither (its TLS is
                # 3.11's, its API the interpreter's asyncio's).
                for call in (
                        lambda: self.loop.create_connection(
                            Proto, HOST, 1, ssl=self.client_context(),
                            ssl_shutdown_timeout=1),
                        lambda: self.loop.create_server(
                            Proto, HOST, 0, ssl=self.server_context(),
                            ssl_shutdown_timeout=1),
                        lambda: self.loop.connect_accepted_socket(
                            Proto, None, ssl=self.server_context(),
                            ssl_shutdown_timeout=1),
                        lambda: self.loop.start_tls(
                            None, None, self.client_context(),
                            ssl_shutdown_timeout=1)):
                    with self.assertRaises(TypeError) as cm:
                        await call()
                    self.assertIn("unexpected keyword argument "
                                  "'ssl_shutdown_timeout'", str(cm.exception))
            with socket.socket() as sock:
                with self.assertRaises(ValueError) as cm:
                    await self.loop.create_connection(
                        Proto, sock=sock, ssl=self.client_context())
            self.assertEqual(str(cm.exception),
                             "You must set server_hostname when using ssl "
                             "without a host")
        self.run_coro(main())


@base.both_loops
class _TLSHandshakeFailures(tls_support.TLSCerts):
    """What the awaiting side and the exception handler see."""

    def server_side_failure(self, make_client):
        """A TLS server; make_client(port) fails its handshake. Returns
        (what the client raised, what the server's handshake reported
        through the exception handler, the server protocol's callbacks)."""
        loop = self.loop
        factory, protos = tls_support.collecting_factory()

        async def main():
            before = asyncio.all_tasks()
            server = await loop.create_server(
                factory, HOST, 0, ssl=self.server_context())
            async with server:
                port = server.sockets[0].getsockname()[1]
                with self.assertRaises(BaseException) as cm:
                    await make_client(port)
                # The server side ends when it sees the client go.
                await wait_new_tasks(before)
                return cm.exception
        exc = self.run_coro(main())
        return exc, self.take_loop_errors(), protos

    def assert_server_handshake_report(self, errors, exc_types):
        # A failed handshake is an OSError (SSLError, ConnectionError):
        # sslproto's _fatal_error only logs those at debug level, so the
        # exception handler hears nothing, on either side.
        self.assertEqual(errors, [])

    def test_untrusted_certificate(self):
        async def client(port):
            await asyncio.open_connection(
                HOST, port, ssl=self.untrusting_client_context(),
                server_hostname="localhost")
        exc, errors, protos = self.server_side_failure(client)
        self.assertIsInstance(exc, ssl.SSLCertVerificationError)
        self.assertEqual(exc.verify_code, 18)  # self-signed certificate
        self.assertIn("certificate verify failed", str(exc))
        self.assertIn("self-signed certificate", exc.verify_message.replace(
            "self signed", "self-signed"))
        self.assert_server_handshake_report(errors, (ssl.SSLError, OSError))
        self.assertEqual(len(protos), 1)
        self.assertNotIn("made", protos[0].events)

    def test_wrong_hostname(self):
        async def client(port):
            await asyncio.open_connection(
                HOST, port, ssl=self.client_context(),
                server_hostname="wrong.example")
        exc, errors, protos = self.server_side_failure(client)
        self.assertIsInstance(exc, ssl.SSLCertVerificationError)
        self.assertEqual(exc.verify_code, 62)  # hostname mismatch
        self.assertIn("Hostname mismatch", exc.verify_message)
        self.assertIn("wrong.example", exc.verify_message)
        self.assert_server_handshake_report(errors, (ssl.SSLError, OSError))
        self.assertNotIn("made", protos[0].events)

    def test_client_handshake_failure_reaches_only_the_caller(self):
        # A server that is not ours: a thread whose TLS server does not
        # trust anything the client does. The client's failure is raised
        # to create_connection's caller; the exception handler gets
        # nothing (3.11+: sslproto reports a failed handshake through the
        # handler only on the server side... or with debug on).
        loop = self.loop
        listener = socket.socket()
        listener.bind((HOST, 0))
        listener.listen(1)
        sctx = self.server_context()

        def serve():
            try:
                listener.settimeout(base.TIMEOUT)
                conn, _ = listener.accept()
                conn.settimeout(base.TIMEOUT)
                with sctx.wrap_socket(conn, server_side=True) as tls:
                    tls.recv(1)
            except (OSError, ssl.SSLError):
                pass

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        try:
            async def main():
                with self.assertRaises(ssl.SSLCertVerificationError):
                    await loop.create_connection(
                        Proto, *listener.getsockname(),
                        ssl=self.untrusting_client_context(),
                        server_hostname="localhost")
            self.run_coro(main())
        finally:
            thread.join(base.TIMEOUT)
            listener.close()
        self.assertEqual(self.take_loop_errors(), [])

    def test_plain_peer_to_a_tls_server(self):
        # A client that speaks plain text to a TLS server: the server's
        # handshake fails (a wrong version number / http request) and the
        # plain client sees the connection close.
        lost, data, protos = plain_client_to_tls_server(
            self, b"GET / HTTP/1.0\r\n\r\n" * 64)
        # The server aborts: the plain client sees its connection go,
        # with no data (no TLS alert: sslproto drops it with the transport).
        if lost is not None:
            self.assertIsInstance(lost, ConnectionError)
        self.assertEqual(data, b"")
        # SSLError is an OSError: no handler call.
        self.assertEqual(self.take_loop_errors(), [])
        self.assertEqual(len(protos), 1)
        self.assertEqual(protos[0].events, [])

    def test_tls_client_to_a_plain_peer(self):
        # A plain server answering garbage: the client's handshake fails
        # with an SSLError raised to the caller.
        loop = self.loop

        class Garbage(Proto):
            def data_received(self, data):
                super().data_received(data)
                self.transport.write(b"HTTP/1.0 400 Bad Request\r\n\r\n")
                self.transport.close()

        async def main():
            server = await loop.create_server(Garbage, HOST, 0)
            async with server:
                with self.assertRaises(ssl.SSLError) as cm:
                    await loop.create_connection(
                        Proto, *server.sockets[0].getsockname(),
                        ssl=self.client_context(),
                        server_hostname="localhost")
                return cm.exception
        exc = self.run_coro(main())
        self.assertIn(exc.reason, ("WRONG_VERSION_NUMBER",
                                   "PACKET_LENGTH_TOO_LONG",
                                   "RECORD_LAYER_FAILURE"))
        self.assertEqual(self.take_loop_errors(), [])

    def peer_ends_during_the_handshake(self, reset):
        # A plain server that reads the client's hello and ends the
        # connection: with an RST (SO_LINGER 0) or a FIN. Returns what
        # create_connection raised.
        loop = self.loop

        class Ender(Proto):
            def data_received(self, data):
                super().data_received(data)
                if self.transport.is_closing():
                    return
                if reset:
                    self.transport.get_extra_info("socket").setsockopt(
                        socket.SOL_SOCKET, socket.SO_LINGER,
                        struct.pack("ii", 1, 0))
                self.transport.close()

        async def main():
            server = await loop.create_server(Ender, HOST, 0)
            async with server:
                with self.assertRaises(ConnectionError) as cm:
                    await loop.create_connection(
                        Proto, *server.sockets[0].getsockname(),
                        ssl=self.client_context(),
                        server_hostname="localhost")
                return cm.exception
        exc = self.run_coro(main())
        self.assertEqual(self.take_loop_errors(), [])
        return exc

    def test_peer_resets_during_the_handshake(self):
        # The reset reaches the caller as recv()'s error.
        exc = self.peer_ends_during_the_handshake(reset=True)
        self.assertIsInstance(exc, ConnectionResetError)
        self.assertEqual(exc.args, (errno.ECONNRESET,
                                    os.strerror(errno.ECONNRESET)))

    def test_peer_closes_during_the_handshake(self):
        # EOF during the handshake: 3.11+'s sslproto raises the class
        # ConnectionResetError (no arguments) to the caller.
        exc = self.peer_ends_during_the_handshake(reset=False)
        self.assertIsInstance(exc, ConnectionError)
        if self.NEW_SSLPROTO:
            self.assertIs(type(exc), ConnectionResetError)
            self.assertEqual(exc.args, ())


@base.both_loops
class _TLSTimeouts(tls_support.TLSCerts):

    def silent_listener(self):
        """A listening socket that accepts (in the kernel) and never
        answers."""
        listener = socket.socket()
        listener.bind((HOST, 0))
        listener.listen(1)
        self.addCleanup(listener.close)
        return listener

    def test_handshake_timeout_client(self):
        loop = self.loop
        listener = self.silent_listener()

        async def main():
            with self.assertRaises(ConnectionAbortedError) as cm:
                await loop.create_connection(
                    Proto, *listener.getsockname(),
                    ssl=self.client_context(), server_hostname="localhost",
                    ssl_handshake_timeout=0.05)
            return cm.exception
        exc = self.run_coro(main())
        self.assertEqual(str(exc),
                         "SSL handshake is taking longer than 0.05 seconds: "
                         "aborting the connection")
        self.assertEqual(self.take_loop_errors(), [])

    def test_handshake_timeout_open_connection(self):
        loop = self.loop
        listener = self.silent_listener()

        async def main():
            with self.assertRaises(ConnectionAbortedError) as cm:
                await asyncio.open_connection(
                    *listener.getsockname(),
                    ssl=self.client_context(), server_hostname="localhost",
                    ssl_handshake_timeout=0.05)
            return cm.exception
        exc = self.run_coro(main())
        self.assertIn("SSL handshake is taking longer than 0.05 seconds",
                      str(exc))

    def test_handshake_timeout_server(self):
        # A client that connects to a TLS server and says nothing: the
        # server aborts it after ssl_handshake_timeout; the client sees the
        # connection go, the server's protocol never gets connection_made,
        # and the handler hears nothing (ConnectionAbortedError is an
        # OSError).
        lost, _, protos = plain_client_to_tls_server(
            self, ssl_handshake_timeout=0.05)
        if lost is not None:
            self.assertIsInstance(lost, ConnectionError)
        self.assertEqual(len(protos), 1)
        self.assertNotIn("made", protos[0].events)
        self.assertEqual(self.take_loop_errors(), [])

    def test_handshake_timeout_start_tls(self):
        loop = self.loop
        listener = self.silent_listener()

        async def main():
            tr, cli = await loop.create_connection(
                Proto, *listener.getsockname())
            with self.assertRaises(ConnectionAbortedError) as cm:
                await loop.start_tls(tr, cli, self.client_context(),
                                     server_hostname="localhost",
                                     ssl_handshake_timeout=0.05)
            self.assertTrue(tr.is_closing())
            return cm.exception
        exc = self.run_coro(main())
        self.assertIn("SSL handshake is taking longer than 0.05 seconds",
                      str(exc))

    def test_shutdown_timeout(self):
        # The peer never answers close_notify (a thread holding a TLS
        # socket it never reads again): close() waits ssl_shutdown_timeout
        # for the peer's close_notify, then aborts; connection_lost gets
        # None either way?  3.11+: the transport is aborted on the timeout
        # and connection_lost gets None... asserted below as seen.
        if not SHUTDOWN_TIMEOUT_API:
            self.skipTest("ssl_shutdown_timeout is new in 3.11 (asyncio "
                          "%d.%d's API has none)" % sys.version_info[:2])
        loop = self.loop
        listener = socket.socket()
        listener.bind((HOST, 0))
        listener.listen(1)
        sctx = self.server_context()
        release = threading.Event()

        def serve():
            try:
                listener.settimeout(base.TIMEOUT)
                conn, _ = listener.accept()
                conn.settimeout(base.TIMEOUT)
                incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
                sslobj = sctx.wrap_bio(incoming, outgoing, server_side=True)
                while True:
                    try:
                        sslobj.do_handshake()
                        break
                    except ssl.SSLWantReadError:
                        if outgoing.pending:
                            conn.sendall(outgoing.read())
                        incoming.write(conn.recv(65536))
                if outgoing.pending:
                    conn.sendall(outgoing.read())
                # Never answers the client's close_notify, never closes.
                release.wait(base.TIMEOUT)
                conn.close()
            except (OSError, ssl.SSLError):
                pass

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()

        async def main():
            tr, cli = await loop.create_connection(
                Proto, *listener.getsockname(),
                ssl=self.client_context(), server_hostname="localhost",
                ssl_shutdown_timeout=0.05)
            tr.close()
            return await cli.lost
        try:
            lost = self.run_coro(main())
        finally:
            release.set()
            thread.join(base.TIMEOUT)
            listener.close()
        self.assertIsInstance(lost, TimeoutError)
        self.assertEqual(str(lost), "SSL shutdown timed out")
        errors = self.take_loop_errors()
        self.assertEqual(errors, [])

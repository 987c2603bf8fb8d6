"""Every protocol callback runs in the contextvars context asyncio gives it.

asyncio runs a transport's callbacks in copies of the context current where
the transport was made: connection_made through call_soon; reads
(data_received, eof_received, get_buffer/buffer_updated) in the context of
the reader Handle that _add_reader made (a copy taken when reading starts,
shared by every read of that registration: pause_reading/resume_reading
makes a new one, from resume_reading's caller); sends after a refused write
(resume_writing, connection_lost after close) in the writer Handle's, a copy
of write()'s caller; pause_writing in write()'s caller itself; a server's
connections in a copy per connection (the task of _accept_connection2).

CPython 3.15 gives each transport one context of its own instead (context=
to _make_socket_transport): a copy of the connecting task's context for a
client, a copy of the server's (Server._context, taken when the server is
made) per connection; every callback of the transport then runs in that one
context, not in copies of it. Where the two rules part, the expected traces
say `given(3.15's, before)`.

Each test records, per callback, the value of VAR the callback sees, then
sets VAR to the callback's own name, so the trace shows which callbacks
share a context. The same scenario runs on the test's loop and on a stock
asyncio loop, and the traces must be equal (differential); each test also
asserts the facts that matter by name, so the asyncio variant checks the
expectation itself.
"""

import asyncio
import contextvars
import inspect
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import unittest

import base
import tls_support

try:
    import ssl
except ImportError:  # pragma: no cover - CPython built without ssl
    ssl = None

VAR = contextvars.ContextVar("transport_context_var", default="outer")
# Does this asyncio run a transport's callbacks in one context (3.15)?
GIVEN = "context" in inspect.signature(
    asyncio.selector_events._SelectorSocketTransport).parameters


def given(one_context, copies):
    """What a callback sees under 3.15's rule, or else under the copies."""
    return one_context if GIVEN else copies

HOST = "127.0.0.1"
BIG = 8 * 1024 * 1024  # more than any socket or pipe buffer here


class Recorder:
    """trace: (callback, VAR seen) in call order; wakes `until` waiters."""

    def __init__(self):
        self.trace = []
        self.loop = asyncio.get_running_loop()
        self._wake = None

    def note(self, name):
        self.trace.append((name, VAR.get()))
        VAR.set(name)
        wake, self._wake = self._wake, None
        if wake is not None and not wake.done():
            wake.set_result(None)

    async def until(self, predicate):
        while not predicate():
            self._wake = self.loop.create_future()
            await asyncio.wait_for(self._wake, base.TIMEOUT)

    def names(self):
        return [name for name, _ in self.trace]


class StreamRecorder(Recorder, asyncio.Protocol):
    def __init__(self):
        super().__init__()
        self.transport = None
        self.data = b""
        self.lost = False

    def connection_made(self, transport):
        self.transport = transport
        self.note("connection_made")

    def data_received(self, data):
        self.data += data
        self.note("received(%s)" % data.decode())

    def eof_received(self):
        self.note("eof_received")

    def pause_writing(self):
        self.note("pause_writing")

    def resume_writing(self):
        self.note("resume_writing")

    def connection_lost(self, exc):
        self.lost = True
        self.note("connection_lost")


class BufferedRecorder(StreamRecorder, asyncio.BufferedProtocol):
    def __init__(self):
        super().__init__()
        self.buffer = bytearray(4096)

    def get_buffer(self, sizehint):
        # Leaves VAR alone, so the read callbacks see what they see on a
        # Protocol; reads() checks it ran in the same context as they do.
        self.trace.append(("get_buffer", VAR.get()))
        return self.buffer

    def buffer_updated(self, nbytes):
        data = bytes(self.buffer[:nbytes])
        self.data += data
        self.note("received(%s)" % data.decode())


def reads(proto):
    """The trace without get_buffer (how many a BufferedProtocol gets
    depends on reads that found nothing): each must have seen what the
    callback after it sees, else it stays, as ("get_buffer", seen)."""
    trace, pending = [], []
    for name, seen in proto.trace:
        if name == "get_buffer":
            pending.append((name, seen))
            continue
        trace.extend(p for p in pending if p[1] != seen)
        pending = []
        trace.append((name, seen))
    return trace + pending


async def read_exchange(proto, peer):
    """The peer sends one, two, (pause/resume here) three, then EOF; the
    transport's protocol records. Returns when connection_lost ran."""
    loop = asyncio.get_running_loop()
    await proto.until(lambda: proto.transport is not None)
    # The reader was registered (or scheduled) when the transport was made:
    # this must not reach data_received.
    VAR.set("main-after-made")
    for n, word in enumerate((b"one", b"two")):
        await loop.sock_sendall(peer, word)
        await proto.until(lambda: proto.data.endswith(word))
    # asyncio's resume_reading makes a new reader Handle, in this context.
    VAR.set("main-resumed")
    proto.transport.pause_reading()
    proto.transport.resume_reading()
    await loop.sock_sendall(peer, b"three")
    await proto.until(lambda: proto.data.endswith(b"three"))
    peer.shutdown(socket.SHUT_WR)
    await proto.until(lambda: proto.lost)


def nonblocking(sock):
    sock.setblocking(False)
    return sock


@base.both_loops
class _TransportContexts:
    maxDiff = None

    # -- the differential harness ----------------------------------------

    def differential(self, scenario, asyncio311=None):
        """Run `scenario` (a coroutine function returning a trace) on this
        test's loop and on a stock asyncio loop; the traces must match
        (tls_support.differential: asyncio311, 3.11's recorded trace)."""
        return tls_support.differential(self, scenario, asyncio311)

    def assert_read_trace(self, trace):
        self.assertEqual(trace, [
            ("connection_made", "main"),
            # the reader's context: a copy of where the transport was made
            # (3.15: the transport's own, where connection_made ran)
            ("received(one)", given("connection_made", "main")),
            # one reader Handle, one context, for every read
            ("received(two)", "received(one)"),
            # resume_reading's new reader Handle copies its caller's context
            # (3.15: it takes the transport's)
            ("received(three)", given("received(two)", "main-resumed")),
            ("eof_received", "received(three)"),
            # close() from the reader: call_soon copies its context
            ("connection_lost", "eof_received"),
        ])

    # -- clients ----------------------------------------------------------

    def client_read_scenario(self, protocol, family):
        async def scenario():
            loop = asyncio.get_running_loop()
            VAR.set("main")
            with base.tempdir() as tmp:
                listener = socket.socket(family, socket.SOCK_STREAM)
                with listener:
                    if family == socket.AF_UNIX:
                        path = os.path.join(tmp, "s")
                        listener.bind(path)
                        listener.listen()
                        _, proto = await loop.create_unix_connection(
                            protocol, path)
                    else:
                        listener.bind((HOST, 0))
                        listener.listen()
                        _, proto = await loop.create_connection(
                            protocol, *listener.getsockname())
                    peer = nonblocking(listener.accept()[0])
                with peer:
                    await read_exchange(proto, peer)
            return reads(proto)
        self.assert_read_trace(self.differential(scenario))

    def test_tcp_client_protocol(self):
        self.client_read_scenario(StreamRecorder, socket.AF_INET)

    def test_tcp_client_buffered_protocol(self):
        self.client_read_scenario(BufferedRecorder, socket.AF_INET)

    def test_unix_client_protocol(self):
        self.client_read_scenario(StreamRecorder, socket.AF_UNIX)

    def test_unix_client_buffered_protocol(self):
        self.client_read_scenario(BufferedRecorder, socket.AF_UNIX)

    def test_buffered_protocol_get_buffer_shares_the_read_context(self):
        class Buffered(BufferedRecorder):
            def get_buffer(self, sizehint):
                self.note("get_buffer")
                return self.buffer

        async def scenario():
            loop = asyncio.get_running_loop()
            VAR.set("main")
            a, b = socket.socketpair()
            with b:
                _, proto = await loop.create_connection(Buffered, sock=a)
                await proto.until(lambda: proto.transport is not None)
                await loop.sock_sendall(nonblocking(b), b"x")
                await proto.until(lambda: proto.data == b"x")
                proto.transport.close()
                await proto.until(lambda: proto.lost)
            return proto.trace
        trace = self.differential(scenario)
        self.assertEqual(trace, [
            ("connection_made", "main"),
            ("get_buffer", given("connection_made", "main")),
            ("received(x)", "get_buffer"),
            ("connection_lost", given("received(x)", "main")),
        ])

    def test_accepted_socket(self):
        async def scenario():
            loop = asyncio.get_running_loop()
            VAR.set("main")
            a, b = socket.socketpair()
            _, proto = await loop.connect_accepted_socket(StreamRecorder, a)
            with nonblocking(b):
                await read_exchange(proto, b)
            return reads(proto)
        self.assert_read_trace(self.differential(scenario))

    # -- servers ----------------------------------------------------------

    def server_scenario(self, protocol, family):
        async def scenario():
            loop = asyncio.get_running_loop()
            protos = []

            arrived = []

            def factory():
                proto = protocol()
                proto.note("factory")
                protos.append(proto)
                arrived[-1].set_result(None)
                return proto

            VAR.set("main")
            with base.tempdir() as tmp:
                if family == socket.AF_UNIX:
                    address = os.path.join(tmp, "s")
                    server = await loop.create_unix_server(factory, address)
                else:
                    server = await loop.create_server(factory, HOST, 0)
                    address = server.sockets[0].getsockname()
                VAR.set("main-after-serving")
                async with server:
                    for _ in range(2):
                        peer = nonblocking(socket.socket(family))
                        with peer:
                            arrived.append(loop.create_future())
                            await loop.sock_connect(peer, address)
                            await asyncio.wait_for(arrived[-1], base.TIMEOUT)
                            await read_exchange(protos[-1], peer)
            return [reads(p) for p in protos]
        first, second = self.differential(scenario)
        for trace in (first, second):
            self.assertEqual(trace, [
                # each connection in its own copy of the accept Handle's
                # context (the one current at create_server): the second
                # factory does not see what the first one set
                # (3.15: each in its own copy of the server's context,
                # the one current at create_server too)
                ("factory", "main"),
                ("connection_made", "factory"),
                ("received(one)", given("connection_made", "factory")),
                ("received(two)", "received(one)"),
                ("received(three)", given("received(two)", "main-resumed")),
                ("eof_received", "received(three)"),
                ("connection_lost", "eof_received"),
            ])

    def test_tcp_server_protocol(self):
        self.server_scenario(StreamRecorder, socket.AF_INET)

    def test_tcp_server_buffered_protocol(self):
        self.server_scenario(BufferedRecorder, socket.AF_INET)

    def test_unix_server_protocol(self):
        self.server_scenario(StreamRecorder, socket.AF_UNIX)

    def test_unix_server_buffered_protocol(self):
        self.server_scenario(BufferedRecorder, socket.AF_UNIX)

    def test_server_connections_copy_the_servers_context(self):
        # 3.15: a copy of the context current when the server was made
        # (Server._context); before: a copy of the accept Handle's, the one
        # current at start_serving().
        async def scenario():
            loop = asyncio.get_running_loop()
            protos = []
            arrived = loop.create_future()

            def factory():
                protos.append(StreamRecorder())
                protos[-1].note("factory")
                arrived.set_result(None)
                return protos[-1]

            VAR.set("at-create")
            server = await loop.create_server(factory, HOST, 0,
                                              start_serving=False)
            VAR.set("at-start")
            await server.start_serving()
            VAR.set("main")
            async with server:
                peer = nonblocking(socket.socket())
                with peer:
                    await loop.sock_connect(
                        peer, server.sockets[0].getsockname())
                    await asyncio.wait_for(arrived, base.TIMEOUT)
                    proto = protos[0]
                    await proto.until(lambda: proto.transport is not None)
                    proto.transport.close()
                    await proto.until(lambda: proto.lost)
            return proto.trace
        self.assertEqual(self.differential(scenario), [
            ("factory", given("at-create", "at-start")),
            ("connection_made", "factory"),
            # close() from the main task: call_soon copies its context
            # (3.15: the connection's own)
            ("connection_lost", given("connection_made", "main")),
        ])

    def test_make_socket_transport_runs_in_the_given_context(self):
        # 3.15's _make_socket_transport(context=ctx): every callback runs
        # in ctx itself, so what they set is in ctx afterwards.
        if not GIVEN:
            self.skipTest("asyncio's _make_socket_transport takes no "
                          "context= before 3.15")

        async def scenario():
            loop = asyncio.get_running_loop()
            VAR.set("given")
            ctx = contextvars.copy_context()
            VAR.set("main")
            a, b = socket.socketpair()
            waiter = loop.create_future()
            proto = StreamRecorder()
            transport = loop._make_socket_transport(
                nonblocking(a), proto, waiter, context=ctx)
            await waiter
            with nonblocking(b):
                await loop.sock_sendall(b, b"one")
                await proto.until(lambda: proto.data == b"one")
                VAR.set("resumer")
                transport.pause_reading()
                transport.resume_reading()
                await loop.sock_sendall(b, b"two")
                await proto.until(lambda: proto.data == b"onetwo")
                transport.close()
                await proto.until(lambda: proto.lost)
            return proto.trace + [("ctx after", ctx[VAR]), ("main", VAR.get())]
        self.assertEqual(self.differential(scenario), [
            ("connection_made", "given"),
            ("received(one)", "connection_made"),
            ("received(two)", "received(one)"),
            ("connection_lost", "received(two)"),
            ("ctx after", "connection_lost"),
            ("main", "resumer"),
        ])

    def test_start_server_handler_sees_context_set_before_serving(self):
        # uvicorn's way: a ContextVar set before serving is visible in the
        # handler (a task made in connection_made's context) and in what
        # the handler's reads run.
        async def scenario():
            loop = asyncio.get_running_loop()
            seen = []
            done = loop.create_future()

            async def handler(reader, writer):
                seen.append(("handler", VAR.get()))
                data = await reader.readexactly(5)
                seen.append(("read", VAR.get()))
                writer.write(data)
                await writer.drain()
                writer.close()
                done.set_result(None)

            VAR.set("before-serving")
            server = await asyncio.start_server(handler, HOST, 0)
            VAR.set("main")
            async with server:
                reader, writer = await asyncio.open_connection(
                    *server.sockets[0].getsockname())
                writer.write(b"hello")
                self.assertEqual(await reader.readexactly(5), b"hello")
                await done
                writer.close()
            return seen
        self.assertEqual(self.differential(scenario), [
            ("handler", "before-serving"), ("read", "before-serving")])

    def test_create_server_app_task_sees_context_set_before_serving(self):
        # uvicorn's protocols start the application from data_received, as a
        # task: it copies the reader's context, which descends from the one
        # current at create_server.
        async def scenario():
            loop = asyncio.get_running_loop()
            seen = []
            done = loop.create_future()

            async def app(transport):
                seen.append(("app", VAR.get()))
                transport.write(b"ok")
                transport.close()
                done.set_result(None)

            class Http(asyncio.Protocol):
                def connection_made(self, transport):
                    self.transport = transport

                def data_received(self, data):
                    loop.create_task(app(self.transport))

            VAR.set("before-serving")
            server = await loop.create_server(Http, HOST, 0)
            VAR.set("main")
            async with server:
                reader, writer = await asyncio.open_connection(
                    *server.sockets[0].getsockname())
                writer.write(b"GET / HTTP/1.1\r\n\r\n")
                self.assertEqual(await reader.read(), b"ok")
                await done
                writer.close()
            return seen
        self.assertEqual(self.differential(scenario),
                         [("app", "before-serving")])

    # -- the write side ---------------------------------------------------

    def write_scenario(self, family):
        async def scenario():
            loop = asyncio.get_running_loop()
            VAR.set("main")
            a, b = (socket.socketpair() if family == socket.AF_UNIX
                    else tcp_pair())
            a.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 65536)
            b.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
            tr, proto = await loop.create_connection(StreamRecorder, sock=a)
            await proto.until(lambda: proto.transport is not None)
            VAR.set("writer")
            # The kernel refuses most of it: asyncio adds the writer (a copy
            # of this context), then pause_writing runs right here.
            tr.write(b"x" * BIG)
            proto.trace.append(("main after write", VAR.get()))
            VAR.set("closer")
            tr.close()  # connection_lost once the buffer is sent
            with nonblocking(b):
                got = 0
                while got < BIG:
                    got += len(await loop.sock_recv(b, 1 << 20))
            await proto.until(lambda: proto.lost)
            return proto.trace
        trace = self.differential(scenario)
        self.assertEqual(trace, [
            ("connection_made", "main"),
            ("pause_writing", "writer"),
            # pause_writing ran in write()'s caller's own context
            ("main after write", "pause_writing"),
            # the writer Handle's copy, taken before pause_writing ran
            # (3.15: the transport's own context)
            ("resume_writing", given("connection_made", "writer")),
            ("connection_lost", "resume_writing"),
        ])

    def test_tcp_write_flow_control(self):
        self.write_scenario(socket.AF_INET)

    def test_unix_write_flow_control(self):
        self.write_scenario(socket.AF_UNIX)

    def test_small_writes_from_a_task_then_close(self):
        # What a callback writes may wait for the end of the callback on
        # PyLoop: if the kernel refuses it then, the writer's context is
        # still the writing task's.
        async def scenario():
            loop = asyncio.get_running_loop()
            VAR.set("main")
            a, b = socket.socketpair()
            a.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 65536)
            tr, proto = await loop.create_connection(StreamRecorder, sock=a)
            await proto.until(lambda: proto.transport is not None)
            filled = 0
            for size in (65536, 1):  # fill the kernel behind the
                while True:          # transport's back, to the last byte
                    try:
                        filled += a.send(b"y" * size)
                    except BlockingIOError:
                        break
            VAR.set("writer")
            tr.write(b"z")
            tr.close()
            VAR.set("after-close")
            with nonblocking(b):
                got = 0
                while got < filled + 1:
                    got += len(await loop.sock_recv(b, 1 << 20))
            await proto.until(lambda: proto.lost)
            return proto.trace
        self.assertEqual(self.differential(scenario), [
            ("connection_made", "main"),
            ("connection_lost", given("connection_made", "writer")),
        ])

    def test_small_write_from_a_task_fails(self):
        # The peer is gone: asyncio's write() fails at once, and its
        # connection_lost copies write()'s caller's context.
        async def scenario():
            loop = asyncio.get_running_loop()
            VAR.set("main")
            a, b = socket.socketpair()
            tr, proto = await loop.create_connection(StreamRecorder, sock=a)
            await proto.until(lambda: proto.transport is not None)
            tr.pause_reading()  # no end of file first: the write finds out
            b.close()
            VAR.set("writer")
            tr.write(b"z")
            VAR.set("after-write")
            await proto.until(lambda: proto.lost)
            return proto.trace
        self.assertEqual(self.differential(scenario), [
            ("connection_made", "main"),
            ("connection_lost", given("connection_made", "writer")),
        ])

    # -- TLS over the C transport ---------------------------------------

    def tls_contexts(self):
        """(server, client) SSLContexts for a self-signed certificate."""
        if ssl is None:
            self.skipTest("the ssl module is not available")
        openssl = shutil.which("openssl")
        if openssl is None:
            self.skipTest("the openssl binary was not found on PATH")
        with base.tempdir() as tmp:
            certfile = os.path.join(tmp, "cert.pem")
            keyfile = os.path.join(tmp, "key.pem")
            subprocess.run(
                [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                 "-days", "1", "-subj", "/CN=localhost",
                 "-keyout", keyfile, "-out", certfile],
                check=True, stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE, timeout=60)
            server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            server_ctx.load_cert_chain(certfile, keyfile)
            client_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            client_ctx.load_verify_locations(certfile)
        return server_ctx, client_ctx

    def test_tls_client_and_server(self):
        server_ctx, client_ctx = self.tls_contexts()

        async def scenario():
            loop = asyncio.get_running_loop()
            servers = []
            accepted = loop.create_future()

            def factory():
                proto = StreamRecorder()
                proto.note("factory")
                servers.append(proto)
                accepted.set_result(None)
                return proto

            VAR.set("server-main")
            server = await loop.create_server(factory, HOST, 0,
                                              ssl=server_ctx)
            VAR.set("client-main")
            async with server:
                tr, client = await loop.create_connection(
                    StreamRecorder, *server.sockets[0].getsockname(),
                    ssl=client_ctx, server_hostname="localhost")
                await asyncio.wait_for(accepted, base.TIMEOUT)
                srv = servers[0]
                await srv.until(lambda: srv.transport is not None)
                VAR.set("client-writer")
                tr.write(b"one")
                await srv.until(lambda: srv.data == b"one")
                srv.transport.write(b"two")
                await client.until(lambda: client.data == b"two")
                tr.close()
                await client.until(lambda: client.lost)
                await srv.until(lambda: srv.lost)
            return client.trace, srv.trace
        # (asyncio 3.11's trace: PyLoop's TLS on 3.10, which is 3.11's)
        client, server = self.differential(scenario, (
            [('connection_made', 'client-main'),
             ('received(two)', 'connection_made'),
             ('eof_received', 'received(two)'),
             ('connection_lost', 'eof_received')],
            [('factory', 'server-main'), ('connection_made', 'factory'),
             ('received(one)', 'connection_made'),
             ('eof_received', 'received(one)'),
             ('connection_lost', 'eof_received')]))
        self.assertEqual(client[0], ("connection_made", "client-main"))
        self.assertIn(("received(two)", "connection_made"), client)
        self.assertEqual(server[:2], [("factory", "server-main"),
                                      ("connection_made", "factory")])
        self.assertIn(("received(one)", "connection_made"), server)

    def test_start_tls(self):
        # start_tls pauses reading and resumes it through call_soon: the
        # new reader's context descends from start_tls's caller's (3.15:
        # resume_reading takes the transport's own context).
        server_ctx, client_ctx = self.tls_contexts()

        async def scenario():
            loop = asyncio.get_running_loop()
            servers = []
            accepted = loop.create_future()

            def factory():
                servers.append(StreamRecorder())
                accepted.set_result(None)
                return servers[-1]

            server = await loop.create_server(factory, HOST, 0)
            async with server:
                VAR.set("client-main")
                tr, client = await loop.create_connection(
                    StreamRecorder, *server.sockets[0].getsockname())
                await asyncio.wait_for(accepted, base.TIMEOUT)
                srv = servers[0]
                await srv.until(lambda: srv.transport is not None)

                async def upgrade_server():
                    VAR.set("server-upgrade")
                    return await loop.start_tls(srv.transport, srv,
                                                server_ctx, server_side=True)
                VAR.set("client-upgrade")
                srv_tls, tls = await asyncio.gather(
                    upgrade_server(),
                    loop.start_tls(tr, client, client_ctx,
                                   server_hostname="localhost"))
                tls.write(b"one")
                await srv.until(lambda: srv.data == b"one")
                srv_tls.write(b"two")
                await client.until(lambda: client.data == b"two")
                tls.close()
                await client.until(lambda: client.lost)
                await srv.until(lambda: srv.lost)
            return client.trace, srv.trace
        client, server = self.differential(scenario, (
            [('connection_made', 'client-main'),
             ('received(two)', 'client-upgrade'),
             ('eof_received', 'received(two)'),
             ('connection_lost', 'eof_received')],
            [('connection_made', 'outer'),
             ('received(one)', 'server-upgrade'),
             ('eof_received', 'received(one)'),
             ('connection_lost', 'eof_received')]))
        self.assertEqual(client[0], ("connection_made", "client-main"))
        self.assertEqual(client[1], ("received(two)",
                                     given("connection_made", "client-upgrade")))
        self.assertEqual(server[1], ("received(one)",
                                     given("connection_made", "server-upgrade")))

    # -- datagram ---------------------------------------------------------

    def test_datagram(self):
        class Datagrams(Recorder, asyncio.DatagramProtocol):
            def __init__(self):
                super().__init__()
                self.received = []
                self.lost = False

            def connection_made(self, transport):
                self.note("connection_made")

            def datagram_received(self, data, addr):
                self.received.append(data)
                self.note("datagram_received(%s)" % data.decode())

            def connection_lost(self, exc):
                self.lost = True
                self.note("connection_lost")

        async def scenario():
            loop = asyncio.get_running_loop()
            VAR.set("main")
            tr, proto = await loop.create_datagram_endpoint(
                Datagrams, local_addr=(HOST, 0))
            VAR.set("main-after-made")
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as peer:
                for word in (b"one", b"two"):
                    peer.sendto(word, tr.get_extra_info("sockname"))
                    await proto.until(lambda: proto.received[-1:] == [word])
            tr.close()
            await proto.until(lambda: proto.lost)
            return proto.trace
        self.assertEqual(self.differential(scenario), [
            ("connection_made", "main"),
            ("datagram_received(one)", "main"),
            ("datagram_received(two)", "datagram_received(one)"),
            ("connection_lost", "main-after-made"),
        ])

    # -- pipes ------------------------------------------------------------

    def test_read_pipe(self):
        async def scenario():
            loop = asyncio.get_running_loop()
            VAR.set("main")
            r, w = os.pipe()
            _, proto = await loop.connect_read_pipe(
                StreamRecorder, os.fdopen(r, "rb", 0))
            await proto.until(lambda: proto.transport is not None)
            VAR.set("main-after-made")
            for word in (b"one", b"two"):
                os.write(w, word)
                await proto.until(lambda: proto.data.endswith(word))
            VAR.set("main-resumed")
            proto.transport.pause_reading()
            proto.transport.resume_reading()
            os.write(w, b"three")
            await proto.until(lambda: proto.data.endswith(b"three"))
            os.close(w)
            await proto.until(lambda: proto.lost)
            return proto.trace
        # asyncio's read pipe calls eof_received and connection_lost through
        # call_soon from the reader: both copy the reader's context.
        self.assertEqual(self.differential(scenario), [
            ("connection_made", "main"),
            ("received(one)", "main"),
            ("received(two)", "received(one)"),
            ("received(three)", "main-resumed"),
            ("eof_received", "received(three)"),
            ("connection_lost", "received(three)"),
        ])

    def test_write_pipe(self):
        class Counter(asyncio.Protocol):
            def __init__(self):
                self.count = 0
                self.wake = asyncio.get_running_loop().create_future()

            def data_received(self, data):
                self.count += len(data)
                if self.count >= BIG and not self.wake.done():
                    self.wake.set_result(None)

        async def scenario():
            loop = asyncio.get_running_loop()
            VAR.set("main")
            r, w = os.pipe()
            tr, proto = await loop.connect_write_pipe(
                StreamRecorder, os.fdopen(w, "wb", 0))
            await proto.until(lambda: proto.transport is not None)
            VAR.set("writer")
            tr.write(b"x" * BIG)
            proto.trace.append(("main after write", VAR.get()))
            VAR.set("closer")
            tr.close()
            reader_tr, counter = await loop.connect_read_pipe(
                Counter, os.fdopen(r, "rb", 0))
            await asyncio.wait_for(counter.wake, base.TIMEOUT)
            await proto.until(lambda: proto.lost)
            reader_tr.close()
            return proto.trace
        self.assertEqual(self.differential(scenario), [
            ("connection_made", "main"),
            ("pause_writing", "writer"),
            ("main after write", "pause_writing"),
            ("resume_writing", "writer"),
            ("connection_lost", "resume_writing"),
        ])

    # -- subprocess -------------------------------------------------------

    def test_subprocess_protocol(self):
        class Process(Recorder, asyncio.SubprocessProtocol):
            def __init__(self):
                super().__init__()
                self.seen = {}
                self.lost = False

            def note(self, name):
                self.seen[name] = VAR.get()
                super().note(name)

            def connection_made(self, transport):
                self.note("connection_made")

            def pipe_data_received(self, fd, data):
                self.note("pipe_data_received(%d, %s)" % (fd, data.decode()))

            def pipe_connection_lost(self, fd, exc):
                self.note("pipe_connection_lost(%d)" % fd)

            def process_exited(self):
                self.note("process_exited")

            def connection_lost(self, exc):
                self.lost = True
                self.note("connection_lost")

        async def scenario():
            loop = asyncio.get_running_loop()
            VAR.set("main")
            tr, proto = await loop.subprocess_exec(
                Process, sys.executable, "-c",
                "import os; os.write(1, b'out'); os.write(2, b'err')",
                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                stderr=subprocess.PIPE)
            VAR.set("main-after-made")
            await proto.until(lambda: proto.lost)
            tr.close()
            # Which of the pipes' ends and the exit comes last (and so
            # whose context connection_lost copies) is the kernel's choice.
            del proto.seen["connection_lost"]
            return proto.seen
        seen = self.differential(scenario)
        self.assertEqual(seen["connection_made"], "main")
        for fd, word in ((1, "out"), (2, "err")):
            self.assertEqual(seen["pipe_data_received(%d, %s)" % (fd, word)],
                             "main")
            # asyncio's subprocess transport calls both through call_soon
            # from the pipe's reader: each in its own copy.
            self.assertEqual(seen["pipe_connection_lost(%d)" % fd], "main")

    # -- sock_* coroutines ------------------------------------------------

    def test_sock_methods(self):
        def recording(trace):
            class RecordingSocket(socket.socket):
                def note(self, name):
                    trace.append((name, VAR.get()))
                    VAR.set(name)

                def recv(self, *args):
                    self.note("recv")
                    return super().recv(*args)

                def send(self, *args):
                    self.note("send")
                    return super().send(*args)

                def accept(self):
                    self.note("accept")
                    return super().accept()

                def getsockopt(self, *args):
                    self.note("getsockopt")
                    return super().getsockopt(*args)
            return RecordingSocket

        async def scenario():
            loop = asyncio.get_running_loop()
            trace = []
            cls = recording(trace)
            VAR.set("main")
            a, b = socket.socketpair()
            a = cls(fileno=a.detach())
            a.setblocking(False)
            a.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 65536)
            with a, nonblocking(b):
                async def receive():
                    VAR.set("receiver")
                    data = await loop.sock_recv(a, 10)
                    trace.append(("receiver after", VAR.get()))
                    return data
                task = loop.create_task(receive())
                await asyncio.sleep(0)
                while not trace:  # the first recv has been tried
                    await base.next_round()
                VAR.set("sender")
                await loop.sock_sendall(b, b"ping")
                self.assertEqual(await task, b"ping")

                async def send_all():
                    VAR.set("sendall")
                    await loop.sock_sendall(a, b"s" * BIG)
                    trace.append(("sendall after", VAR.get()))
                task = loop.create_task(send_all())
                got = 0
                while got < BIG:
                    got += len(await loop.sock_recv(b, 1 << 20))
                await task

            listener = cls(socket.AF_INET, socket.SOCK_STREAM)
            with listener:
                listener.bind((HOST, 0))
                listener.listen()
                listener.setblocking(False)

                async def accept():
                    VAR.set("acceptor")
                    conn, _ = await loop.sock_accept(listener)
                    conn.close()
                    trace.append(("acceptor after", VAR.get()))
                task = loop.create_task(accept())
                while not trace or trace[-1][0] != "accept":
                    await base.next_round()
                client = cls(socket.AF_INET, socket.SOCK_STREAM)
                with client:
                    client.setblocking(False)
                    VAR.set("connector")
                    await loop.sock_connect(client,
                                            listener.getsockname())
                    trace.append(("connector after", VAR.get()))
                    await task
            # How many sends and accepts it takes is the kernel's choice.
            return [t for i, t in enumerate(trace)
                    if i == 0 or t != trace[i - 1]]
        trace = self.differential(scenario)
        self.assertIn(("recv", "receiver"), trace)
        self.assertIn(("receiver after", "recv"), trace)


def tcp_pair():
    with socket.socket() as listener:
        listener.bind((HOST, 0))
        listener.listen()
        a = socket.create_connection(listener.getsockname())
        b, _ = listener.accept()
    a.setblocking(False)
    return a, b


if __name__ == "__main__":
    unittest.main()

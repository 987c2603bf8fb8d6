"""Shared TLS scaffolding for test_ssl.py and test_tls_*.py: one self-signed
certificate for CN=localhost, made by the openssl binary once per test
process, the SSLContexts that trust it (or don't), and a client/server pair
of protocols over real TLS sockets on the test's loop."""

import asyncio
import atexit
import functools
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

import base

try:
    import ssl
except ImportError:  # pragma: no cover - CPython built without ssl
    ssl = None

HOST = "127.0.0.1"

_certs = None  # (certfile, keyfile), made once per process


def certificate():
    """(certfile, keyfile) of a self-signed CN=localhost certificate, or
    raise unittest.SkipTest with the reason it can't be made here."""
    global _certs
    if _certs is not None:
        return _certs
    if ssl is None:
        reason = "the ssl module is not available"
        print("\nskipping TLS tests: " + reason, file=sys.stderr)
        raise unittest.SkipTest(reason)
    openssl = shutil.which("openssl")
    if openssl is None:
        reason = "the openssl binary was not found on PATH"
        print("\nskipping TLS tests: " + reason, file=sys.stderr)
        raise unittest.SkipTest(reason)
    certdir = tempfile.mkdtemp(prefix="pyloop-ssl-")
    atexit.register(shutil.rmtree, certdir, ignore_errors=True)
    certfile = os.path.join(certdir, "cert.pem")
    keyfile = os.path.join(certdir, "key.pem")
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes",
         "-days", "1", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost",
         "-keyout", keyfile, "-out", certfile],
        check=True, stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE, timeout=60)
    _certs = (certfile, keyfile)
    return _certs


class TLSCerts:
    """Mixin: setUpClass makes (or skips without) the certificate."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.certfile, cls.keyfile = certificate()

    def server_context(self):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.certfile, self.keyfile)
        return ctx

    def client_context(self):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.load_verify_locations(self.certfile)
        self.assertTrue(ctx.check_hostname)
        self.assertEqual(ctx.verify_mode, ssl.CERT_REQUIRED)
        return ctx

    def untrusting_client_context(self):
        """Verifies against an empty CA store: our certificate fails."""
        return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)


class Proto(asyncio.Protocol):
    """Records every callback; futures for made/eof/lost, a byte count
    waiter for data."""

    def __init__(self):
        loop = asyncio.get_running_loop()
        self.loop = loop
        self.events = []
        self.data = bytearray()
        self.transport = None
        self.made = loop.create_future()
        self.eof = loop.create_future()
        self.lost = loop.create_future()
        self.paused = None  # future set by pause_writing
        self.resumed = None  # future set by resume_writing
        self.eof_result = None
        self._want = None

    def connection_made(self, transport):
        self.transport = transport
        self.events.append("made")
        self.made.set_result(None)

    def data_received(self, data):
        self.data += data
        self._check()

    def eof_received(self):
        self.events.append("eof")
        if not self.eof.done():
            self.eof.set_result(None)
        return self.eof_result

    def pause_writing(self):
        self.events.append("pause")
        if self.paused is not None and not self.paused.done():
            self.paused.set_result(self.transport.get_write_buffer_size())

    def resume_writing(self):
        self.events.append("resume")
        if self.resumed is not None and not self.resumed.done():
            self.resumed.set_result(self.transport.get_write_buffer_size())

    def connection_lost(self, exc):
        self.events.append("lost")
        if not self.lost.done():
            self.lost.set_result(exc)
        self._check()

    def _check(self):
        if self._want is not None:
            n, fut = self._want
            if fut.done():
                self._want = None
            elif len(self.data) >= n or self.lost.done():
                self._want = None
                fut.set_result(None)

    async def received(self, n):
        """Wait until n bytes have arrived in all (or the connection is
        lost); return them all."""
        if len(self.data) < n and not self.lost.done():
            fut = self.loop.create_future()
            self._want = (n, fut)
            await fut
        return bytes(self.data)


def accepting_factory(protocol=Proto):
    """(factory, accepted): a protocol factory for a server's one
    connection, and the future its protocol is set in."""
    accepted = asyncio.get_running_loop().create_future()

    def factory():
        p = protocol()
        accepted.set_result(p)
        return p

    return factory, accepted


def collecting_factory(protocol=Proto):
    """(factory, protos): a protocol factory, and the list of the
    protocols it made."""
    protos = []

    def factory():
        p = protocol()
        protos.append(p)
        return p

    return factory, protos


async def tls_pair(test, client_factory=Proto, server_factory=Proto,
                   server_kwargs=None, client_kwargs=None):
    """A TLS server on the running loop and one client connected to it with
    create_connection. Returns (server, client transport, client protocol,
    server protocol); the server protocol's connection_made has run."""
    loop = asyncio.get_running_loop()
    accepted = loop.create_future()

    def factory():
        proto = server_factory()
        if not accepted.done():
            accepted.set_result(proto)
        return proto

    server = await loop.create_server(
        factory, HOST, 0, ssl=test.server_context(), **(server_kwargs or {}))
    try:
        tr, cli = await loop.create_connection(
            client_factory, *server.sockets[0].getsockname(),
            ssl=test.client_context(), server_hostname="localhost",
            **(client_kwargs or {}))
        srv = await accepted
        await srv.made
    except BaseException:
        server.close()
        raise
    return server, tr, cli, srv


def new_sslproto(loop=None):
    """Whether `loop`'s (default: the running one's) TLS is asyncio 3.11+'s
    sslproto: stock asyncio's from 3.11, PyLoop's C TLS on every
    interpreter (base.py's NEW_SSLPROTO, per loop). For a scenario that
    runs on both loops in one test (differential)."""
    loop = loop or asyncio.get_running_loop()
    if base._pyloop is not None and isinstance(loop, base._pyloop.PyLoop):
        return base.PyLoopTestCase.NEW_SSLPROTO
    return base.AsyncioTestCase.NEW_SSLPROTO


# Where the test's loop is PyLoop with its C TLS (asyncio 3.11's sslproto)
# and the running asyncio has the older one (3.10): no stock reference.
NO_STOCK_REFERENCE = "3.10's asyncio has the older sslproto"


def differential(test, scenario, asyncio311=None):
    """Run `scenario` (a coroutine function returning something to compare)
    on the test's loop, then on a stock asyncio loop: the results must be
    equal. For behaviour that differs between CPython versions, so that the
    running asyncio is the reference. Returns the result.

    PyLoop on 3.10 follows asyncio 3.11's sslproto, stock asyncio 3.10's
    older one: where the scenario's result differs between those two,
    `asyncio311` is stock asyncio 3.11.7's result (recorded there), the
    reference PyLoop's is compared with instead."""
    got = test.run_coro(scenario())
    if asyncio311 is not None and new_sslproto(test.loop) and not base.AsyncioTestCase.NEW_SSLPROTO:
        test.assertEqual(got, asyncio311, "this loop (first) differs from stock asyncio 3.11 (second, recorded): "
                         + NO_STOCK_REFERENCE)
        return got
    reference = asyncio.SelectorEventLoop()
    reference.set_exception_handler(test._record_loop_error)
    asyncio.set_event_loop(reference)
    try:
        expected = reference.run_until_complete(
            asyncio.wait_for(scenario(), base.TIMEOUT))
    finally:
        reference.close()
        asyncio.set_event_loop(test.loop)
    test.assertEqual(got, expected,
                     "this loop (first) differs from stock asyncio (second)")
    return got


def pyloop_differs(reason):
    """Decorator for a test that PyLoop fails today although asyncio
    passes it: on pyloop a failure is a skip saying "PyLoop differs:
    reason", and a pass fails, so that the marker goes when the difference
    is fixed. On asyncio the test runs as written."""
    def decorate(func):
        @functools.wraps(func)
        def wrapper(self, *args, **kwargs):
            if self.LOOP_NAME != "pyloop":
                return func(self, *args, **kwargs)
            try:
                func(self, *args, **kwargs)
            except unittest.SkipTest:
                raise
            except Exception as exc:
                self.take_loop_errors()
                self.skipTest("PyLoop differs: %s (%s: %s)" % (
                    reason, type(exc).__name__, str(exc).splitlines()[0]
                    if str(exc) else ""))
            self.fail("PyLoop no longer differs (%s): remove the "
                      "@pyloop_differs marker" % reason)
        return wrapper
    return decorate


async def wait_new_tasks(before):
    """Wait (hang guard) for the tasks of the running loop that are not in
    `before` (all_tasks() taken earlier): a failed handshake's server side
    ends after the client's failure has been raised."""
    others = [t for t in asyncio.all_tasks() if t not in before]
    if others:
        done, pending = await asyncio.wait(others, timeout=base.TIMEOUT)
        if pending:
            raise AssertionError("tasks still pending: %r" % (pending,))

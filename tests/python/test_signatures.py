"""inspect.signature() of every public transport method reads as asyncio's,
differential: the socket, datagram, pipe and TLS transports and the server, each
against the same object made by a stock asyncio loop. Tools and frameworks
read signatures; a C method without a text signature has none at all."""

import asyncio
import inspect
import os
import socket
import unittest

import base
import tls_support
from tls_support import ssl


async def _open_all(loop, cleanups):
    """{kind: object} for every transport kind and the server."""
    opened = {}
    ours, peer = socket.socketpair()
    cleanups.append(peer.close)
    opened["socket"], _ = await loop.connect_accepted_socket(asyncio.Protocol, ours)
    opened["datagram"], _ = await loop.create_datagram_endpoint(
        asyncio.DatagramProtocol, local_addr=("127.0.0.1", 0))
    read_fd, write_fd = os.pipe()
    opened["read_pipe"], _ = await loop.connect_read_pipe(asyncio.Protocol, os.fdopen(read_fd, "rb", 0))
    opened["write_pipe"], _ = await loop.connect_write_pipe(asyncio.Protocol, os.fdopen(write_fd, "wb", 0))
    opened["server"] = await loop.create_server(asyncio.Protocol, "127.0.0.1", 0)
    await _open_tls(loop, opened, cleanups)
    return opened


class _Lost(asyncio.Protocol):
    def __init__(self):
        self.lost = asyncio.get_running_loop().create_future()

    def connection_lost(self, exc):
        self.lost.set_result(exc)


async def _open_tls(loop, opened, cleanups):
    """opened["tls"]: a TLS client transport (the app transport of
    asyncio's sslproto), where the ssl module and a certificate are here."""
    try:
        certfile, keyfile = tls_support.certificate()
    except unittest.SkipTest:
        return
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(certfile, keyfile)
    client_context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    client_context.load_verify_locations(certfile)
    server = await loop.create_server(asyncio.Protocol, "127.0.0.1", 0, ssl=server_context)
    opened["tls"], protocol = await loop.create_connection(
        _Lost, *server.sockets[0].getsockname(), ssl=client_context, server_hostname="localhost")
    opened["tls_lost"] = protocol.lost
    opened["tls_server"] = server


def _signatures(objects):
    """{(kind, method): signature text} of the public methods that have one."""
    found = {}
    for kind, obj in objects.items():
        for name in dir(obj):
            method = getattr(obj, name, None)
            if name.startswith("_") or not callable(method):
                continue
            try:
                found[(kind, name)] = str(inspect.signature(method))
            except (TypeError, ValueError):
                found[(kind, name)] = None
    return found


async def _close_all(opened):
    lost = opened.pop("tls_lost", None)
    for obj in opened.values():
        obj.close()
    if lost is not None:
        await lost
        await opened["tls_server"].wait_closed()
    await opened["server"].wait_closed()


@base.both_loops
class _Signatures:

    def _signatures_on(self, loop):
        cleanups = []
        try:
            opened = loop.run_until_complete(_open_all(loop, cleanups))
            try:
                return _signatures(opened)
            finally:
                loop.run_until_complete(_close_all(opened))
        finally:
            for cleanup in cleanups:
                cleanup()

    def test_transport_methods_have_asyncio_signatures(self):
        stock = asyncio.SelectorEventLoop()
        self.addCleanup(stock.close)
        expected = self._signatures_on(stock)
        got = self._signatures_on(self.loop)
        self.assertGreater(len([s for s in expected.values() if s is not None]), 50)
        for key, signature in sorted(expected.items()):
            with self.subTest(key):
                self.assertEqual(got.get(key, "<missing>"), signature)
        if not any(kind == "tls" for kind, _ in expected):
            self.skipTest("the TLS transport not compared: the ssl module or openssl is missing")

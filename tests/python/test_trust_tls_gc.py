"""TLS traffic with the cyclic GC running at every allocation survives.

PyLoop's TLS protocol and app transport (tls_transport.c) are C subclasses
of asyncio's sslproto classes that rely on the base's GC slots, and read
and write asyncio's attributes around calls that can run Python code (the
app's callbacks, a collection). A reference or lifetime error there shows
as a crash inside a later collection, not where it was made: here every
path (echo through data_received and through a BufferedProtocol app,
set_protocol mid-stream, close and abort mid-stream, a handshake cut short,
connections dropped without close(), the loop closed with connections
open) runs with gc.set_threshold(1), then everything is collected. In a
child process: the regression is a segfault.
"""

import unittest

import base
import tls_support
from child import assert_child, run_child

BODY = r'''
import os, ssl
gc.set_threshold(1, 1, 1)
sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
sctx.load_cert_chain(CERTFILE, KEYFILE)
cctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
cctx.load_verify_locations(CERTFILE)
SIZES = (1, 1000, 70000)

class Echo(asyncio.Protocol):
    def connection_made(self, tr): self.tr = tr
    def data_received(self, data): self.tr.write(data)

class BufferedEcho(asyncio.BufferedProtocol):
    # Each get_buffer() a fresh small buffer, half of them memoryviews;
    # after the first chunk the transport's protocol becomes a plain Echo.
    def __init__(self): self.n = 0
    def connection_made(self, tr): self.tr = tr
    def get_buffer(self, hint):
        self.n += 1
        self.buf = bytearray(100 + self.n % 7)
        return memoryview(self.buf) if self.n % 2 else self.buf
    def buffer_updated(self, nbytes):
        self.tr.writelines([bytes(self.buf[:nbytes])])
        if self.n == 3:
            echo = Echo()
            echo.tr = self.tr
            self.tr.set_protocol(echo)

class Client(asyncio.Protocol):
    def __init__(self, want):
        self.want, self.got = want, 0
        self.done = asyncio.get_running_loop().create_future()
    def connection_made(self, tr): self.tr = tr
    def data_received(self, data):
        self.got += len(data)
        if self.got >= self.want and not self.done.done():
            self.done.set_result(self.got)
    def connection_lost(self, exc):
        if not self.done.done():
            self.done.set_result(self.got)

async def echoes(loop, port):
    got = []
    for size in SIZES:
        tr, client = await loop.create_connection(
            lambda: Client(size), "127.0.0.1", port, ssl=cctx, server_hostname="localhost")
        tr.write(os.urandom(size))
        got.append(await asyncio.wait_for(client.done, 30))
        tr.close()
    return got

async def chaos(loop, port):
    # Ends whose outcome is not asserted, only survived.
    tr, client = await loop.create_connection(
        lambda: Client(10 ** 9), "127.0.0.1", port, ssl=cctx, server_hostname="localhost")
    tr.write(b"x" * 200000)
    tr.abort()
    tr, client = await loop.create_connection(
        lambda: Client(10 ** 9), "127.0.0.1", port, ssl=cctx, server_hostname="localhost")
    tr.writelines([b"y" * 5000, bytearray(b"z" * 3000), memoryview(b"w" * 100)])
    tr.close()
    await asyncio.wait_for(client.done, 30)
    # A handshake cut short: a plain socket sends half a ClientHello.
    r, w = await asyncio.open_connection("127.0.0.1", port)
    w.write(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")
    await asyncio.sleep(0)
    w.transport.abort()
    # Dropped without close(), mid-stream.
    for _ in range(3):
        tr, client = await loop.create_connection(
            lambda: Client(10 ** 9), "127.0.0.1", port, ssl=cctx, server_hostname="localhost")
        tr.write(b"v" * 50000)
    del tr, client

async def main(loop, factory):
    server = await loop.create_server(factory, "127.0.0.1", 0, ssl=sctx)
    port = server.sockets[0].getsockname()[1]
    got = await echoes(loop, port)
    await chaos(loop, port)
    return got

results = {}
for name, factory in (("echo", Echo), ("buffered", BufferedEcho)):
    loop = new_loop()
    loop.set_exception_handler(lambda loop, context: None)
    results[name] = loop.run_until_complete(main(loop, factory))
    loop.close()  # with connections still open
    del loop
    gc.collect()
gc.collect()
report(**results)
'''


@base.both_loops
class _TLSUnderConstantCollection(tls_support.TLSCerts):

    def test_tls_traffic_with_a_collection_at_every_allocation(self):
        body = BODY.replace("CERTFILE", repr(self.certfile)).replace("KEYFILE", repr(self.keyfile))
        result, proc = run_child(self, body)
        sizes = [1, 1000, 70000]
        assert_child(self, result, proc, {"echo": sizes, "buffered": sizes})


if __name__ == "__main__":
    unittest.main()

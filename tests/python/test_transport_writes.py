"""What a peer receives from transport writes, differential.

PyLoop's C transport defers the writes of one callback to the callback's
end (docs/architecture.md, "The write rule"); asyncio's sends at once. What
the peer receives must not differ: order is kept, and bytes written before
abort() or write_eof() in the same callback still leave, as on asyncio,
where the kernel already had them.
"""

import asyncio
import unittest

from base import TIMEOUT, both_loops


class _Respond(asyncio.Protocol):
    """On the request: `actions` run in one callback."""

    def __init__(self, actions):
        self.actions = actions

    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        for action, argument in self.actions:
            if argument is None:
                getattr(self.transport, action)()
            else:
                getattr(self.transport, action)(argument)


@both_loops
class _TransportWrites:
    def exchange(self, actions):
        """The bytes a client gets back for one request, up to EOF or reset."""
        async def main():
            server = await self.loop.create_server(lambda: _Respond(actions), "127.0.0.1", 0)
            reader, writer = await asyncio.open_connection(*server.sockets[0].getsockname())
            writer.write(b"request")
            got = b""
            try:
                while True:
                    chunk = await asyncio.wait_for(reader.read(65536), TIMEOUT)
                    if not chunk:
                        break
                    got += chunk
            except ConnectionResetError:
                pass
            writer.close()
            server.close()
            await server.wait_closed()
            return got
        return self.loop.run_until_complete(main())

    def test_writes_of_one_callback_arrive_in_order(self):
        got = self.exchange([("write", b"head|"), ("write", bytearray(b"body|")),
                             ("write", memoryview(b"tail")), ("close", None)])
        self.assertEqual(got, b"head|body|tail")

    def test_write_then_abort_delivers_the_write(self):
        got = self.exchange([("write", b"HTTP/1.1 101 Switching Protocols\r\n\r\n"), ("abort", None)])
        self.assertEqual(got, b"HTTP/1.1 101 Switching Protocols\r\n\r\n")

    def test_write_then_write_eof_delivers_the_write(self):
        got = self.exchange([("write", b"last words"), ("write_eof", None)])
        self.assertEqual(got, b"last words")

    def test_large_write_then_abort_delivers_what_the_kernel_took(self):
        payload = bytes(range(256)) * 64  # 16 KiB: under the deferral limit
        got = self.exchange([("write", payload), ("abort", None)])
        self.assertEqual(got, payload)


if __name__ == "__main__":
    unittest.main()

"""What every transport has, written once in the C transports' base
(issue 16, crates/data-bridge-pyloop/py/transport_base.c), differential:
set_protocol() takes its argument by keyword, and set_write_buffer_limits()
stores what it is given after asyncio's checks, as
_FlowControlMixin._set_write_buffer_limits does (a float or a limit past
ssize_t included), and compares the buffer with it.
"""

import asyncio
import socket

import base
from base import TIMEOUT, both_loops


class _Recorder(asyncio.Protocol):
    def __init__(self):
        self.events = []

    def connection_made(self, transport):
        self.transport = transport

    def pause_writing(self):
        self.events.append("pause_writing")

    def resume_writing(self):
        self.events.append("resume_writing")


@both_loops
class _SocketTransportBase:
    """The socket transport over a socketpair, its peer a plain socket."""

    def open(self):
        ours, peer = socket.socketpair()
        self.addCleanup(peer.close)

        async def connect():
            return await self.loop.create_connection(_Recorder, sock=ours)

        transport, protocol = self.run_coro(connect())
        self.transports.append(transport)
        return transport, protocol, peer

    def setUp(self):
        super().setUp()
        self.transports = []

    def tearDown(self):
        # Closed on the loop, before the base class closes it.
        for transport in self.transports:
            transport.abort()
        self.run_coro(base.next_round())
        super().tearDown()

    def test_set_protocol_by_keyword(self):
        transport, protocol, _ = self.open()
        other = _Recorder()
        self.assertIsNone(transport.set_protocol(protocol=other))
        self.assertIs(transport.get_protocol(), other)

    def test_set_write_buffer_limits_takes_a_float(self):
        transport, _, _ = self.open()
        transport.set_write_buffer_limits(1.5)
        # high stays 1.5, low is 1.5 // 4 (0.0): asyncio stores both as given.
        self.assertEqual(transport.get_write_buffer_limits(), (1.5 // 4, 1.5))
        self.assertIsInstance(transport.get_write_buffer_limits()[1], float)
        transport.set_write_buffer_limits(high=2.5, low=0.5)
        self.assertEqual(transport.get_write_buffer_limits(), (0.5, 2.5))

    def test_set_write_buffer_limits_takes_a_limit_past_ssize_t(self):
        transport, protocol, peer = self.open()
        transport.set_write_buffer_limits(2 ** 70)
        self.assertEqual(transport.get_write_buffer_limits(), (2 ** 68, 2 ** 70))
        transport.set_write_buffer_limits(high=2 ** 80, low=2 ** 70)
        self.assertEqual(transport.get_write_buffer_limits(), (2 ** 70, 2 ** 80))
        # No buffer is above 2**80: filling the kernel's buffer pauses
        # nothing.
        peer.setblocking(False)

        async def fill():
            while not transport.get_write_buffer_size():
                transport.write(b"x" * 65536)
                await base.next_round()

        self.run_coro(asyncio.wait_for(fill(), TIMEOUT))
        self.assertEqual(protocol.events, [])

    def test_set_write_buffer_limits_bool_is_stored_as_given(self):
        transport, _, _ = self.open()
        transport.set_write_buffer_limits(True)
        limits = transport.get_write_buffer_limits()
        self.assertEqual(limits, (0, True))
        self.assertIs(limits[1], True)

    def test_a_float_limit_compares_as_asyncio_compares_it(self):
        # high=1.5: a buffer of 2 bytes is above it (pause), low=0.375: an
        # empty one is at or below it (resume).
        transport, protocol, peer = self.open()
        peer.setblocking(False)
        transport.set_write_buffer_limits(high=1.5, low=0.375)

        async def fill_then_drain():
            while "pause_writing" not in protocol.events:
                transport.write(b"x" * 65536)
                await base.next_round()
            while "resume_writing" not in protocol.events:
                try:
                    peer.recv(1 << 20)
                except BlockingIOError:
                    pass
                await base.next_round()

        self.run_coro(asyncio.wait_for(fill_then_drain(), TIMEOUT))
        self.assertEqual(protocol.events, ["pause_writing", "resume_writing"])
        self.assertEqual(transport.get_write_buffer_size(), 0)

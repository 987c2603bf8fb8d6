"""Orderings the transport fuzz (fuzz_transports.py) turned up, pinned.

Each looked like a difference from asyncio and was the fuzz's own timing
(fixed there); the ordering underneath is asyncio's and PyLoop keeps it.
These tests hold both loops to it where no kernel timing enters.
"""

import asyncio
import select
import socket
import threading

from base import both_loops


class _Recorder(asyncio.Protocol):
    def __init__(self, events, lost):
        self.events = events
        self.lost = lost

    def data_received(self, data):
        self.events.append("data")

    def eof_received(self):
        self.events.append("eof")

    def connection_lost(self, exc):
        self.events.append("lost" if exc is None else "lost: %r" % (exc,))
        self.lost.set_result(None)



def received_until_eof(peer, chunk_size):
    """All the bytes `peer` receives until the EOF (a blocking read, with
    a 10 s hang guard)."""
    peer.settimeout(10)
    received = b""
    while True:
        chunk = peer.recv(chunk_size)
        if not chunk:
            return received
        received += chunk


@both_loops
class _FuzzOrderings:

    def pair(self, family):
        if family == "unix":
            mine, peer = socket.socketpair()
        else:
            listener = socket.socket()
            self.addCleanup(listener.close)
            listener.bind(("127.0.0.1", 0))
            listener.listen(1)
            mine = socket.create_connection(listener.getsockname())
            peer, _ = listener.accept()
        self.addCleanup(peer.close)
        return mine, peer

    async def connect_after_peer_fin(self, mine, peer, events, lost):
        """A transport on `mine` recording into `events`; the peer then
        shuts its side down and the FIN has reached `mine` on return (the
        EOF is not polled by the loop yet: no step ran in between)."""
        transport, _ = await self.loop.create_connection(
            lambda: _Recorder(events, lost), sock=mine)
        peer.shutdown(socket.SHUT_WR)
        poller = select.poll()
        poller.register(mine.fileno(), select.POLLRDHUP)
        self.assertTrue(poller.poll(10000), "the FIN never reached the socket")
        return transport

    def run_case(self, family, yields):
        """The peer shuts down its write side and the FIN reaches the
        transport's socket; then the driver writes, yields `yields` times
        and aborts (seed 31337 case 1116 of the fuzz, whose own wait for the
        kernel's ACK of the FIN had added an iteration on PyLoop)."""
        self.require_asyncio_iteration_semantics()
        mine, peer = self.pair(family)
        events = []
        lost = self.loop.create_future()

        async def driver():
            transport = await self.connect_after_peer_fin(mine, peer, events, lost)
            transport.write(b"x")
            for _ in range(yields):
                await asyncio.sleep(0)
            transport.abort()
            await lost
            return received_until_eof(peer, 100)

        return self.run_coro(driver()), events

    def test_abort_in_the_step_that_polled_the_eof_cancels_the_read(self):
        # asyncio: the EOF polled at the driver's yield queues _read_ready
        # behind the driver's step; abort() there removes the reader, which
        # cancels that handle: eof_received never runs.
        for family in ("unix", "tcp"):
            for yields, expected in ((0, ["lost"]), (1, ["lost"]), (2, ["eof", "lost"])):
                with self.subTest(family=family, yields=yields):
                    received, events = self.run_case(family, yields)
                    self.assertEqual(events, expected)
                    self.assertEqual(received, b"x")

    def test_thread_write_after_a_polled_eof_closed_the_transport_is_dropped(self):
        # Seed 99 case 144: a thread started while the EOF was still queued
        # behind the driver's step writes once connection_lost has run: the
        # EOF closed the transport first, and write() drops the bytes
        # (asyncio: _conn_lost is set), with no error.
        self.require_asyncio_iteration_semantics()
        mine, peer = self.pair("tcp")
        events = []
        lost = self.loop.create_future()
        outcome = []

        async def driver():
            transport = await self.connect_after_peer_fin(mine, peer, events, lost)
            await asyncio.sleep(0)      # the EOF is polled, queued behind this step
            transport.write(b"b")
            self.assertFalse(transport.is_closing())
            closed = threading.Event()
            lost.add_done_callback(lambda fut: closed.set())

            def thread():
                closed.wait(10)
                try:
                    outcome.append(transport.write(b"d" * 1629))
                except Exception as exc:
                    outcome.append(exc)
            worker = threading.Thread(target=thread)
            worker.start()
            await lost
            await self.loop.run_in_executor(None, worker.join)
            return received_until_eof(peer, 4096)

        self.assertEqual(self.run_coro(driver()), b"b")
        self.assertEqual(events, ["eof", "lost"])
        self.assertEqual(outcome, [None])

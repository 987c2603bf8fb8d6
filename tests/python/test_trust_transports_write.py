"""The write side of the socket transport's state machine, differential
(issue 14, items 2, 6, 7, 8; docs/architecture.md, "Transport states").

PyLoop defers the writes of one callback to its end (the write rule). Each
test here is a place where that deferral, or a state C allowed and asyncio's
Python does not, let a program tell PyLoop from asyncio: a crash after
connection_lost, bytes written after close() that reached the peer, a
connection_lost that ran inside write() or before earlier callbacks, a pause
nothing resumed, a reset that never arrived, a write from another thread
that waited for the next event.
"""

import asyncio
import collections
import os
import socket
import struct
import sys
import threading
import time
import unittest

import base
import child
from base import TIMEOUT, both_loops


async def _serve_one(loop, protocol_factory):
    """A server, one plain client socket connected to it; the server side's
    protocol is the one protocol_factory made."""
    made = []

    def factory():
        protocol = protocol_factory()
        made.append(protocol)
        return protocol

    server = await loop.create_server(factory, "127.0.0.1", 0)
    client = socket.create_connection(server.sockets[0].getsockname(), timeout=TIMEOUT)
    return server, client, made


def _read_to_eof(sock):
    got = b""
    while True:
        chunk = sock.recv(1 << 20)
        if not chunk:
            return got
        got += chunk


class _Recorder(asyncio.Protocol):
    def __init__(self, loop, on_request):
        self.loop = loop
        self.on_request = on_request
        self.events = []
        self.in_write = False
        self.lost = loop.create_future()

    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        self.on_request(self)

    def pause_writing(self):
        self.events.append("pause_writing")

    def resume_writing(self):
        self.events.append("resume_writing")

    def connection_lost(self, exc):
        self.events.append("connection_lost" + (" in write()" if self.in_write else ""))
        self.lost.set_result(exc)

    def write(self, data):
        self.in_write = True
        try:
            self.transport.write(data)
        finally:
            self.in_write = False


@both_loops
class _WriteCloseWrite:
    """Item 8: close() after a write of the same callback."""

    def exchange(self, on_request):
        async def main():
            server, client, made = await _serve_one(self.loop, lambda: _Recorder(self.loop, on_request))
            try:
                client.sendall(b"request")
                got = await self.loop.run_in_executor(None, _read_to_eof, client)
                await asyncio.wait_for(made[0].lost, TIMEOUT)
                return got, made[0].events
            finally:
                client.close()
                server.close()
                await server.wait_closed()
        return self.run_coro(main())

    def test_write_after_close_in_the_same_callback_is_not_sent(self):
        def on_request(p):
            p.write(b"a")
            p.transport.close()
            p.write(b"b")
        got, events = self.exchange(on_request)
        self.assertEqual(got, b"a")
        self.assertEqual(events, ["connection_lost"])

    def test_large_write_after_close_neither_sent_nor_reentrant(self):
        def on_request(p):
            p.write(b"a")
            p.transport.close()
            p.write(b"b" * (1 << 20))
        got, events = self.exchange(on_request)
        self.assertEqual(got, b"a")
        self.assertEqual(events, ["connection_lost"])

    def test_connection_lost_runs_after_callbacks_queued_before_close(self):
        def on_request(p):
            p.write(b"response")
            p.loop.call_soon(p.events.append, "queued before close()")
            p.transport.close()
        got, events = self.exchange(on_request)
        self.assertEqual(got, b"response")
        self.assertEqual(events, ["queued before close()", "connection_lost"])


@both_loops
class _WriteFlowControl:
    """Item 6 (a): lowering the limits below bytes written in this callback."""

    def test_lowering_the_limits_below_a_written_response_does_not_pause(self):
        def on_request(p):
            p.write(b"x" * 1000)  # the kernel takes it at once (asyncio)
            p.transport.set_write_buffer_limits(high=10)
            p.loop.call_soon(p.events.append, "after")

        async def main():
            server, client, made = await _serve_one(self.loop, lambda: _Recorder(self.loop, on_request))
            try:
                client.sendall(b"request")
                got = b""
                while len(got) < 1000:
                    got += await self.loop.run_in_executor(None, client.recv, 1 << 20)
                self.assertEqual(got, b"x" * 1000)
                protocol = made[0]
                while "after" not in protocol.events:
                    await base.next_round()
                # asyncio's _maybe_pause_protocol saw an empty buffer: no
                # pause_writing, so a drain() would not wait for a resume.
                self.assertEqual(protocol.events, ["after"])
                self.assertEqual(protocol.transport.get_write_buffer_size(), 0)
                protocol.transport.close()
                await asyncio.wait_for(protocol.lost, TIMEOUT)
            finally:
                client.close()
                server.close()
                await server.wait_closed()
        self.run_coro(main())

    def test_drain_after_lowering_the_limits_returns(self):
        done = []

        async def handler(reader, writer):
            await reader.read(7)
            writer.write(b"y" * 1000)
            writer.transport.set_write_buffer_limits(high=10)
            await writer.drain()  # the hang guard of run_coro fails a hang
            done.append(True)
            writer.close()

        async def main():
            server = await asyncio.start_server(handler, "127.0.0.1", 0)
            reader, writer = await asyncio.open_connection(*server.sockets[0].getsockname())
            writer.write(b"request")
            self.assertEqual(await reader.read(), b"y" * 1000)
            writer.close()
            server.close()
            await server.wait_closed()
        self.run_coro(main())
        self.assertEqual(done, [True])


@both_loops
class _FailedWriteEof:
    """Item 6 (b): write_eof() on a connection the peer has reset."""

    def test_failed_write_eof_raises_and_the_reset_still_arrives(self):
        async def main():
            got = self.loop.create_future()
            reset = asyncio.Event()
            outcome = self.loop.create_future()

            async def handler(reader, writer):
                got.set_result(await reader.read(2))
                await reset.wait()
                seen = []
                try:
                    writer.write_eof()
                    seen.append("write_eof returned")
                except OSError as exc:
                    seen.append("write_eof raised %s" % type(exc).__name__)
                try:
                    seen.append(await reader.read())
                except ConnectionResetError:
                    seen.append("read raised ConnectionResetError")
                seen.append(writer.transport.is_closing())
                outcome.set_result(seen)

            server = await asyncio.start_server(handler, "127.0.0.1", 0)
            client = socket.create_connection(server.sockets[0].getsockname())
            try:
                client.sendall(b"hi")
                self.assertEqual(await got, b"hi")
                # A reset: close with a zero linger sends RST at once.
                client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            finally:
                client.close()
            reset.set()
            seen = await outcome
            server.close()
            await server.wait_closed()
            return seen
        self.assertEqual(self.run_coro(main()),
                         ["write_eof raised OSError", "read raised ConnectionResetError", True])


@both_loops
class _WriteFromAnotherThread:
    """Item 7: asyncio's write() calls sock.send() at once from any thread
    (it is not thread-safe, but the bytes leave); PyLoop's write rule defers
    only for a caller inside a callback on the loop's thread."""

    def test_write_from_another_thread_while_the_loop_waits_is_sent(self):
        async def main():
            a, b = socket.socketpair()
            b.settimeout(TIMEOUT)  # hang guard: the bytes never came
            transport, _ = await self.loop.create_connection(asyncio.Protocol, sock=a)
            received = self.loop.create_future()
            stats = getattr(self.loop, "stats", None)  # PyLoop's counters
            waits = stats()["blocking_waits"] if stats else None

            def writer():
                # On PyLoop, write once the loop is in its blocking wait
                # (counted as it begins); nothing but this write can end it.
                # asyncio's write sends at once whenever it comes.
                deadline = time.monotonic() + TIMEOUT
                while stats and stats()["blocking_waits"] == waits and time.monotonic() < deadline:
                    time.sleep(0.001)
                transport.write(b"from a thread")
                try:
                    data = b.recv(100)
                except socket.timeout:
                    data = None
                self.loop.call_soon_threadsafe(received.set_result, data)

            thread = threading.Thread(target=writer)
            thread.start()
            try:
                # The loop has nothing else to do: it waits for an event.
                data = await received
            finally:
                thread.join(TIMEOUT)
                transport.close()
                b.close()
            return data
        self.assertEqual(self.run_coro(main(), timeout=3 * TIMEOUT), b"from a thread")


def _asyncio_lost_rules():
    """What the running asyncio does after connection_lost, which its
    bug-fix releases changed (3.13.x, 3.14.x), asked of its own methods on a
    stand-in transport rather than of the version: (writelines() once
    _conn_lost counts and drops as write() does, the close after a drain
    sets _conn_lost before connection_lost (gh-156512))."""
    from asyncio import selector_events
    cls = selector_events._SelectorSocketTransport

    class Sock:
        def send(self, data):
            return len(data)

    class Loop:
        def _remove_writer(self, fd):
            pass

    def stand_in(conn_lost, buffer):
        t = object.__new__(cls)
        t._sock, t._sock_fd, t._loop, t._buffer, t._buffer_size = None, -1, Loop(), buffer, len(buffer)
        t._conn_lost, t._closing, t._eof, t._empty_waiter = conn_lost, True, False, None
        t._maybe_resume_protocol = lambda: None
        return t

    t = stand_in(1, collections.deque())
    try:
        t.writelines([b"x"])
        writelines_counts = t._conn_lost == 2
    except (TypeError, AttributeError):
        writelines_counts = False
    write_send = getattr(cls, "_write_send", None)
    t = stand_in(0, collections.deque([memoryview(b"x")]) if write_send else bytearray(b"x"))
    lost = []
    t._call_connection_lost = lambda exc: lost.append(t._conn_lost)
    t._sock = Sock()
    try:
        (write_send or cls._write_ready)(t)
    finally:
        t._sock = None
    return writelines_counts, lost == [1]


def _asyncio_close_clears_write_ready():
    """3.12.0-3.13.0: _SelectorSocketTransport.close() sets _write_ready to
    None (3.13.x moved it to _call_connection_lost), asked as
    socket_support.c does."""
    from asyncio import selector_events
    t = object.__new__(selector_events._SelectorSocketTransport)
    t._closing, t._write_ready, t._read_ready_cb = True, 1, 1
    selector_events._SelectorSocketTransport.close(t)
    return t._write_ready is None


@both_loops
class _WritesAfterConnectionLost:
    """Item 2: write(); close() in connection_made, and then, once
    connection_lost ran, write(), writelines() and abort(). asyncio drops
    the writes and counts them (and logs past its threshold); on 3.12+ its
    writelines() reached the _write_ready that _call_connection_lost set to
    None, until its bug-fix releases made it count and drop as write()
    (_asyncio_lost_rules). PyLoop crashed. Run in a child: a regression is
    a crash."""

    def test_calls_after_connection_lost_of_a_closed_transport(self):
        result, proc = child.run_child(self, r'''
import logging, socket
warnings = []
class Counter(logging.Handler):
    def emit(self, record):
        warnings.append(record.getMessage())
logging.getLogger("asyncio").addHandler(Counter())

class P(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport = transport
        transport.write(b"resp")
        transport.close()
    def connection_lost(self, exc):
        self.lost.set_result(exc)

async def main(loop):
    a, b = socket.socketpair()
    p = P()
    p.lost = loop.create_future()
    transport, _ = await loop.create_connection(lambda: p, sock=a)
    await p.lost
    got = []
    for _ in range(8):
        got.append(outcome(lambda: transport.write(b"late")))
    got.append(outcome(lambda: transport.writelines([b"late", b"r"])))
    got.append(outcome(transport.abort))
    got.append(outcome(transport.close))
    got.append(outcome(transport.write_eof))
    got.append(transport.is_closing())
    b.settimeout(5)
    received = b""
    while True:
        chunk = b.recv(100)
        if not chunk:
            break
        received += chunk
    b.close()
    return got, received.decode()

loop = new_loop()
got, received = loop.run_until_complete(main(loop))
loop.close()
report(got=got, received=received, warnings=warnings)
''')
        writelines_counts, _ = _asyncio_lost_rules()
        writelines = None if writelines_counts else "TypeError: 'NoneType' object is not callable"
        child.assert_child(self, result, proc, {
            "got": [None] * 8 + [writelines, None, None, None, True],
            "received": "resp",
            # _conn_lost went 1 (close) .. 9: the writes from the 5th on log
            # (LOG_THRESHOLD_FOR_CONNLOST_WRITES), and writelines too where it counts.
            "warnings": ["socket.send() raised exception."] * (4 if writelines else 5),
        })

    def test_calls_after_connection_lost_that_followed_a_drain(self):
        # close() with bytes the kernel refused: connection_lost comes from
        # the drain. Before gh-156512 _conn_lost stays 0, so asyncio's
        # methods reach self._loop, None by then, and raise its
        # AttributeError; since, _conn_lost is 1: write() is counted and
        # dropped, abort() does nothing.
        result, proc = child.run_child(self, r'''
import socket
class P(asyncio.Protocol):
    def connection_made(self, transport):
        transport.write(b"x" * (8 << 20))
        transport.close()
    def connection_lost(self, exc):
        self.lost.set_result(exc)

async def main(loop):
    a, b = socket.socketpair()
    b.setblocking(False)
    p = P()
    p.lost = loop.create_future()
    transport, _ = await loop.create_connection(lambda: p, sock=a)
    received = 0
    while True:
        chunk = await loop.sock_recv(b, 1 << 20)
        if not chunk:
            break
        received += len(chunk)
    await p.lost
    got = [outcome(lambda: transport.write(b"late")), outcome(transport.abort),
           outcome(transport.close), outcome(transport.write_eof), transport.get_write_buffer_size()]
    b.close()
    return got, received

loop = new_loop()
got, received = loop.run_until_complete(main(loop))
loop.close()
report(got=got, received=received)
''')
        _, drain_counts = _asyncio_lost_rules()
        child.assert_child(self, result, proc, {
            "got": [None, None, None, None, 0] if drain_counts else
                   ["AttributeError: 'NoneType' object has no attribute 'call_exception_handler'",
                    "AttributeError: 'NoneType' object has no attribute 'call_soon'", None, None, 0],
            "received": 8 << 20,
        })

    def test_abort_after_connection_lost_that_followed_a_drain_counts(self):
        # The fuzz's seed 3790213932 case 748: abort() once connection_lost
        # followed a drain. asyncio's _force_close counts _conn_lost before
        # its self._loop.call_soon fails (before gh-156512; since, _conn_lost
        # is 1 already and abort() does nothing), so the writes after it are
        # counted and dropped, and logged from the threshold on
        # (LOG_THRESHOLD_FOR_CONNLOST_WRITES, 5). PyLoop raised before
        # counting: each write then raised instead.
        result, proc = child.run_child(self, r'''
import logging, socket
warnings = []
class Counter(logging.Handler):
    def emit(self, record):
        warnings.append(record.getMessage())
logging.getLogger("asyncio").addHandler(Counter())

class P(asyncio.Protocol):
    def connection_made(self, transport):
        transport.write(b"x" * (8 << 20))
        transport.close()
    def connection_lost(self, exc):
        self.lost.set_result(exc)

async def main(loop):
    a, b = socket.socketpair()
    b.setblocking(False)
    p = P()
    p.lost = loop.create_future()
    transport, _ = await loop.create_connection(lambda: p, sock=a)
    while await loop.sock_recv(b, 1 << 20):
        pass
    await p.lost
    got = [outcome(transport.abort), transport._conn_lost]
    got += [outcome(lambda: transport.write(b"late")) for _ in range(6)]
    got += [transport._conn_lost, transport.get_write_buffer_size()]
    b.close()
    return got

loop = new_loop()
got = loop.run_until_complete(main(loop))
loop.close()
report(got=got, warnings=warnings)
''')
        _, drain_counts = _asyncio_lost_rules()
        child.assert_child(self, result, proc, {
            "got": [None if drain_counts else
                    "AttributeError: 'NoneType' object has no attribute 'call_soon'", 1]
                   + [None] * 6 + [7, 0],
            # _conn_lost 1 .. 7: the writes made at 5 and 6 log
            "warnings": ["socket.send() raised exception."] * 2,
        })

    def test_writes_inside_connection_lost_that_followed_a_drain(self):
        # The fuzz's seed 2704334248 case 754. Before gh-156512 _conn_lost is
        # 0 inside the connection_lost that follows a drain, so asyncio's
        # write() there sends at once (the peer gets it), and what the
        # kernel refuses stays in its _buffer after connection_lost:
        # get_write_buffer_size() counts it, a later write() adds to it, and
        # abort() clears it and fails on _loop None. Since gh-156512 those
        # writes are counted and dropped. PyLoop deferred the write to the
        # callback's end and dropped it, and reported a buffer of 0.
        result, proc = child.run_child(self, r'''
import socket, threading
BIG = 8 << 20

class P(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport = transport
        self.events = []
        transport.write(b"x" * BIG)
        transport.close()
    def pause_writing(self):
        self.events.append("pause_writing")
    def resume_writing(self):
        self.events.append("resume_writing")
    def connection_lost(self, exc):
        t = self.transport
        self.events.append("lost")
        self.at_lost = t._conn_lost
        # the peer has read all of connection_made's bytes: the kernel
        # takes the small write whole
        self.peer_read_big.wait(10)
        self.small = outcome(lambda: t.write(b"#" * 10))
        self.small_size = t.get_write_buffer_size()  # sent at once, not deferred
        self.large = outcome(lambda: t.write(b"$" * BIG))
        self.inside = t.get_write_buffer_size()
        self.lost.set_result(exc)

async def main(loop):
    a, b = socket.socketpair()
    p = P()
    p.lost = loop.create_future()
    p.peer_read_big = threading.Event()
    received = bytearray()

    def peer():
        while True:
            chunk = b.recv(1 << 20)
            if not chunk:
                break
            received.extend(chunk)
            if len(received) >= BIG:
                p.peer_read_big.set()

    reader = threading.Thread(target=peer)
    reader.start()
    transport, _ = await loop.create_connection(lambda: p, sock=a)
    await p.lost
    reader.join(10)
    b.close()
    after = transport.get_write_buffer_size()
    late = outcome(lambda: transport.write(b"late"))
    after_late = transport.get_write_buffer_size()
    abort = outcome(transport.abort)
    sent = len(received) - BIG
    return {"at_lost": p.at_lost, "events": p.events, "small": p.small, "small_size": p.small_size, "large": p.large,
            "head": bytes(received[:BIG]) == b"x" * BIG,
            "tail": bytes(received[BIG:BIG + 10]).decode(), "rest": bytes(received[BIG + 10:]) == b"$" * (sent - 10),
            "sent_and_kept": sent + p.inside, "same_after": after == p.inside, "late": late,
            "after_late": after_late - p.inside, "abort": abort, "after_abort": transport.get_write_buffer_size(),
            "conn_lost": transport._conn_lost, "kept": p.inside > 0}

loop = new_loop()
got = loop.run_until_complete(main(loop))
loop.close()
report(**got)
''')
        _, drain_counts = _asyncio_lost_rules()
        if drain_counts:
            expected = {"at_lost": 1, "events": ["pause_writing", "resume_writing", "lost"], "small": None, "small_size": 0, "large": None, "head": True,
                        "tail": "", "rest": True, "sent_and_kept": 0, "same_after": True,
                        "late": None, "after_late": 0, "abort": None, "after_abort": 0, "conn_lost": 4,
                        "kept": False}
        else:
            expected = {"at_lost": 0, "events": ["pause_writing", "resume_writing", "lost", "pause_writing"], "small": None, "small_size": 0, "large": None,
                        "head": True, "tail": "#" * 10, "rest": True, "sent_and_kept": 10 + (8 << 20),
                        "same_after": True, "late": None, "after_late": 4,
                        "abort": "AttributeError: 'NoneType' object has no attribute '_remove_writer'",
                        "after_abort": 0, "conn_lost": 0, "kept": True}
        child.assert_child(self, result, proc, expected)

    def test_writelines_after_close_on_each_version(self):
        writelines_counts, drain_counts = _asyncio_lost_rules()
        if (sys.version_info >= (3, 12) and writelines_counts and not drain_counts
                and not _asyncio_close_clears_write_ready()):
            self.skipTest("3.13.x: asyncio's writelines() inside that connection_lost sends, drains "
                          "and calls connection_lost again, nested (its own slip): nothing to compare")
        # The same case on 3.12.0-3.13.0, whose close() sets _write_ready to
        # None: writelines() after close() buffers its items, then calls
        # None (TypeError). While the kernel refuses bytes, the writer
        # registered before still sends them; inside the connection_lost
        # that the drain calls they stay unsent, counted. PyLoop sent them
        # and raised nothing. Elsewhere: sent as write() does (3.11-), or
        # counted and dropped, _conn_lost being 1 (3.14+).
        result, proc = child.run_child(self, r'''
import socket, sys, threading
BIG = 8 << 20

class P(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport = transport
        transport.write(b"x" * BIG)
        transport.close()
        self.closing = outcome(lambda: transport.writelines([b"a", b"bc"]))
    def connection_lost(self, exc):
        t = self.transport
        self.peer_read_all.wait(10)
        self.inside = outcome(lambda: t.writelines([b"#", b"##"]))
        self.inside_size = t.get_write_buffer_size()
        self.lost.set_result(exc)

async def main(loop):
    a, b = socket.socketpair()
    p = P()
    p.lost = loop.create_future()
    p.peer_read_all = threading.Event()
    received = bytearray()

    def peer():
        while True:
            chunk = b.recv(1 << 20)
            if not chunk:
                break
            received.extend(chunk)
            if len(received) >= BIG + 3:
                p.peer_read_all.set()

    reader = threading.Thread(target=peer)
    reader.start()
    transport, _ = await loop.create_connection(lambda: p, sock=a)
    await p.lost
    reader.join(10)
    b.close()
    return {"closing": p.closing, "inside": p.inside, "inside_size": p.inside_size,
            "after": transport.get_write_buffer_size(), "tail": bytes(received[BIG:]).decode()}

loop = new_loop()
got = loop.run_until_complete(main(loop))
loop.close()
report(**got)
''')
        none = "TypeError: 'NoneType' object is not callable"
        if sys.version_info < (3, 12):       # writelines() is write(b"".join(...))
            expected = {"closing": None, "inside": None, "inside_size": 0, "after": 0, "tail": "abc###"}
        elif _asyncio_close_clears_write_ready():
            expected = {"closing": none, "inside": none, "inside_size": 3, "after": 3, "tail": "abc"}
        elif drain_counts:
            expected = {"closing": None, "inside": None, "inside_size": 0, "after": 0, "tail": "abc"}
        else:
            expected = {"closing": None, "inside": None if writelines_counts else none,
                        "inside_size": 0, "after": 0, "tail": "abc###"}
        child.assert_child(self, result, proc, expected)


@both_loops
class _PipeCallsAfterConnectionLost:
    """The pipe transports once connection_lost ran: writes are dropped,
    close/write_eof/pause/resume do nothing, and a write pipe's abort()
    raises what asyncio's _close raises with _loop None."""

    def test_pipe_calls_after_connection_lost(self):
        class Lost(asyncio.Protocol):
            def __init__(self, loop):
                self.lost = loop.create_future()

            def connection_lost(self, exc):
                self.lost.set_result(exc)

        def outcome(call, *args):
            try:
                return call(*args)
            except Exception as exc:
                return "%s: %s" % (type(exc).__name__, exc)

        async def main():
            r, w = os.pipe()
            writer_protocol = Lost(self.loop)
            writer, _ = await self.loop.connect_write_pipe(lambda: writer_protocol, os.fdopen(w, "wb", 0))
            writer.write(b"x")
            writer.close()
            await writer_protocol.lost
            rr, ww = os.pipe()
            reader_protocol = Lost(self.loop)
            reader, _ = await self.loop.connect_read_pipe(lambda: reader_protocol, os.fdopen(rr, "rb", 0))
            reader.close()
            await reader_protocol.lost
            got = [outcome(writer.write, b"late"), outcome(writer.write_eof), outcome(writer.close),
                   outcome(writer.abort), outcome(writer.set_write_buffer_limits, 1),
                   outcome(writer.get_write_buffer_size), writer.is_closing(),
                   outcome(reader.pause_reading), outcome(reader.resume_reading), outcome(reader.close),
                   reader.is_closing()]
            self.assertEqual(os.read(r, 10), b"x")
            os.close(r)
            os.close(ww)
            return got
        self.assertEqual(self.run_coro(main()), [
            None, None, None, "AttributeError: 'NoneType' object has no attribute '_remove_reader'", None, 0, True,
            None, None, None, True])


@both_loops
class _UninitialisedTransports:
    """A transport object whose __init__ never ran (cls.__new__(cls)): every
    entry point returns or raises, and none touches fd 0, which is what a
    zeroed C struct's fd was (PyLoop wrote the bytes of write() there).
    asyncio's classes raise AttributeError for their missing attributes.
    The datagram transport's sendto() and _maybe_pause_protocol() read the
    missing extra dict and high-water mark and crashed PyLoop (SIGSEGV)."""

    def test_entry_points_of_an_uninitialised_transport(self):
        result, proc = child.run_child(self, r'''
import os, socket
async def classes(loop):
    a, b = socket.socketpair()
    transport, _ = await loop.create_connection(asyncio.Protocol, sock=a)
    r, w = os.pipe()
    reader, _ = await loop.connect_read_pipe(asyncio.Protocol, os.fdopen(r, "rb", 0))
    writer, _ = await loop.connect_write_pipe(asyncio.Protocol, os.fdopen(w, "wb", 0))
    datagram, _ = await loop.create_datagram_endpoint(asyncio.DatagramProtocol, local_addr=("127.0.0.1", 0))
    found = [type(transport), type(reader), type(writer), type(datagram)]
    for t in (transport, reader, writer, datagram):
        t.close()
    await asyncio.sleep(0)
    b.close()
    return found

loop = new_loop()
found = loop.run_until_complete(classes(loop))
calls = [("write", b"stray"), ("writelines", [b"stray"]), ("write_eof",), ("set_write_buffer_limits", 1),
         ("get_write_buffer_size",), ("pause_reading",), ("resume_reading",), ("is_reading",), ("is_closing",),
         ("abort",), ("close",), ("get_extra_info", "socket"), ("__repr__",),
         ("sendto", b"stray"), ("sendto", b"stray", ("127.0.0.1", 9)), ("sendto", bytearray(b"stray"), None),
         ("sendto", memoryview(b"stray"), "/nonexistent"), ("sendto", b""), ("_sendto_ready",), ("_read_ready",),
         ("_maybe_pause_protocol",), ("_maybe_resume_protocol",), ("_set_write_buffer_limits", 10, 5),
         ("get_write_buffer_limits",), ("get_protocol",), ("set_protocol", None), ("_add_reader", 0, print),
         ("_force_close", None), ("_fatal_error", OSError("x")), ("_fatal_error", ValueError("x"), "message"),
         ("_call_connection_lost", None)]
saved = os.dup(0)
r, w = os.pipe()
os.dup2(w, 0)
made = 0
for cls in found:
    made += 1
    transport = cls.__new__(cls)
    for name, *args in calls:
        try:
            getattr(transport, name)(*args)
        except Exception:
            pass
    try:
        del transport
    except Exception:
        pass
os.dup2(saved, 0)
os.close(w)
stray = os.read(r, 100)
loop.close()
report(classes=made, stray=stray.decode())
''')
        child.assert_child(self, result, proc, {"classes": 4, "stray": ""})


if __name__ == "__main__":
    unittest.main()


@both_loops
class _ReportsAfterClose:
    """What the transport fuzz found: how errors and warnings after close()
    are reported."""

    def test_connection_lost_raising_after_the_drain_goes_to_the_handler(self):
        # close() with bytes the kernel refused: connection_lost runs once
        # they drain, from asyncio's _write_ready Handle, so what it raises
        # is "Exception in callback ...", not an unraisable.
        class Boom(Exception):
            pass

        class Raiser(_Recorder):
            def connection_lost(self, exc):
                super().connection_lost(exc)
                raise Boom("from connection_lost")

        def on_request(p):
            p.transport.write(b"x" * (8 << 20))
            p.transport.close()

        reports = []
        self.loop.set_exception_handler(lambda loop, context: reports.append(context))
        unraisable = []
        old_hook = sys.unraisablehook
        sys.unraisablehook = unraisable.append
        async def main():
            server, client, made = await _serve_one(self.loop, lambda: Raiser(self.loop, on_request))
            try:
                client.sendall(b"request")
                got = await self.loop.run_in_executor(None, _read_to_eof, client)
                await asyncio.wait_for(made[0].lost, TIMEOUT)
                return got
            finally:
                client.close()
                server.close()
                await server.wait_closed()
        try:
            got = self.run_coro(main())
        finally:
            sys.unraisablehook = old_hook
        self.assertEqual(len(got), 8 << 20)
        self.assertEqual(unraisable, [])
        self.assertEqual(len(reports), 1, reports)
        self.assertTrue(reports[0]["message"].startswith("Exception in callback "), reports[0]["message"])
        self.assertIsInstance(reports[0]["exception"], Boom)
        self.assertIn("handle", reports[0])

    def test_write_pipe_warns_of_writes_after_connection_lost(self):
        # asyncio's write pipe logs a warning for every write from the 5th
        # after connection_lost (LOG_THRESHOLD_FOR_CONNLOST_WRITES), a
        # message without arguments.
        import logging
        messages = []

        class Collect(logging.Handler):
            def emit(self, record):
                try:
                    messages.append(record.getMessage())
                except Exception as exc:
                    messages.append("logging error: %r" % exc)

        handler = Collect(logging.WARNING)
        logger = logging.getLogger("asyncio")
        logger.addHandler(handler)
        try:
            async def main():
                r, w = os.pipe()
                lost = self.loop.create_future()

                class Lost(asyncio.Protocol):
                    def connection_lost(self, exc):
                        lost.set_result(exc)

                writer, _ = await self.loop.connect_write_pipe(Lost, os.fdopen(w, "wb", 0))
                writer.close()
                await lost
                for _ in range(7):
                    writer.write(b"late")
                os.close(r)
            self.run_coro(main())
        finally:
            logger.removeHandler(handler)
        self.assertTrue(messages)
        self.assertEqual(set(messages), {"pipe closed by peer or os.write(pipe, data) raised exception."})

"""The socket transport's read path against asyncio's, differential.

asyncio's _SelectorSocketTransport reads in _read_ready__get_buffer
(get_buffer(-1), sock.recv_into(buf), buffer_updated(n)) or in
_read_ready__data_received (sock.recv(max_size), data_received(data)), the
kind chosen by set_protocol() and looked at when the read starts. PyLoop's
C transport must do exactly that, whatever the protocol does in between:
pause, close or abort in get_buffer() (asyncio still fills the buffer and
calls buffer_updated()), set another protocol, hand out a buffer recv_into()
refuses, or make a read that finds nothing. The protocol's buffer is
exported only for the recv, as recv_into() does; the 256 KiB read buffer
PyLoop shares between transports is never seen by a program.

A scenario that crashed PyLoop runs in a child process (child.py).
"""

import asyncio
import gc
import os
import socket
import tracemalloc
import weakref

import base
from base import TIMEOUT, both_loops
from child import assert_child, run_child


class _Recorder:
    """Protocol callbacks append to `events`; `hooks[name]` runs inside."""

    def __init__(self, events, hooks=None, size=16):
        self.events = events
        self.hooks = hooks or {}
        self.buffer = bytearray(size)
        self.transport = None
        self.lost = None

    def hook(self, name, *args):
        action = self.hooks.get(name)
        return action(self, *args) if action else None

    def connection_made(self, transport):
        self.transport = transport

    def eof_received(self):
        self.events.append(("eof_received",))
        return self.hook("eof_received")

    def connection_lost(self, exc):
        self.events.append(("connection_lost", type(self).__name__, type(exc).__name__ if exc else None))
        self.hook("connection_lost", exc)


class _Buffered(_Recorder, asyncio.BufferedProtocol):
    def get_buffer(self, sizehint):
        self.events.append(("get_buffer",))
        buffer = self.hook("get_buffer")
        return self.buffer if buffer is None else buffer

    def buffer_updated(self, nbytes):
        self.events.append(("buffer_updated", bytes(self.buffer[:nbytes])))
        self.hook("buffer_updated", nbytes)


class _Plain(_Recorder, asyncio.Protocol):
    def data_received(self, data):
        self.events.append(("data_received", type(data).__name__, bytes(data)))
        self.hook("data_received", data)


SET_PROTOCOL_IN_GET_BUFFER = r'''
import socket
loop = new_loop()
events = []
def handler(loop, context):
    exc = context.get("exception")
    events.append(["handler", context["message"], type(exc).__name__, str(exc)])
loop.set_exception_handler(handler)
done = loop.create_future()
class Plain(asyncio.Protocol):
    def data_received(self, data):
        events.append(["data_received", data.decode()])
    def connection_lost(self, exc):
        events.append(["plain.connection_lost", type(exc).__name__])
        done.set_result(None)
class Buffered(asyncio.BufferedProtocol):
    def connection_made(self, transport):
        self.transport = transport
    def get_buffer(self, sizehint):
        events.append(["get_buffer"])
        self.transport.set_protocol(Plain())
        return bytearray(16)
    def buffer_updated(self, nbytes):
        events.append(["buffer_updated", nbytes])
    def connection_lost(self, exc):
        events.append(["buffered.connection_lost"])
a, b = socket.socketpair()
async def main():
    await loop.create_connection(Buffered, sock=a)
    b.send(b"hello")
    await asyncio.wait_for(done, 10)
loop.run_until_complete(main())
loop.close()
b.close()
report(events=events)
'''


EOF_INTERRUPTED = r"""
import socket
loop = new_loop()
events = []
done = loop.create_future()
class Recorder:
    buffer = bytearray(16)
    def get_buffer(self, sizehint):
        return self.buffer
    def buffer_updated(self, nbytes):
        pass
    def data_received(self, data):
        pass
    def eof_received(self):
        events.append("eof_received")
        if events.count("eof_received") == 1:
            raise %s
    def connection_lost(self, exc):
        events.append("connection_lost")
        done.set_result(None)
class Protocol(Recorder, asyncio.%s):
    pass
a, b = socket.socketpair()
async def connect():
    return await loop.create_connection(Protocol, sock=a)
loop.run_until_complete(connect())
b.shutdown(socket.SHUT_WR)
for attempt in range(2):
    try:
        loop.run_until_complete(done)
        events.append("completed")
    except (KeyboardInterrupt, SystemExit) as exc:
        events.append(type(exc).__name__)
loop.close()
b.close()
report(events=events)
"""


@both_loops
class _TransportReads:

    def connect(self, factory):
        """A transport on one end of a socket pair; the other end, non-blocking."""
        a, b = socket.socketpair()
        self.addCleanup(b.close)
        b.setblocking(False)
        transport, protocol = self.run_coro(self.loop.create_connection(factory, sock=a))
        self.transports.append(transport)
        return transport, protocol, b

    def setUp(self):
        super().setUp()
        self.transports = []

    def tearDown(self):
        # Closed while the loop is open, so that connection_lost runs.
        for transport in self.transports:
            transport.close()
        self.run_briefly()
        super().tearDown()

    def run_until(self, future):
        return self.run_coro(asyncio.shield(future))

    def steal_next_read(self, transport, peer, data):
        """Have the transport's next read find nothing (EAGAIN): the peer
        sends, and a callback queued before the readiness is seen takes the
        bytes through a dup of the fd before the transport's read runs."""
        thief = socket.socket(fileno=os.dup(transport.get_extra_info("socket").fileno()))
        self.addCleanup(thief.close)
        thief.setblocking(False)
        stolen = self.loop.create_future()

        def steal():
            stolen.set_result(thief.recv(len(data) + 1))
        peer.send(data)
        self.loop.call_soon(steal)
        self.assertEqual(self.run_until(stolen), data)

    # -- item 3: set_protocol() from get_buffer() ---------------------------

    def test_set_protocol_to_plain_inside_get_buffer(self):
        # asyncio chose the get_buffer read when the read started: the bytes
        # land in the buffer and buffer_updated() is looked up on the new
        # protocol, which has none: a fatal error, and connection_lost on the
        # new protocol. PyLoop crashed at this read.
        result, proc = run_child(self, SET_PROTOCOL_IN_GET_BUFFER)
        events = (result or {}).get("events")
        assert_child(self, events and [e[:3] for e in events], proc, [
            ["get_buffer"],
            ["handler", "Fatal error: protocol.buffer_updated() call failed.", "AttributeError"],
            ["plain.connection_lost", "AttributeError"],
        ])
        self.assertIn("buffer_updated", events[1][3])

    def test_set_protocol_in_callbacks_switches_the_next_read(self):
        events = []
        switched = self.loop.create_future()
        got = self.loop.create_future()

        def switch(protocol, new):
            new.transport = protocol.transport
            protocol.transport.set_protocol(new)
        hooks = {"buffer_updated": lambda p, n: switch(p, _Plain(events, plain_hooks)),
                 "get_buffer": lambda p: got.set_result(None) if switched.done() else None}
        plain_hooks = {"data_received": lambda p, d: (switch(p, _Buffered(events, hooks)), switched.set_result(None))}
        transport, protocol, peer = self.connect(lambda: _Buffered(events, hooks))
        peer.send(b"one")
        self.run_until(self.loop.create_task(self.wait_for_events(events, 1, "buffer_updated")))
        peer.send(b"two")
        self.run_until(switched)
        peer.send(b"three")
        self.run_until(got)
        self.run_until(self.loop.create_task(self.wait_for_events(events, 2, "buffer_updated")))
        self.assertEqual(events, [("get_buffer",), ("buffer_updated", b"one"),
                                  ("data_received", "bytes", b"two"),
                                  ("get_buffer",), ("buffer_updated", b"three")])

    async def wait_for_events(self, events, count, name):
        while sum(1 for e in events if e[0] == name) < count:
            await base.next_round()

    # -- item 9: the exported buffer -----------------------------------------

    def test_get_buffer_export_released_when_the_read_finds_nothing(self):
        # recv_into() releases the buffer whatever the read finds: after a
        # read that found nothing, the protocol can resize its bytearray and
        # a buffer it handed out is not kept alive.
        events = []
        handed = []

        def get_buffer(protocol):
            view = memoryview(protocol.buffer)
            handed.append(weakref.ref(view))
            return view
        transport, protocol, peer = self.connect(lambda: _Buffered(events, {"get_buffer": get_buffer}))
        self.steal_next_read(transport, peer, b"stolen")
        self.run_briefly()
        self.assertEqual(events, [("get_buffer",)])
        self.assertIsNone(handed[0](), "the buffer of a read that found nothing is still referenced")
        protocol.buffer.extend(b"resized")  # BufferError while still exported
        del protocol.buffer[16:]
        # The transport still reads, into a fresh buffer.
        del protocol.hooks["get_buffer"]
        peer.send(b"after")
        self.run_until(self.loop.create_task(self.wait_for_events(events, 1, "buffer_updated")))
        self.assertEqual(events[1:], [("get_buffer",), ("buffer_updated", b"after")])

    def test_buffer_can_be_resized_in_buffer_updated_and_eof(self):
        events = []
        resized = []

        def resize(protocol, *args):
            protocol.buffer.extend(b"x" * 16)
            del protocol.buffer[16:]
            resized.append(True)
        transport, protocol, peer = self.connect(
            lambda: _Buffered(events, {"buffer_updated": resize, "eof_received": resize}))
        peer.send(b"data")
        peer.shutdown(socket.SHUT_WR)
        self.run_until(self.loop.create_task(self.wait_for_events(events, 1, "connection_lost")))
        self.assertEqual(len(resized), 2)
        self.assertEqual(events, [("get_buffer",), ("buffer_updated", b"data"), ("get_buffer",),
                                  ("eof_received",), ("connection_lost", "_Buffered", None)])

    def get_buffer_then(self, action):
        """get_buffer() does `action` on the first read of b"hello"; what
        happened by the next iteration."""
        events = []
        later = self.loop.create_future()

        def get_buffer(protocol):
            if len(events) == 1:
                getattr(protocol.transport, action)()
                self.loop.call_soon(lambda: later.set_result(list(events)))
        transport, protocol, peer = self.connect(lambda: _Buffered(events, {"get_buffer": get_buffer}))
        peer.send(b"hello")
        return transport, peer, events, self.run_until(later)

    def test_pause_reading_inside_get_buffer_still_fills_the_buffer(self):
        transport, peer, events, seen = self.get_buffer_then("pause_reading")
        self.assertEqual(seen, [("get_buffer",), ("buffer_updated", b"hello")])
        self.assertFalse(transport.is_reading())
        peer.send(b"world")
        self.run_briefly()
        self.run_briefly()
        self.assertEqual(events, seen, "read while paused")
        transport.resume_reading()
        self.run_until(self.loop.create_task(self.wait_for_events(events, 2, "buffer_updated")))
        self.assertEqual(events[2:], [("get_buffer",), ("buffer_updated", b"world")])

    def test_close_inside_get_buffer_still_fills_the_buffer(self):
        transport, peer, events, seen = self.get_buffer_then("close")
        self.assertEqual(seen[:2], [("get_buffer",), ("buffer_updated", b"hello")])
        self.run_until(self.loop.create_task(self.wait_for_events(events, 1, "connection_lost")))
        self.assertEqual(events, [("get_buffer",), ("buffer_updated", b"hello"),
                                  ("connection_lost", "_Buffered", None)])

    def test_abort_inside_get_buffer_still_fills_the_buffer(self):
        transport, peer, events, seen = self.get_buffer_then("abort")
        self.assertEqual(seen[:2], [("get_buffer",), ("buffer_updated", b"hello")])
        self.run_until(self.loop.create_task(self.wait_for_events(events, 1, "connection_lost")))
        self.assertEqual(events, [("get_buffer",), ("buffer_updated", b"hello"),
                                  ("connection_lost", "_Buffered", None)])

    # -- item 10: buffers recv_into() refuses ---------------------------------

    def refused_buffer(self, make_buffer):
        # What the running interpreter's recv_into() says of this buffer.
        a, b = socket.socketpair()
        try:
            with self.assertRaises(TypeError) as refused:
                a.recv_into(make_buffer())
        finally:
            a.close()
            b.close()
        events = []
        transport, protocol, peer = self.connect(
            lambda: _Buffered(events, {"get_buffer": lambda p: make_buffer()}))
        peer.send(b"data")
        self.run_until(self.loop.create_task(self.wait_for_events(events, 1, "connection_lost")))
        self.assertEqual(events, [("get_buffer",), ("connection_lost", "_Buffered", "TypeError")])
        errors = self.take_loop_errors()
        self.assertEqual([(c["message"], type(c["exception"]), str(c["exception"])) for c in errors],
                         [("Fatal read error on socket transport", TypeError, str(refused.exception))])
        self.assertIs(errors[0]["transport"], transport)

    def test_read_only_buffer_is_recv_into_type_error(self):
        self.refused_buffer(lambda: b"read-only")

    def test_read_only_memoryview_is_recv_into_type_error(self):
        self.refused_buffer(lambda: memoryview(bytearray(8)).toreadonly())

    def test_non_contiguous_buffer_is_recv_into_type_error(self):
        self.refused_buffer(lambda: memoryview(bytearray(16))[::2])

    def test_non_buffer_is_recv_into_type_error(self):
        self.refused_buffer(lambda: [0] * 8)

    # -- the shared read buffer -------------------------------------------

    def test_bytes_never_cross_between_connections(self):
        # A read that found nothing (EAGAIN) into PyLoop's shared buffer,
        # then a max_size above it: the next read must deliver its own
        # bytes, not what another connection left in the shared buffer.
        events = []
        x, px, peer_x = self.connect(lambda: _Plain(events))
        y, py, peer_y = self.connect(lambda: _Plain(events))
        peer_x.send(b"first")
        self.run_until(self.loop.create_task(self.wait_for_events(events, 1, "data_received")))
        self.steal_next_read(x, peer_x, b"stolen")
        x.max_size = 300 * 1024
        peer_y.send(b"SECRET")
        self.run_until(self.loop.create_task(self.wait_for_events(events, 2, "data_received")))
        peer_x.send(b"hello")
        self.run_until(self.loop.create_task(self.wait_for_events(events, 3, "data_received")))
        self.assertEqual(events, [("data_received", "bytes", b"first"), ("data_received", "bytes", b"SECRET"),
                                  ("data_received", "bytes", b"hello")])

    def test_read_buffer_of_a_read_that_found_nothing_is_freed(self):
        # A read of a large max_size that found nothing, then a small
        # max_size: the large buffer is freed, not leaked.
        large = 64 * 1024 * 1024
        events = []
        transport, protocol, peer = self.connect(lambda: _Plain(events))
        transport.max_size = large
        tracemalloc.start()
        self.addCleanup(tracemalloc.stop)
        before = tracemalloc.get_traced_memory()[0]
        self.steal_next_read(transport, peer, b"stolen")
        transport.max_size = 1024
        peer.send(b"small")
        self.run_until(self.loop.create_task(self.wait_for_events(events, 1, "data_received")))
        self.assertEqual(events, [("data_received", "bytes", b"small")])
        gc.collect()
        self.assertLess(tracemalloc.get_traced_memory()[0] - before, large // 2,
                        "the max_size buffer of the read that found nothing leaked")

    def test_data_received_gets_bytes_that_never_change(self):
        events = []
        kept = []
        x, px, peer_x = self.connect(lambda: _Plain(events, {"data_received": lambda p, d: kept.append(memoryview(d))}))
        y, py, peer_y = self.connect(lambda: _Plain(events))
        for n, (peer, data) in enumerate([(peer_x, b"mine"), (peer_y, b"other connection"), (peer_x, b"again")]):
            peer.send(data)
            self.run_until(self.loop.create_task(self.wait_for_events(events, n + 1, "data_received")))
        self.assertEqual([bytes(view) for view in kept], [b"mine", b"again"])
        self.assertEqual([type(view.obj) for view in kept], [bytes, bytes])

    # -- eof_received -------------------------------------------------------

    def eof_then(self, factory, keep_open):
        events = []
        peer_got = []

        def eof_received(protocol):
            protocol.transport.write(b"bye")
            return keep_open
        transport, protocol, peer = self.connect(lambda: factory(events, {"eof_received": eof_received}))
        peer.send(b"data")
        peer.shutdown(socket.SHUT_WR)
        self.run_until(self.loop.create_task(self.wait_for_events(events, 1, "eof_received")))
        peer_got.append(self.run_coro(self.loop.sock_recv(peer, 100)))
        self.assertEqual(peer_got, [b"bye"])
        self.assertEqual(transport.is_closing(), not keep_open)
        transport.close()
        self.run_until(self.loop.create_task(self.wait_for_events(events, 1, "connection_lost")))
        return [e[0] for e in events]

    def test_eof_received_writes_and_keeps_open(self):
        self.assertEqual(self.eof_then(_Buffered, True),
                         ["get_buffer", "buffer_updated", "get_buffer", "eof_received", "connection_lost"])
        self.assertEqual(self.eof_then(_Plain, True), ["data_received", "eof_received", "connection_lost"])

    def test_eof_received_writes_and_closes(self):
        self.assertEqual(self.eof_then(_Buffered, False),
                         ["get_buffer", "buffer_updated", "get_buffer", "eof_received", "connection_lost"])
        self.assertEqual(self.eof_then(_Plain, None), ["data_received", "eof_received", "connection_lost"])

    def test_eof_received_interrupted_reads_end_of_file_again(self):
        # KeyboardInterrupt/SystemExit out of eof_received() leave asyncio's
        # reader in place: the next run reads end of file again, and the
        # transport closes then. PyLoop's stream had stopped reading at end
        # of file, so the transport stayed open for ever.
        for exception in ("KeyboardInterrupt", "SystemExit"):
            for kind in ("Protocol", "BufferedProtocol"):
                with self.subTest(exception=exception, protocol=kind):
                    result, proc = run_child(self, EOF_INTERRUPTED % (exception, kind))
                    assert_child(self, (result or {}).get("events"), proc, [
                        "eof_received", exception, "eof_received", "connection_lost", "completed"])

    # -- max_size ------------------------------------------------------------

    def test_max_size_past_ssize_t_is_recvs_overflow_error(self):
        a, b = socket.socketpair()
        try:
            with self.assertRaises(OverflowError) as refused:
                a.recv(2 ** 70)
        finally:
            a.close()
            b.close()
        events = []
        transport, protocol, peer = self.connect(lambda: _Plain(events))
        transport.max_size = 2 ** 70
        peer.send(b"data")
        self.run_until(self.loop.create_task(self.wait_for_events(events, 1, "connection_lost")))
        self.assertEqual(events, [("connection_lost", "_Plain", "OverflowError")])
        self.assertEqual([(c["message"], type(c["exception"]), str(c["exception"])) for c in self.take_loop_errors()],
                         [("Fatal read error on socket transport", OverflowError, str(refused.exception))])

    def test_read_pipe_max_size_past_ssize_t_is_os_reads_overflow_error(self):
        r, w = os.pipe()
        self.addCleanup(os.close, w)
        with self.assertRaises(OverflowError) as refused:
            os.read(r, 2 ** 70)
        events = []
        transport, protocol = self.run_coro(self.loop.connect_read_pipe(lambda: _Plain(events), os.fdopen(r, "rb", 0)))
        self.transports.append(transport)
        transport.max_size = 2 ** 70
        os.write(w, b"data")

        async def reported():
            while not self._loop_errors:
                await base.next_round()
        self.run_until(self.loop.create_task(reported()))
        transport.max_size = 1024
        self.run_until(self.loop.create_task(self.wait_for_events(events, 1, "data_received")))
        self.assertEqual(events, [("data_received", "bytes", b"data")])
        self.assertEqual({(type(c["exception"]), str(c["exception"])) for c in self.take_loop_errors()},
                         {(OverflowError, str(refused.exception))})

    # -- what the delivering callback does ------------------------------------

    def test_raise_close_abort_inside_the_delivering_callback(self):
        def fail(protocol, *args):
            raise ValueError("from the protocol")
        actions = {"raise": fail,
                   "close": lambda p, *args: p.transport.close(),
                   "abort": lambda p, *args: p.transport.abort()}
        for factory, callback, first in ((_Plain, "data_received", ("data_received", "bytes", b"one")),
                                         (_Buffered, "buffer_updated", ("buffer_updated", b"one"))):
            for name, action in actions.items():
                with self.subTest(callback=callback, action=name):
                    events = []
                    transport, protocol, peer = self.connect(lambda: factory(events, {callback: action}))
                    peer.send(b"one")
                    self.run_until(self.loop.create_task(self.wait_for_events(events, 1, "connection_lost")))
                    lost = ("connection_lost", factory.__name__, "ValueError" if name == "raise" else None)
                    self.assertEqual([e for e in events if e[0] != "get_buffer"], [first, lost])
                    errors = self.take_loop_errors()
                    self.assertEqual([(c["message"], type(c["exception"])) for c in errors],
                                     [("Fatal error: protocol.%s() call failed." % callback, ValueError)]
                                     if name == "raise" else [])
                    self.assertFalse(transport.is_reading())

    def test_pause_inside_the_delivering_callback(self):
        for factory, callback in ((_Plain, "data_received"), (_Buffered, "buffer_updated")):
            with self.subTest(callback=callback):
                events = []
                paused = self.loop.create_future()

                def pause(protocol, *args):
                    protocol.transport.pause_reading()
                    del protocol.hooks[callback]
                    self.loop.call_soon(paused.set_result, None)
                transport, protocol, peer = self.connect(lambda: factory(events, {callback: pause}))
                peer.send(b"one")
                self.run_until(paused)
                peer.send(b"two")
                self.run_briefly()
                self.run_briefly()
                self.assertEqual(sum(1 for e in events if e[0] == callback), 1, events)
                self.assertFalse(transport.is_reading())
                transport.resume_reading()
                self.run_until(self.loop.create_task(self.wait_for_events(events, 2, callback)))
                self.assertEqual([e[-1] for e in events if e[0] == callback], [b"one", b"two"])

    def test_get_buffer_failures(self):
        def fail(protocol):
            raise ValueError("from get_buffer")
        try:
            len(None)
        except TypeError as exc:
            no_len = str(exc)
        cases = [(fail, ValueError, "from get_buffer"),
                 (lambda p: False, TypeError, no_len.replace("NoneType", "bool")),
                 (lambda p: bytearray(), RuntimeError, "get_buffer() returned an empty buffer")]
        for get_buffer, kind, message in cases:
            with self.subTest(kind=kind.__name__):
                events = []
                transport, protocol, peer = self.connect(lambda: _Buffered(events, {"get_buffer": get_buffer}))
                peer.send(b"data")
                self.run_until(self.loop.create_task(self.wait_for_events(events, 1, "connection_lost")))
                self.assertEqual(events, [("get_buffer",), ("connection_lost", "_Buffered", kind.__name__)])
                self.assertEqual([(c["message"], type(c["exception"]), str(c["exception"]))
                                  for c in self.take_loop_errors()],
                                 [("Fatal error: protocol.get_buffer() call failed.", kind, message)])

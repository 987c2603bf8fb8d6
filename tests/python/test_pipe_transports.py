"""Unix pipe transports, differential: loop.connect_read_pipe /
connect_write_pipe over os.pipe() and subprocess pipes, with asyncio's
behaviour on both loops (PyLoop's are the C ReadPipeTransport and
WritePipeTransport): reading, pause/resume, end of file, writes tried at
once and buffered when the pipe is full, flow control at asyncio's
thresholds (resume only once the buffer is empty), write_eof, abort, close
and the order of protocol calls, the reader closing (BrokenPipeError when
bytes were buffered), bad input, extra info, repr, ResourceWarning, and no
fd or transport left behind.

No sleeps: a full pipe is made full by a small pipe buffer and a large
write; progress is waited for through futures and loop iterations."""

import asyncio
import errno
import fcntl
import gc
import os
import re
import sys
import tempfile
import unittest
import warnings
import weakref
from asyncio import transports

from base import TIMEOUT, both_loops

F_SETPIPE_SZ = getattr(fcntl, "F_SETPIPE_SZ", 1031)
HAS_IS_READING = sys.version_info >= (3, 11)  # 3.10: ReadTransport's NotImplementedError


class _Recorder(asyncio.Protocol):
    """Every protocol call in order; futures for what tests wait on."""

    def __init__(self, loop):
        self.loop = loop
        self.events = []
        self.data = bytearray()
        self.transport = None
        self.lost = loop.create_future()
        self.got = None  # (size, future): resolved once len(data) >= size

    def connection_made(self, transport):
        self.transport = transport
        self.events.append("made")

    def data_received(self, data):
        self.events.append("data")
        self.data += data
        if self.got and len(self.data) >= self.got[0] and not self.got[1].done():
            self.got[1].set_result(None)

    def eof_received(self):
        self.events.append("eof")

    def pause_writing(self):
        self.events.append(("pause", self.transport.get_write_buffer_size()))

    def resume_writing(self):
        self.events.append(("resume", self.transport.get_write_buffer_size()))

    def connection_lost(self, exc):
        self.events.append(("lost", type(exc).__name__ if exc else None))
        if not self.lost.done():
            self.lost.set_result(exc)

    async def wait_for_bytes(self, size):
        if len(self.data) < size:
            self.got = (size, self.loop.create_future())
            await self.got[1]


def small_pipe():
    """os.pipe() with the smallest buffer the kernel allows (one page)."""
    r, w = os.pipe()
    try:
        fcntl.fcntl(w, F_SETPIPE_SZ, 4096)
    except OSError:
        pass
    return r, w


def pipe_capacity(w):
    """How many bytes the pipe takes before refusing (it is empty now)."""
    flags = fcntl.fcntl(w, fcntl.F_GETFL)
    fcntl.fcntl(w, fcntl.F_SETFL, flags | os.O_NONBLOCK)
    return flags


@both_loops
class _PipeTransports:

    # ---- helpers -----------------------------------------------------------

    def read_pipe(self, fd):
        tr, proto = self.run_coro(self.loop.connect_read_pipe(
            lambda: _Recorder(self.loop), os.fdopen(fd, "rb", 0)))
        self.check_type(tr, "ReadPipeTransport")
        return tr, proto

    def write_pipe(self, fd):
        tr, proto = self.run_coro(self.loop.connect_write_pipe(
            lambda: _Recorder(self.loop), os.fdopen(fd, "wb", 0)))
        self.check_type(tr, "WritePipeTransport")
        return tr, proto

    def check_type(self, tr, name):
        if self.LOOP_NAME == "pyloop":
            self.assertIs(type(tr), getattr(self.pyloop._pyloop, name))

    def drain_fd(self, fd, size):
        """Reads `size` bytes from the blocking read end of a pipe."""
        got = bytearray()
        while len(got) < size:
            chunk = os.read(fd, size - len(got))
            if not chunk:
                break
            got += chunk
        return bytes(got)

    def fill(self, tr, size=256 * 1024):
        """A write the pipe cannot take at once: the rest is buffered."""
        payload = bytes(range(256)) * (size // 256)
        tr.write(payload)
        return payload

    # ---- reading -------------------------------------------------------------

    def test_read_in_order_then_eof_then_lost(self):
        r, w = os.pipe()
        tr, proto = self.read_pipe(r)
        self.assertEqual(proto.events, ["made"])
        self.assertIsInstance(tr, transports.ReadTransport)
        os.write(w, b"hello ")
        os.write(w, b"world")
        self.run_coro(proto.wait_for_bytes(11))
        self.assertEqual(bytes(proto.data), b"hello world")
        self.assertFalse(tr.is_closing())
        os.close(w)
        self.assertIsNone(self.run_coro(proto.lost))
        events = [e for e in proto.events if e != "data"]
        self.assertEqual(events, ["made", "eof", ("lost", None)])
        self.assertTrue(tr.is_closing())
        self.assertIsNone(tr.get_protocol())
        self.assertRegex(repr(tr), r"^<\w+ closed fd=\d+ closed>$")

    def test_read_max_size_reads(self):
        r, w = small_pipe()
        tr, proto = self.read_pipe(r)
        self.assertEqual(type(tr).max_size, 256 * 1024)
        tr.max_size = 3  # instance attribute honoured, as asyncio's os.read(fd, self.max_size)
        os.write(w, b"abcdefg")
        self.run_coro(proto.wait_for_bytes(7))
        self.assertEqual(proto.events.count("data"), 3)
        tr.close()
        os.close(w)
        self.run_coro(proto.lost)

    def test_negative_max_size_is_a_fatal_read_error(self):
        # asyncio: os.read(fd, -1) raises OSError(EINVAL), which _read_ready
        # hands to _fatal_error: the handler hears of it, the protocol loses
        # the connection with it.
        r, w = os.pipe()
        tr, proto = self.read_pipe(r)
        seen = []
        self.loop.set_exception_handler(lambda loop, context: seen.append(context))
        tr.max_size = -1
        os.write(w, b"x")
        exc = self.run_coro(proto.lost)
        self.assertIsInstance(exc, OSError)
        self.assertEqual(exc.errno, errno.EINVAL)
        self.assertEqual([c["message"] for c in seen], ["Fatal read error on pipe transport"])
        self.assertIs(seen[0]["exception"], exc)
        self.assertEqual(proto.data, b"")
        os.close(w)

    def test_pause_and_resume_reading(self):
        r, w = os.pipe()
        tr, proto = self.read_pipe(r)
        if HAS_IS_READING:
            self.assertTrue(tr.is_reading())
        tr.pause_reading()
        tr.pause_reading()  # idempotent
        if HAS_IS_READING:
            self.assertFalse(tr.is_reading())
        os.write(w, b"held")
        for _ in range(3):
            self.run_briefly()
        self.assertEqual(proto.data, b"")
        self.assertIn(" idle>", repr(tr))
        tr.resume_reading()
        tr.resume_reading()
        if HAS_IS_READING:
            self.assertTrue(tr.is_reading())
        self.assertIn(" polling>", repr(tr))
        self.run_coro(proto.wait_for_bytes(4))
        self.assertEqual(proto.data, b"held")
        os.close(w)
        self.run_coro(proto.lost)
        if HAS_IS_READING:
            self.assertFalse(tr.is_reading())

    def test_pause_before_connection_made(self):
        if not HAS_IS_READING:
            self.skipTest("3.10's asyncio starts reading even when paused first")
        r, w = os.pipe()
        os.write(w, b"early")
        pipe = os.fdopen(r, "rb", 0)
        proto = _Recorder(self.loop)
        waiter = self.loop.create_future()
        tr = self.loop._make_read_pipe_transport(pipe, proto, waiter)
        tr.pause_reading()
        self.run_coro(waiter)
        for _ in range(3):
            self.run_briefly()
        self.assertEqual(proto.data, b"")
        tr.resume_reading()
        self.run_coro(proto.wait_for_bytes(5))
        tr.close()
        os.close(w)
        self.run_coro(proto.lost)

    def test_read_close_calls_lost_soon(self):
        r, w = os.pipe()
        tr, proto = self.read_pipe(r)
        pipe = tr.get_extra_info("pipe")
        tr.close()
        self.assertTrue(tr.is_closing())
        self.assertNotIn(("lost", None), proto.events)  # through call_soon
        self.assertRegex(repr(tr), r"^<\w+ closing fd=\d+ (idle|polling)>$")
        tr.close()
        self.run_coro(proto.lost)
        self.assertEqual(proto.events, ["made", ("lost", None)])
        self.assertTrue(pipe.closed)
        self.assertFalse(hasattr(tr, "abort"))  # asyncio's read pipe has none
        os.close(w)

    def test_data_received_error_goes_to_handler_and_reading_goes_on(self):
        r, w = os.pipe()
        tr, proto = self.read_pipe(r)
        seen = []
        self.loop.set_exception_handler(lambda loop, context: seen.append(context))

        def boom(data):
            proto.data += data
            if len(seen) == 0 and len(proto.data) == 1:
                raise ZeroDivisionError("boom")
            if len(proto.data) == 2:
                proto.lost.set_result("second")
        proto.data_received = boom
        os.write(w, b"a")
        for _ in range(3):
            self.run_briefly()
        os.write(w, b"b")
        self.assertEqual(self.run_coro(proto.lost), "second")
        self.assertEqual(len(seen), 1)
        self.assertIsInstance(seen[0]["exception"], ZeroDivisionError)
        self.assertTrue(seen[0]["message"].startswith("Exception in callback "), seen[0]["message"])
        self.assertIn("_read_ready", seen[0]["message"])
        self.assertFalse(tr.is_closing())
        tr.close()
        os.close(w)
        self.run_briefly()

    # ---- writing ---------------------------------------------------------------

    def test_write_at_once(self):
        r, w = os.pipe()
        tr, proto = self.write_pipe(w)
        self.assertIsInstance(tr, transports.WriteTransport)
        tr.write(b"abc")
        tr.write(bytearray(b"def"))
        tr.write(memoryview(b"ghi"))
        tr.write(b"")
        tr.writelines([b"j", b"k"])
        self.assertEqual(tr.get_write_buffer_size(), 0)
        self.assertEqual(os.read(r, 100), b"abcdefghijk")  # written before any iteration
        self.assertTrue(tr.can_write_eof())
        tr.close()
        self.run_coro(proto.lost)
        self.assertEqual(os.read(r, 100), b"")
        os.close(r)

    def test_full_pipe_buffers_pauses_and_resumes_when_empty(self):
        r, w = small_pipe()
        tr, proto = self.write_pipe(w)
        self.assertEqual(tr.get_write_buffer_limits(), (16 * 1024, 64 * 1024))
        payload = self.fill(tr)
        buffered = tr.get_write_buffer_size()
        self.assertGreater(buffered, 64 * 1024)
        self.assertLess(buffered, len(payload))
        self.assertEqual(proto.events, ["made", ("pause", buffered)])
        self.assertTrue(tr._protocol_paused)
        self.assertRegex(repr(tr), r"^<\w+ fd=\d+ polling bufsize=%d>$" % buffered)
        # a write while buffered is appended, never tried
        tr.write(b"tail")
        self.assertEqual(tr.get_write_buffer_size(), buffered + 4)
        got = bytearray()
        while len(got) < len(payload) + 4:
            got += self.run_coro(self.loop.run_in_executor(None, os.read, r, 1 << 20))
        self.assertEqual(bytes(got), payload + b"tail")
        while tr.get_write_buffer_size():
            self.run_briefly()
        # resume_writing only once the buffer emptied (asyncio's pipe)
        self.assertEqual(proto.events, ["made", ("pause", buffered), ("resume", 0)])
        self.assertFalse(tr._protocol_paused)
        tr.close()
        self.run_coro(proto.lost)
        os.close(r)

    def test_write_buffer_limits(self):
        r, w = small_pipe()
        tr, proto = self.write_pipe(w)
        with self.assertRaises(ValueError) as caught:
            tr.set_write_buffer_limits(high=1, low=2)
        self.assertEqual(str(caught.exception), "high (1) must be >= low (2) must be >= 0")
        tr.set_write_buffer_limits(high=10 ** 7)
        self.assertEqual(tr.get_write_buffer_limits(), (10 ** 7 // 4, 10 ** 7))
        payload = self.fill(tr)
        self.assertEqual(proto.events, ["made"])  # below high
        buffered = tr.get_write_buffer_size()
        tr.set_write_buffer_limits(high=100, low=10)
        self.assertEqual(tr.get_write_buffer_limits(), (10, 100))
        self.assertEqual(proto.events, ["made", ("pause", buffered)])  # at once, as _maybe_pause_protocol
        tr.set_write_buffer_limits(high=50)
        self.assertEqual(proto.events, ["made", ("pause", buffered)])  # once
        tr.abort()
        self.run_coro(proto.lost)
        self.assertEqual(proto.events[-1], ("lost", None))
        self.assertNotIn(("resume", 0), proto.events)
        os.close(r)
        del payload

    def test_write_buffer_limits_stored_as_given(self):
        # _FlowControlMixin._set_write_buffer_limits stores the objects it
        # is given after its checks: a float, a bool, a limit past ssize_t.
        r, w = small_pipe()
        tr, proto = self.write_pipe(w)
        tr.set_write_buffer_limits(1.5)
        limits = tr.get_write_buffer_limits()
        self.assertEqual(limits, (1.5 // 4, 1.5))
        self.assertIsInstance(limits[1], float)
        self.assertEqual((tr._low_water, tr._high_water), limits)
        tr.set_write_buffer_limits(True)
        self.assertIs(tr.get_write_buffer_limits()[1], True)
        tr.set_write_buffer_limits(2 ** 70)
        self.assertEqual(tr.get_write_buffer_limits(), (2 ** 68, 2 ** 70))
        # no buffer is above 2**70: a full pipe pauses nothing
        self.fill(tr)
        self.assertGreater(tr.get_write_buffer_size(), 0)
        self.assertEqual(proto.events, ["made"])
        # high=1.5 (compared as asyncio compares it): the buffer is above it
        tr.set_write_buffer_limits(high=1.5, low=0.5)
        buffered = tr.get_write_buffer_size()
        self.assertEqual(proto.events, ["made", ("pause", buffered)])
        tr.abort()
        self.run_coro(proto.lost)
        os.close(r)

    def test_write_eof_sends_buffer_then_eof(self):
        r, w = small_pipe()
        tr, proto = self.write_pipe(w)
        payload = self.fill(tr)
        tr.write_eof()
        self.assertTrue(tr.is_closing())
        tr.write_eof()
        tr.write(b"dropped")  # after write_eof: counted, not sent
        self.assertEqual(tr._conn_lost, 1)
        self.assertEqual(proto.events, ["made", ("pause", tr.get_write_buffer_size())])
        got = self.run_coro(self.loop.run_in_executor(None, self.drain_fd, r, len(payload) + 100))
        self.assertEqual(got, payload)
        self.run_coro(proto.lost)
        self.assertEqual(proto.events[-2:], [("resume", 0), ("lost", None)])
        self.assertTrue(tr.get_extra_info("pipe").closed)
        os.close(r)

    def test_close_nothing_buffered_calls_lost_soon(self):
        r, w = os.pipe()
        tr, proto = self.write_pipe(w)
        tr.close()
        self.assertTrue(tr.is_closing())
        self.assertEqual(proto.events, ["made"])
        tr.close()
        self.assertIsNone(self.run_coro(proto.lost))
        self.assertEqual(proto.events, ["made", ("lost", None)])
        self.assertEqual(os.read(r, 10), b"")
        self.assertRegex(repr(tr), r"^<\w+ closed fd=\d+ closed>$")
        os.close(r)

    def test_abort_drops_buffer(self):
        r, w = small_pipe()
        tr, proto = self.write_pipe(w)
        payload = self.fill(tr)
        sent = len(payload) - tr.get_write_buffer_size()
        tr.abort()
        self.assertEqual(tr.get_write_buffer_size(), 0)
        self.assertTrue(tr.is_closing())
        self.assertNotIn(("lost", None), proto.events)
        self.assertIsNone(self.run_coro(proto.lost))
        got = self.run_coro(self.loop.run_in_executor(None, self.drain_fd, r, len(payload)))
        self.assertEqual(got, payload[:sent])
        os.close(r)

    def test_reader_closed_idle(self):
        r, w = os.pipe()
        tr, proto = self.write_pipe(w)
        os.close(r)
        self.assertIsNone(self.run_coro(proto.lost))
        self.assertEqual(proto.events, ["made", ("lost", None)])
        self.assertTrue(tr.is_closing())

    def test_reader_closed_with_buffer_is_broken_pipe(self):
        r, w = small_pipe()
        tr, proto = self.write_pipe(w)
        self.fill(tr)
        self.assertTrue(tr.get_write_buffer_size())
        os.close(r)
        exc = self.run_coro(proto.lost)
        self.assertIsInstance(exc, BrokenPipeError)
        self.assertEqual(proto.events[-1], ("lost", "BrokenPipeError"))
        self.assertEqual(tr.get_write_buffer_size(), 0)

    def test_write_after_reader_closed_is_counted(self):
        r, w = os.pipe()
        tr, proto = self.write_pipe(w)
        os.close(r)
        self.run_coro(proto.lost)
        for _ in range(3):
            tr.write(b"x")
        self.assertEqual(tr._conn_lost, 3)

    def test_write_epipe_before_the_reader_notices(self):
        # the write end learns of EPIPE from write() itself: an OSError,
        # logged in debug mode only, then connection_lost(exc)
        r, w = os.pipe()
        tr, proto = self.write_pipe(w)
        seen = []
        self.loop.set_exception_handler(lambda loop, context: seen.append(context))
        os.close(r)
        tr.write(b"x")
        self.assertTrue(tr.is_closing())
        self.assertEqual(tr._conn_lost, 1)
        exc = self.run_coro(proto.lost)
        self.assertIsInstance(exc, BrokenPipeError)
        self.assertEqual(seen, [])

    # ---- bad input -------------------------------------------------------------

    def test_write_rejects_str(self):
        r, w = os.pipe()
        tr, proto = self.write_pipe(w)
        with self.assertRaises(AssertionError) as caught:
            tr.write("text")
        self.assertEqual(str(caught.exception), "'text'")
        with self.assertRaises(AssertionError):
            tr.write(123)
        self.assertFalse(tr.is_closing())
        tr.close()
        self.run_coro(proto.lost)
        os.close(r)

    def test_arguments_bind_as_asyncio_methods(self):
        # Each method takes its arguments as asyncio's Python method (by
        # keyword too) and a misuse reads as asyncio's TypeError, naming the
        # class that defines the method; the read pipe's _close(exc) has no
        # default, the write pipe's has.
        r, w = os.pipe()
        rtr, rproto = self.read_pipe(r)
        wtr, wproto = self.write_pipe(w)
        wtr.write(data=b"kw")
        self.run_coro(rproto.wait_for_bytes(2))
        self.assertEqual(bytes(rproto.data), b"kw")
        other = _Recorder(self.loop)
        for tr, proto in ((rtr, rproto), (wtr, wproto)):
            tr.set_protocol(protocol=other)
            self.assertIs(tr.get_protocol(), other)
            tr.set_protocol(proto)
        misuses = [
            (lambda: rtr.get_extra_info(), "BaseTransport.get_extra_info() missing 1 required positional argument: 'name'"),
            (lambda: wtr.get_extra_info(key="x"), "BaseTransport.get_extra_info() got an unexpected keyword argument 'key'"),
            (lambda: rtr.set_protocol(), "_UnixReadPipeTransport.set_protocol() missing 1 required positional argument: 'protocol'"),
            (lambda: wtr.set_protocol(1, 2), "_UnixWritePipeTransport.set_protocol() takes 2 positional arguments but 3 were given"),
            (lambda: wtr.write(), "_UnixWritePipeTransport.write() missing 1 required positional argument: 'data'"),
            (lambda: wtr.write(b"a", b"b"), "_UnixWritePipeTransport.write() takes 2 positional arguments but 3 were given"),
            (lambda: wtr.set_write_buffer_limits(foo=1),
             "_FlowControlMixin.set_write_buffer_limits() got an unexpected keyword argument 'foo'"),
            (lambda: wtr.set_write_buffer_limits(1, 2, 3),
             "_FlowControlMixin.set_write_buffer_limits() takes from 1 to 3 positional arguments but 4 were given"),
            (lambda: rtr._fatal_error(), "_UnixReadPipeTransport._fatal_error() missing 1 required positional argument: 'exc'"),
            (lambda: wtr._fatal_error(), "_UnixWritePipeTransport._fatal_error() missing 1 required positional argument: 'exc'"),
            (lambda: rtr._close(), "_UnixReadPipeTransport._close() missing 1 required positional argument: 'exc'"),
            (lambda: wtr._close(1, 2), "_UnixWritePipeTransport._close() takes from 1 to 2 positional arguments but 3 were given"),
        ]
        for call, message in misuses:
            with self.assertRaises(TypeError) as caught:
                call()
            self.assertEqual(str(caught.exception), message)
        self.assertFalse(rtr.is_closing())
        self.assertFalse(wtr.is_closing())
        rtr._close(ValueError("c"))
        wtr._close()
        self.assertIsInstance(self.run_coro(rproto.lost), ValueError)
        self.assertIsNone(self.run_coro(wproto.lost))

    def test_regular_file_rejected(self):
        with tempfile.TemporaryFile() as f:
            with self.assertRaises(ValueError) as caught:
                self.run_coro(self.loop.connect_read_pipe(lambda: _Recorder(self.loop), f))
            self.assertEqual(str(caught.exception), "Pipe transport is for pipes/sockets only.")
            with self.assertRaises(ValueError) as caught:
                self.run_coro(self.loop.connect_write_pipe(lambda: _Recorder(self.loop), f))
            self.assertEqual(str(caught.exception),
                             "Pipe transport is only for pipes, sockets and character devices")

    def test_closed_fd_rejected(self):
        r, w = os.pipe()
        pipe = os.fdopen(r, "rb", 0)
        os.close(w)
        pipe.close()
        unraisable = []
        hook, sys.unraisablehook = sys.unraisablehook, unraisable.append
        try:
            with self.assertRaises(ValueError) as caught:  # fileno() of a closed file
                self.run_coro(self.loop.connect_read_pipe(lambda: _Recorder(self.loop), pipe))
            del caught
            gc.collect()
        finally:
            sys.unraisablehook = hook
        if self.LOOP_NAME == "pyloop":
            # asyncio's half-made transport fails in __del__ (no _closing
            # yet); PyLoop's never holds the pipe before the checks pass.
            self.assertEqual(unraisable, [])

    # ---- extra info, attributes, repr, finalizer -------------------------------------

    def test_extra_info_and_attributes(self):
        r, w = os.pipe()
        rpipe, wpipe = os.fdopen(r, "rb", 0), os.fdopen(w, "wb", 0)
        extra = {"mine": 1}
        proto = _Recorder(self.loop)
        waiter = self.loop.create_future()
        tr = self.loop._make_write_pipe_transport(wpipe, proto, waiter, extra)
        self.run_coro(waiter)
        self.assertIs(tr.get_extra_info("pipe"), wpipe)
        self.assertIs(extra["pipe"], wpipe)  # asyncio stores it in the caller's dict
        self.assertEqual(tr.get_extra_info("mine"), 1)
        self.assertIsNone(tr.get_extra_info("nothing"))
        self.assertEqual(tr.get_extra_info("nothing", 5), 5)
        self.assertIs(tr.get_protocol(), proto)
        other = _Recorder(self.loop)
        tr.set_protocol(other)
        self.assertIs(tr.get_protocol(), other)
        tr.set_protocol(proto)
        calls = []
        tr.write = lambda data: calls.append(data)  # instances are patchable
        tr.write(b"z")
        self.assertEqual(calls, [b"z"])
        del tr.write
        tr.note = "kept"
        self.assertEqual(tr.note, "kept")
        self.assertEqual(tr._fileno, w)
        self.assertIs(tr._pipe, wpipe)
        rtr, rproto = self.read_pipe(os.dup(r))
        self.assertRegex(repr(rtr), r"^<\w+ fd=\d+ polling>$")
        rtr.close()
        self.run_coro(rproto.lost)
        tr.close()
        self.run_coro(proto.lost)
        self.assertIsNone(tr._pipe)
        rpipe.close()

    def test_unclosed_transport_warns(self):
        r, w = os.pipe()
        tr, proto = self.read_pipe(r)
        pipe = tr.get_extra_info("pipe")
        text = repr(tr)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            tr.pause_reading()  # the loop lets go of it
            del tr, proto
            gc.collect()
        messages = [str(x.message) for x in caught if issubclass(x.category, ResourceWarning)]
        self.assertEqual(messages, ["unclosed transport %s" % text.replace(" polling", " idle")])
        self.assertTrue(pipe.closed)
        os.close(w)

    # ---- subprocess --------------------------------------------------------------

    def test_subprocess_communicate(self):
        async def main():
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-c",
                "import sys; data = sys.stdin.buffer.read(); "
                "sys.stdout.buffer.write(data.upper()); sys.stderr.write('err')",
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE)
            if self.LOOP_NAME == "pyloop":
                transport = proc._transport
                self.check_type(transport.get_pipe_transport(0), "WritePipeTransport")
                self.check_type(transport.get_pipe_transport(1), "ReadPipeTransport")
            out, err = await proc.communicate(b"abc" * 100000)
            return proc.returncode, out, err
        code, out, err = self.run_coro(main())
        self.assertEqual((code, out, err), (0, b"ABC" * 100000, b"err"))

    def test_subprocess_streams(self):
        async def main():
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-c",
                "import sys\nfor line in sys.stdin:\n    print(line.strip()[::-1], flush=True)",
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
            got = []
            for word in (b"one", b"two", b"three"):
                proc.stdin.write(word + b"\n")
                await proc.stdin.drain()
                got.append(await proc.stdout.readline())
            proc.stdin.close()
            await proc.stdin.wait_closed()
            rest = await proc.stdout.read()
            return got, rest, await proc.wait()
        got, rest, code = self.run_coro(main())
        self.assertEqual(got, [b"eno\n", b"owt\n", b"eerht\n"])
        self.assertEqual((rest, code), (b"", 0))

    # ---- leaks -----------------------------------------------------------------

    def test_no_fd_or_transport_left(self):
        before = set(os.listdir("/proc/self/fd"))
        refs = []
        for _ in range(20):
            r, w = os.pipe()
            rtr, rproto = self.read_pipe(r)
            wtr, wproto = self.write_pipe(w)
            wtr.write(b"x" * 1000)
            self.run_coro(rproto.wait_for_bytes(1000))
            wtr.close()
            self.run_coro(rproto.lost)
            self.run_coro(wproto.lost)
            refs += [weakref.ref(rtr), weakref.ref(wtr)]
            del rtr, wtr, rproto, wproto
        self.run_briefly()
        gc.collect()
        self.assertEqual([ref for ref in refs if ref() is not None], [])
        self.assertEqual(set(os.listdir("/proc/self/fd")) - before, set())


if __name__ == "__main__":
    unittest.main()

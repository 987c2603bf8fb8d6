"""The accept loop's protocol factories, and a patched loop.time (issue 14,
items 10 and 11), differential: each body runs on stock asyncio and on PyLoop.

asyncio accepts every pending connection of a readiness first and calls the
protocol factories afterwards (each in a task): a factory that closes its
own server leaves the other connections accepted, their transports fail
Server._attach, and asyncio drops them without a word. asyncio's scheduler
reads self.time(), so a `time` patched on the instance (aiohttp's and
pytest-aiohttp's tests do it) decides when timers fire.
"""

import asyncio
import gc
import inspect
import socket
import sys
import unittest
import warnings
from unittest import mock
from asyncio import base_events, selector_events

import base
import child
from base import TIMEOUT

HOST = "127.0.0.1"


def _asyncio_accepts_beyond_backlog():
    """How many accepts stock asyncio's accept loop makes per readiness
    beyond the backlog: 0, or 1 in the bug-fix releases (3.13.x, 3.14+,
    range(backlog + 1)). Asked of its own _accept_connection, with a backlog
    of 0 and a stand-in socket that has nothing to accept."""
    class Sock:
        accepts = 0

        def accept(self):
            self.accepts += 1
            raise BlockingIOError

    sock = Sock()
    selector_events.BaseSelectorEventLoop._accept_connection(None, None, sock, None, None, 0)
    return sock.accepts


def _asyncio_del_detach_raises_after_close():
    """3.13's _SelectorTransport.__del__ calls server._detach(self), whose
    _wakeup() then iterates the None that Server.close() left: each
    transport dropped for a closed server without clients gives an
    unraisable TypeError. Probed, not version-sniffed."""
    if "_detach" not in inspect.getsource(selector_events._SelectorTransport.__del__):
        return False
    server = base_events.Server(None, [], None, None, 100, None)
    server.close()
    try:
        server._detach(object())
    except TypeError:
        return True
    return False


class _Unraisable:
    """sys.unraisablehook, recording the exception types."""

    def __enter__(self):
        self.seen = []
        self._saved = sys.unraisablehook
        sys.unraisablehook = lambda u: self.seen.append(type(u.exc_value).__name__)
        return self

    def __exit__(self, *exc_info):
        sys.unraisablehook = self._saved


@base.both_loops
class _AcceptLoopFactories:

    def wait_for(self, predicate):
        async def poll():
            while not predicate():
                await base.next_round()
        self.run_coro(poll())

    def serve_one_batch(self, close_at, clients=3):
        """`clients` connections queued before the loop runs (one readiness
        of the listening socket); the factory's `close_at`-th call closes the
        server. Returns (factory calls, protocols made, unraisable types,
        [peer sees EOF] per client)."""
        made, calls = [], []
        server = None

        class Recorder(asyncio.Protocol):
            def connection_made(self, transport):
                self.transport = transport
                made.append(self)

        def factory():
            calls.append(len(calls) + 1)
            if len(calls) == close_at:
                server.close()
            return Recorder()

        with _Unraisable() as unraisable, warnings.catch_warnings():
            # The dropped connections' sockets: "unclosed transport" (and,
            # in the collector's order, "unclosed socket") on both loops.
            warnings.simplefilter("ignore", ResourceWarning)
            server = self.loop.run_until_complete(self.loop.create_server(factory, HOST, 0))
            address = server.sockets[0].getsockname()
            peers = [socket.create_connection(address, timeout=TIMEOUT) for _ in range(clients)]
            for peer in peers:
                self.addCleanup(peer.close)
            # Every accepted connection meets the factory (or something
            # went wrong that the loop reported).
            self.wait_for(lambda: len(calls) == clients or self._loop_errors or unraisable.seen)
            # The survivors' connection_made runs in one iteration, so a
            # dropped one that got it would show up by then too.
            self.wait_for(lambda: len(made) >= close_at - 1 or self._loop_errors)
            self.run_briefly()
            gc.collect()  # asyncio's dropped transports sit in a cycle
            eof = []
            for peer in peers:
                peer.setblocking(False)
                try:
                    eof.append(peer.recv(1) == b"")
                except BlockingIOError:
                    eof.append(False)
                except ConnectionResetError:
                    eof.append("reset")
            for protocol in made:
                protocol.transport.close()
            self.run_coro(server.wait_closed())
            gc.collect()
        return calls, len(made), unraisable.seen, eof

    def test_factory_closing_its_server_drops_the_other_connections_silently(self):
        # The first factory call closes the server: no connection is made,
        # every peer sees its connection closed, nothing is reported.
        calls, made, unraisable, eof = self.serve_one_batch(close_at=1)
        self.assertEqual(self.take_loop_errors(), [])
        self.assertEqual(calls, [1, 2, 3])
        self.assertEqual(made, 0)
        self.assertEqual(eof, [True, True, True])
        expected = ["TypeError"] * 3 if _asyncio_del_detach_raises_after_close() else []
        self.assertEqual(unraisable, expected)

    def test_factory_closing_its_server_keeps_the_connections_made_before(self):
        # A live connection keeps the server's clients non-empty, so no
        # version of asyncio reports anything here.
        calls, made, unraisable, eof = self.serve_one_batch(close_at=2)
        self.assertEqual(self.take_loop_errors(), [])
        self.assertEqual(calls, [1, 2, 3])
        self.assertEqual(made, 1)
        self.assertEqual(eof, [False, True, True])
        self.assertEqual(unraisable, [])

    def test_out_of_fds_is_reported_before_the_accepted_connection_is_made(self):
        # asyncio reports each failed accept() from its accept loop and
        # calls the factories afterwards, in their tasks: backlog 3, one
        # accept() succeeds, the other 2 (3 where asyncio makes backlog + 1
        # accepts) fail. The fd limit is the process's: a child process
        # runs it.
        result, proc = child.run_child(self, r"""
            import os, resource, socket
            loop = new_loop()
            events = []
            loop.set_exception_handler(lambda loop, context: events.append(context["message"]))

            def factory():
                events.append("factory")
                return asyncio.Protocol()

            server = loop.run_until_complete(loop.create_server(factory, "127.0.0.1", 0, backlog=3))
            peers = [socket.create_connection(server.sockets[0].getsockname()) for _ in range(2)]
            # Every fd number below `free` in use and the limit just above
            # it: the first accept() takes `free`, the next ones fail.
            top = max(int(n) for n in os.listdir("/proc/self/fd"))
            fillers = []
            while True:
                fd = os.open(os.devnull, os.O_RDONLY)
                if fd > top:
                    os.close(fd)
                    free = fd
                    break
                fillers.append(fd)
            soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
            resource.setrlimit(resource.RLIMIT_NOFILE, (free + 1, hard))

            async def until_made():
                while "factory" not in events:
                    await asyncio.sleep(1e-9)  # base.next_round()
            try:
                loop.run_until_complete(asyncio.wait_for(until_made(), 5))
            finally:
                resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
            for fd in fillers:
                os.close(fd)
            report(events=events)
            server.close()
            for peer in peers:
                peer.close()
            loop.run_until_complete(asyncio.sleep(0))
            loop.close()
        """)
        shortage = "socket.accept() out of system resource"
        failed = 2 + _asyncio_accepts_beyond_backlog()
        child.assert_child(self, result, proc, {"events": [shortage] * failed + ["factory"]})

    def test_an_interrupting_factory_leaves_the_rest_for_the_next_run(self):
        # KeyboardInterrupt from the second factory ends the run, as it
        # leaves asyncio's task; the third connection is made in the next
        # run, as asyncio's pending task is. A child: the interrupt must
        # not reach the test process.
        result, proc = child.run_child(self, r"""
            import socket
            loop = new_loop()
            calls, made = [], []

            class Recorder(asyncio.Protocol):
                def connection_made(self, transport):
                    made.append(transport)

            def factory():
                calls.append(len(calls) + 1)
                if len(calls) == 2:
                    raise KeyboardInterrupt
                return Recorder()

            server = loop.run_until_complete(loop.create_server(factory, "127.0.0.1", 0))
            peers = [socket.create_connection(server.sockets[0].getsockname()) for _ in range(3)]

            async def until(predicate):
                while not predicate():
                    await asyncio.sleep(1e-9)  # base.next_round()
            try:
                loop.run_until_complete(asyncio.wait_for(until(lambda: False), 5))
                interrupted = False
            except KeyboardInterrupt:
                interrupted = True
            calls_at_interrupt = list(calls)
            loop.run_until_complete(asyncio.wait_for(until(lambda: len(made) == 2), 5))
            report(interrupted=interrupted, calls_at_interrupt=calls_at_interrupt, calls=calls, made=len(made))
            for transport in made:
                transport.close()
            server.close()
            loop.run_until_complete(server.wait_closed())
            for peer in peers:
                peer.close()
            loop.close()
        """)
        child.assert_child(self, result, proc, {"interrupted": True, "calls_at_interrupt": [1, 2],
                                                "calls": [1, 2, 3], "made": 2})


@base.both_loops
class _PatchedTime:
    """asyncio's scheduler reads self.time(): once for the selector's
    timeout when it would block with timers pending, once per iteration for
    the due timers; call_later is call_at(self.time() + delay)."""

    def test_instance_time_decides_which_timers_are_due(self):
        real = self.loop.time
        fired = []
        self.loop.call_at(real() + 3600, fired.append, "an hour away")
        self.loop.time = lambda: real() + 7200
        try:
            self.run_briefly()
        finally:
            del self.loop.time
        self.assertEqual(fired, ["an hour away"])

    def test_advancing_a_patched_clock_wakes_a_sleeper_without_a_wait(self):
        # pytest-aiohttp's clock advancer: time is real time plus an offset
        # the test moves forward.
        real = self.loop.time
        offset = [0.0]
        self.loop.time = lambda: real() + offset[0]
        woke = []

        async def sleeper():
            await asyncio.sleep(3600)
            woke.append(True)
            self.loop.stop()

        task = self.loop.create_task(sleeper())
        try:
            self.run_briefly()  # asleep, an hour to go
            self.assertEqual(woke, [])
            offset[0] = 3600.0
            # The hang guard is an hour and TIMEOUT away on this clock.
            self.run_forever_guarded()
        finally:
            del self.loop.time
        self.assertEqual(woke, [True])
        self.assertTrue(task.done())

    def test_call_later_counts_from_the_patched_time(self):
        fired = []
        with mock.patch.object(self.loop, "time", return_value=0.0):
            handle = self.loop.call_later(1, fired.append, "later")
            self.assertEqual(handle.when(), 1.0)
            self.run_briefly()  # 1.0 is a second away on this clock
            self.assertEqual(fired, [])
        # Unpatched (delattr): the engine's clock is back, long past 1.0.
        self.run_briefly()
        self.assertEqual(fired, ["later"])

    def test_mock_time_moved_to_a_deadline_fires_it(self):
        # aiohttp's test_keepalive_expires_on_time: loop.time is a mock, its
        # return value is moved to a handle's deadline, and two sleep(0)
        # later the handle has run (asyncio's iterations: native only).
        self.require_asyncio_iteration_semantics()
        fired = []

        async def main():
            now = self.loop.time()
            with mock.patch.object(self.loop, "time") as time_mock:
                time_mock.return_value = now
                # A second ahead: before run_coro's hang guard (TIMEOUT),
                # which would fire too once the clock passed it.
                handle = self.loop.call_at(now + 1, fired.append, "expired")
                await asyncio.sleep(0)
                self.assertEqual(fired, [])
                time_mock.return_value = handle.when()
                await asyncio.sleep(0)
                await asyncio.sleep(0)
                self.assertEqual(fired, ["expired"])
                self.assertGreater(time_mock.call_count, 0)

        self.run_coro(main())

    def test_a_subclass_time_decides_which_timers_are_due(self):
        class Shifted(type(self.loop)):
            def time(self):
                return super().time() + 7200

        loop = Shifted()
        try:
            fired = []
            loop.call_at(self.loop.time() + 3600, fired.append, "an hour away")
            loop.call_soon(loop.stop)
            loop.run_forever()
            self.assertEqual(fired, ["an hour away"])
            # call_later counts from it too.
            handle = loop.call_later(10, fired.append, "never")
            self.assertGreater(handle.when() - self.loop.time(), 7200)
            handle.cancel()
        finally:
            loop.close()

    def test_a_raising_time_ends_the_run_with_its_exception(self):
        def broken():
            raise ZeroDivisionError("no clock")

        self.loop.call_soon(self.loop.stop)
        self.loop.time = broken
        try:
            with self.assertRaises(ZeroDivisionError):
                self.loop.run_forever()
        finally:
            del self.loop.time
        self.assertFalse(self.loop.is_running())
        self.run_briefly()  # the loop is usable again


if __name__ == "__main__":
    unittest.main()

"""Signals: PyLoop's wakeup fd must not leak into forked children, nor
complain when a long callback leaves it undrained.

PyLoop sets signal.set_wakeup_fd() to its self-pipe while it runs in the
main thread (so that a signal wakes its C wait). Stock asyncio sets it only
in add_signal_handler(); a program that never calls that sees no wakeup fd,
in the loop's process or in a child forked from it.
"""

import os
import signal
import sys
import threading
import unittest
import warnings

import base
from child import assert_child, run_child, tail


def _wakeup_fd_of_forked_child():
    """Fork; the child reports what signal.set_wakeup_fd(-1) returns (the
    wakeup fd it inherited), then exits at once."""
    r, w = os.pipe()
    try:
        with warnings.catch_warnings():
            # 3.12+: "This process is multi-threaded, use of fork() may
            # lead to deadlocks in the child." The child only reports.
            warnings.simplefilter("ignore", DeprecationWarning)
            pid = os.fork()
        if pid == 0:
            try:
                os.write(w, str(signal.set_wakeup_fd(-1)).encode())
            except BaseException as exc:
                os.write(w, repr(exc).encode())
            finally:
                os._exit(0)
        os.close(w)
        w = None
        chunks = []
        while True:
            chunk = os.read(r, 256)
            if not chunk:
                break
            chunks.append(chunk)
        os.waitpid(pid, 0)
        return b"".join(chunks).decode()
    finally:
        os.close(r)
        if w is not None:
            os.close(w)


@base.both_loops
class _WakeupFdAndFork:

    def setUp(self):
        if not hasattr(os, "fork"):
            raise unittest.SkipTest("needs os.fork")
        super().setUp()

    def test_child_forked_in_callback_has_no_wakeup_fd(self):
        seen = []
        self.loop.call_soon(lambda: seen.append(_wakeup_fd_of_forked_child()))
        self.run_briefly()
        self.assertEqual(seen, ["-1"])

    def test_child_forked_by_thread_while_loop_waits_has_no_wakeup_fd(self):
        loop = self.loop
        done = loop.create_future()

        def worker():
            try:
                value = _wakeup_fd_of_forked_child()
            except BaseException as exc:
                value = repr(exc)
            loop.call_soon_threadsafe(done.set_result, value)

        thread = threading.Thread(target=worker, daemon=True)
        loop.call_soon(thread.start)
        try:
            self.assertEqual(self.run_coro(done), "-1")
        finally:
            thread.join(base.TIMEOUT)


@base.both_loops
class _SignalsDuringLongCallback:

    def test_many_signals_during_long_callback_report_nothing(self):
        # A plain signal.signal() handler and an interval timer; one
        # callback stays busy until more SIGALRMs have arrived than a fresh
        # socketpair holds one-byte writes (what an undrained self-pipe
        # holds). Bounded by the count of signals, not by time.
        if not hasattr(signal, "setitimer"):
            self.skipTest("needs signal.setitimer")
        result, proc = run_child(self, r'''
            import signal, socket
            x, y = socket.socketpair()
            x.setblocking(False)
            capacity = 0
            try:
                while capacity <= 20000:
                    x.send(b"\0")
                    capacity += 1
            except BlockingIOError:
                pass
            x.close()
            y.close()
            if capacity > 20000:
                report(skip="a socketpair holds more than 20000 one-byte "
                            "writes here: too many signals to wait for")
                sys.exit(0)
            wanted = capacity + 200
            received = [0]
            def on_alarm(signum, frame):
                received[0] += 1
            signal.signal(signal.SIGALRM, on_alarm)
            loop = new_loop()
            def busy():
                signal.setitimer(signal.ITIMER_REAL, 0.001, 0.001)
                try:
                    while received[0] < wanted:
                        pass
                finally:
                    signal.setitimer(signal.ITIMER_REAL, 0, 0)
            loop.call_soon(busy)
            loop.call_soon(loop.stop)
            loop.run_forever()
            loop.close()
            report(received_all=received[0] >= wanted)
        ''', timeout=4 * base.TIMEOUT)
        if result and "skip" in result:
            self.skipTest(result["skip"])
        assert_child(self, result, proc, {"received_all": True})
        complaints = proc.stderr.count(
            "Exception ignored when trying to write to the signal wakeup fd")
        self.assertEqual(complaints, 0,
                         "the signal handler could not write its wakeup "
                         "byte %d times; stderr ends:\n%s"
                         % (complaints, tail(proc.stderr, 8)))

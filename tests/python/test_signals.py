"""add_signal_handler / remove_signal_handler."""

import os
import signal
import threading

import base


@base.both_loops
class _Signals:

    def setUp(self):
        super().setUp()
        self._saved = {s: signal.getsignal(s)
                       for s in (signal.SIGUSR1, signal.SIGUSR2)}

    def tearDown(self):
        try:
            for sig in self._saved:
                if not self.loop.is_closed():
                    self.loop.remove_signal_handler(sig)
        finally:
            for sig, handler in self._saved.items():
                signal.signal(sig, handler)
            super().tearDown()

    def test_signal_handler_runs(self):
        loop = self.loop
        got = loop.create_future()
        loop.add_signal_handler(signal.SIGUSR1,
                                lambda *a: got.done() or got.set_result(a),
                                "arg1", 2)
        os.kill(os.getpid(), signal.SIGUSR1)
        self.assertEqual(self.run_coro(got), ("arg1", 2))

        self.assertTrue(loop.remove_signal_handler(signal.SIGUSR1))
        self.assertEqual(signal.getsignal(signal.SIGUSR1), signal.SIG_DFL)
        self.assertFalse(loop.remove_signal_handler(signal.SIGUSR1))

    def test_signal_wakes_idle_loop(self):
        # The signal arrives while the loop waits with nothing else to do.
        loop = self.loop
        got = loop.create_future()
        loop.add_signal_handler(signal.SIGUSR1,
                                lambda: got.done() or got.set_result("sig"))
        running = threading.Event()
        errors = []

        def killer():
            try:
                if running.wait(base.TIMEOUT):
                    os.kill(os.getpid(), signal.SIGUSR1)
            except BaseException as e:
                errors.append(e)

        t = threading.Thread(target=killer, daemon=True)
        t.start()
        loop.call_soon(running.set)
        try:
            self.assertEqual(self.run_coro(got), "sig")
        finally:
            running.set()
            t.join(base.TIMEOUT)
        self.assertEqual(errors, [])

    def test_ctrl_c_interrupts_a_blocked_loop(self):
        # SIGINT (what Ctrl+C sends) while the loop waits with nothing to do:
        # KeyboardInterrupt leaves run_forever, and the loop still runs what
        # is queued afterwards. The signal may land after the last bytecode
        # and before the loop's wait begins; stock asyncio then sleeps on
        # (it has no wakeup fd here), so the sender repeats until the loop
        # has left, and only the first delivery raises.
        loop = self.loop
        armed = [True]
        left = threading.Event()

        def on_sigint(signum, frame):
            if armed[0]:
                armed[0] = False
                raise KeyboardInterrupt

        previous = signal.signal(signal.SIGINT, on_sigint)
        waiting = threading.Event()
        sent = []

        def interrupter():
            # At the main thread itself: a process-wide kill() may be taken
            # by this thread instead.
            if not waiting.wait(base.TIMEOUT):
                return
            for _ in range(200):
                signal.pthread_kill(threading.main_thread().ident, signal.SIGINT)
                sent.append(1)
                if left.wait(0.05):
                    return

        t = threading.Thread(target=interrupter, daemon=True)
        t.start()
        loop.call_soon(waiting.set)
        try:
            with self.assertRaises(KeyboardInterrupt):
                loop.run_forever()
        finally:
            left.set()
            waiting.set()
            t.join(base.TIMEOUT)
            signal.signal(signal.SIGINT, previous)
        self.assertFalse(loop.is_running())
        if self.ONE_SIGNAL_WAKES_BLOCKED_WAIT:
            # PyLoop sets a wakeup fd while it runs: the first signal does.
            self.assertEqual(len(sent), 1)
        ran = []
        loop.call_soon(ran.append, "after")
        loop.call_soon(loop.stop)
        loop.run_forever()
        self.assertEqual(ran, ["after"])

    def test_handler_replaced_and_multiple_signals(self):
        loop = self.loop
        calls = []
        done = loop.create_future()

        def check():
            if len(calls) == 2 and not done.done():
                done.set_result(None)

        loop.add_signal_handler(signal.SIGUSR1, calls.append, "old")
        loop.add_signal_handler(signal.SIGUSR1,
                                lambda: (calls.append("usr1"), check()))
        loop.add_signal_handler(signal.SIGUSR2,
                                lambda: (calls.append("usr2"), check()))
        os.kill(os.getpid(), signal.SIGUSR1)
        os.kill(os.getpid(), signal.SIGUSR2)
        self.run_coro(done)
        self.assertCountEqual(calls, ["usr1", "usr2"])
        self.assertTrue(loop.remove_signal_handler(signal.SIGUSR1))
        self.assertTrue(loop.remove_signal_handler(signal.SIGUSR2))

    def test_signal_handler_exception_goes_to_handler(self):
        loop = self.loop
        done = loop.create_future()

        def bad():
            loop.call_soon(done.set_result, None)
            raise ValueError("in signal handler")

        loop.add_signal_handler(signal.SIGUSR1, bad)
        os.kill(os.getpid(), signal.SIGUSR1)
        self.run_coro(done)
        errors = self.take_loop_errors()
        self.assertEqual(len(errors), 1)
        self.assertIsInstance(errors[0]["exception"], ValueError)

    def test_invalid_signals(self):
        loop = self.loop
        with self.assertRaises(RuntimeError):
            loop.add_signal_handler(signal.SIGKILL, lambda: None)
        with self.assertRaises((ValueError, RuntimeError)):
            loop.add_signal_handler(0, lambda: None)
        with self.assertRaises((ValueError, TypeError)):
            loop.add_signal_handler("x", lambda: None)

    def test_add_signal_handler_closed_loop(self):
        self.loop.close()
        with self.assertRaisesRegex(RuntimeError, "Event loop is closed"):
            self.loop.add_signal_handler(signal.SIGUSR1, lambda: None)

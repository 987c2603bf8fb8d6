"""Bad arguments: the right error, and the loop stays usable with nothing
already queued lost."""

import asyncio
import math
import os
import socket
import warnings

import base


async def _coro_func():
    pass


@base.both_loops
class _BadInput:

    def setUp(self):
        super().setUp()
        self._kept = []
        self._expected_kept = []

    def _queue_keepers(self, tag):
        """Queue a callback and a due timer that must survive bad calls."""
        self.loop.call_soon(self._kept.append, ("soon", tag))
        self.loop.call_later(-1, self._kept.append, ("timer", tag))
        self._expected_kept += [("soon", tag), ("timer", tag)]

    def _assert_loop_usable(self):
        """Everything queued by _queue_keepers ran; the loop still works."""
        done = self.loop.create_future()
        self.loop.call_later(0, done.set_result, None)
        self.run_coro(done)
        self.assertCountEqual(self._kept, self._expected_kept)
        self.assertEqual([k for k in self._kept if k[0] == "soon"],
                         [k for k in self._expected_kept if k[0] == "soon"])
        self._kept.clear()
        self._expected_kept.clear()

    def _bad_callback_calls(self, callback):
        loop = self.loop
        return [
            ("call_soon", lambda: loop.call_soon(callback)),
            ("call_later", lambda: loop.call_later(0, callback)),
            ("call_at", lambda: loop.call_at(loop.time(), callback)),
            ("call_soon_threadsafe",
             lambda: loop.call_soon_threadsafe(callback)),
        ]

    # ---- non-callable callbacks -----------------------------------------

    def test_non_callable_callback_raises_type_error(self):
        # PyLoop rejects eagerly; asyncio only in debug mode (intended
        # difference, see base.LoopTestCase.EAGER_CALLABLE_CHECK).
        if not self.EAGER_CALLABLE_CHECK:
            self.loop.set_debug(True)
        for bad in (1, None, "not callable", object()):
            for name, call in self._bad_callback_calls(bad):
                with self.subTest(callback=bad, method=name):
                    self._queue_keepers((name, repr(bad)))
                    with self.assertRaisesRegex(TypeError, "callable"):
                        call()
                    self._assert_loop_usable()
        self.loop.set_debug(False)

    def test_non_callable_callback_without_debug(self):
        # Documents the difference itself, in non-debug mode.
        ran = []
        self.loop.call_soon(ran.append, "before")
        if self.EAGER_CALLABLE_CHECK:
            with self.assertRaisesRegex(TypeError, "callable"):
                self.loop.call_soon(1)
            self.loop.call_soon(ran.append, "after")
            self.run_briefly()
            self.assertEqual(self.take_loop_errors(), [])
        else:
            # asyncio queues it; the TypeError reaches the exception handler
            # when the "callback" runs.
            h = self.loop.call_soon(1)
            self.loop.call_soon(ran.append, "after")
            self.run_briefly()
            errors = self.take_loop_errors()
            self.assertEqual(len(errors), 1)
            self.assertTrue(errors[0]["message"].startswith(
                "Exception in callback"))
            self.assertIsInstance(errors[0]["exception"], TypeError)
            self.assertIs(errors[0]["handle"], h)
        self.assertEqual(ran, ["before", "after"])

    def test_coroutine_object_callback(self):
        if not self.EAGER_CALLABLE_CHECK:
            self.loop.set_debug(True)
        for name, _ in self._bad_callback_calls(None):
            with self.subTest(method=name):
                coro = _coro_func()
                try:
                    self._queue_keepers(name)
                    with self.assertRaises(TypeError):
                        dict(self._bad_callback_calls(coro))[name]()
                finally:
                    coro.close()
                self._assert_loop_usable()
        self.loop.set_debug(False)

    def test_coroutine_function_in_debug_mode(self):
        self.loop.set_debug(True)
        self._queue_keepers("coro func")
        with self.assertRaisesRegex(
                TypeError, r"coroutines cannot be used with call_soon\(\)"):
            self.loop.call_soon(_coro_func)
        self._assert_loop_usable()
        self.loop.set_debug(False)

    def test_debug_mode_callback_check_calls_nothing_deprecated(self):
        # asyncio's debug-mode check of call_soon's callback uses
        # coroutines._iscoroutinefunction from 3.14, where the public
        # asyncio.iscoroutinefunction is deprecated: no warning, on any
        # version, as on stock asyncio.
        self.loop.set_debug(True)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            handles = [self.loop.call_soon(lambda: None),
                       self.loop.call_later(3600, lambda: None),
                       self.loop.call_soon_threadsafe(lambda: None)]
            with self.assertRaisesRegex(
                    TypeError, r"coroutines cannot be used with call_soon\(\)"):
                self.loop.call_soon(_coro_func)
        for handle in handles:
            handle.cancel()
        self.loop.set_debug(False)
        self.assertEqual([str(w.message) for w in caught
                          if issubclass(w.category, DeprecationWarning)], [])

    # ---- wrong argument types / counts ----------------------------------

    def test_call_later_bad_arguments(self):
        loop = self.loop

        def cb():
            pass

        cases = [
            ("no args", lambda: loop.call_later()),
            ("delay only", lambda: loop.call_later(1)),
            ("str delay", lambda: loop.call_later("x", cb)),
            ("None delay", lambda: loop.call_later(None, cb)),
            ("list delay", lambda: loop.call_later([1], cb)),
            ("unknown kwarg", lambda: loop.call_later(0, cb, bogus=1)),
        ]
        for name, call in cases:
            with self.subTest(name):
                self._queue_keepers(name)
                with self.assertRaises(TypeError):
                    call()
                self._assert_loop_usable()

    def test_call_soon_and_call_at_bad_arguments(self):
        loop = self.loop

        def cb():
            pass

        cases = [
            ("call_soon no args", lambda: loop.call_soon()),
            ("call_soon unknown kwarg", lambda: loop.call_soon(cb, bogus=1)),
            ("call_at no args", lambda: loop.call_at()),
            ("call_at when only", lambda: loop.call_at(1)),
            ("call_soon_threadsafe no args",
             lambda: loop.call_soon_threadsafe()),
        ]
        for name, call in cases:
            with self.subTest(name):
                self._queue_keepers(name)
                with self.assertRaises(TypeError):
                    call()
                self._assert_loop_usable()

    # ---- odd delays ------------------------------------------------------

    def test_infinite_delay(self):
        ran = []
        for make in (lambda: self.loop.call_later(math.inf, ran.append, 1),
                     lambda: self.loop.call_at(math.inf, ran.append, 2)):
            h = make()
            self.assertEqual(h.when(), math.inf)
            self._queue_keepers("inf")
            self._assert_loop_usable()
            self.assertEqual(ran, [])
            self.assertFalse(h.cancelled())
            h.cancel()
            self.assertTrue(h.cancelled())
            self._queue_keepers("inf cancelled")
            self._assert_loop_usable()
        self.assertEqual(ran, [])

    def test_huge_delay(self):
        ran = []
        t0 = self.loop.time()
        h = self.loop.call_later(1e12, ran.append, 1)
        self.assertGreaterEqual(h.when(), t0 + 1e12)
        self._queue_keepers("huge")
        self._assert_loop_usable()
        self.assertEqual(ran, [])
        h.cancel()
        self.assertTrue(h.cancelled())
        self._queue_keepers("huge cancelled")
        self._assert_loop_usable()
        self.assertEqual(ran, [])

    def test_negative_delay(self):
        ran = []
        done = self.loop.create_future()
        self.loop.call_later(-5, ran.append, "neg")
        self.loop.call_later(-1e9, ran.append, "very neg")
        self.loop.call_at(-1.0, ran.append, "negative when")
        self.loop.call_later(0, done.set_result, None)
        self.run_coro(done)
        self.assertEqual(sorted(ran), ["neg", "negative when", "very neg"])

    def test_nan_delay(self):
        loop = self.loop
        ran = []
        for name, call in [
                ("call_later", lambda: loop.call_later(math.nan, ran.append,
                                                       "nan")),
                ("call_at", lambda: loop.call_at(math.nan, ran.append,
                                                 "nan"))]:
            with self.subTest(name):
                self._queue_keepers(name)
                if self.NAN_DELAY_REJECTED:
                    # PyLoop: a NaN deadline cannot be ordered; rejected.
                    with self.assertRaises(ValueError):
                        call()
                else:
                    # asyncio accepts it (documented difference).
                    h = call()
                    self.assertTrue(math.isnan(h.when()))
                    h.cancel()
                    self.assertTrue(h.cancelled())
                self._assert_loop_usable()
        self.assertEqual(ran, [])

    # ---- add_reader / remove_reader with bad fds -----------------------

    def test_add_reader_negative_fd(self):
        for method in (self.loop.add_reader, self.loop.add_writer):
            with self.subTest(method.__name__):
                self._queue_keepers(method.__name__)
                with self.assertRaises(ValueError):
                    method(-1, lambda: None)
                self._assert_loop_usable()

    def test_add_reader_closed_fd(self):
        for method in (self.loop.add_reader, self.loop.add_writer):
            with self.subTest(method.__name__):
                r, w = os.pipe()
                os.close(r)
                os.close(w)
                self._queue_keepers(method.__name__)
                with self.assertRaises(OSError):
                    method(r, lambda: None)
                self._assert_loop_usable()
                # Nothing stays registered for that fd.
                self.assertFalse(self.loop.remove_reader(r))
                self.assertFalse(self.loop.remove_writer(r))

    def test_add_reader_not_a_fd(self):
        for method in (self.loop.add_reader, self.loop.add_writer):
            for bad in ("abc", object(), 1.5, None):
                with self.subTest(method=method.__name__, fd=bad):
                    self._queue_keepers((method.__name__, repr(bad)))
                    with self.assertRaises((ValueError, TypeError)):
                        method(bad, lambda: None)
                    self._assert_loop_usable()

    def test_remove_unregistered(self):
        a, b = socket.socketpair()
        try:
            self.assertFalse(self.loop.remove_reader(a.fileno()))
            self.assertFalse(self.loop.remove_writer(a.fileno()))
            self.assertFalse(self.loop.remove_reader(a))
            # Registered for reading only: remove_writer is still False.
            self.loop.add_reader(a, lambda: None)
            self.assertFalse(self.loop.remove_writer(a))
            self.assertTrue(self.loop.remove_reader(a))
            self.assertFalse(self.loop.remove_reader(a))
        finally:
            a.close()
            b.close()
        self._queue_keepers("remove")
        self._assert_loop_usable()

"""Bad arguments: the right error, and the loop stays usable with nothing
already queued lost."""

import asyncio
import inspect
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

    def test_non_callable_callback_in_debug_mode(self):
        # asyncio's _check_callback, made in debug mode only, with its texts
        # (call_later's is call_at's: call_later calls call_at).
        self.loop.set_debug(True)
        for bad in (1, None, "not callable", object()):
            for name, call in self._bad_callback_calls(bad):
                with self.subTest(callback=bad, method=name):
                    self._queue_keepers((name, repr(bad)))
                    checked = "call_at" if name == "call_later" else name
                    with self.assertRaises(TypeError) as caught:
                        call()
                    self.assertEqual(str(caught.exception), "a callable object was expected by %s(), got %r"
                                     % (checked, bad))
                    self._assert_loop_usable()
        self.loop.set_debug(False)

    def test_non_callable_callback_without_debug(self):
        # Outside debug mode asyncio checks nothing: call_soon & co. queue
        # a non-callable, and its TypeError reaches the exception handler
        # when the "callback" runs, in its turn.
        for bad in (1, None):
            for name, call in self._bad_callback_calls(bad):
                with self.subTest(callback=bad, method=name):
                    ran = []
                    self.loop.call_soon(ran.append, "before")
                    h = call()
                    if bad is None and name == "call_soon":
                        self.assertEqual(repr(h), "<Handle>")  # `if self._callback is not None`
                    self.loop.call_soon(ran.append, "after")
                    if name in ("call_later", "call_at"):
                        self.loop.call_later(0, self.loop.call_soon, self.loop.stop)
                        self.run_forever_guarded()
                    else:
                        self.run_briefly()
                    errors = self.take_loop_errors()
                    self.assertEqual(len(errors), 1)
                    self.assertTrue(errors[0]["message"].startswith("Exception in callback"))
                    self.assertIsInstance(errors[0]["exception"], TypeError)
                    self.assertEqual(str(errors[0]["exception"]), "%r object is not callable"
                                     % type(bad).__name__)
                    self.assertIs(errors[0]["handle"], h)
                    self.assertEqual(ran, ["before", "after"])

    def test_coroutine_object_callback(self):
        # In debug mode: asyncio's "coroutines cannot be used with ...()".
        # Outside it: queued, and not callable when it runs.
        for debug in (True, False):
            self.loop.set_debug(debug)
            for name, _ in self._bad_callback_calls(None):
                with self.subTest(method=name, debug=debug):
                    coro = _coro_func()
                    try:
                        if debug:
                            self._queue_keepers(name)
                            checked = "call_at" if name == "call_later" else name
                            with self.assertRaisesRegex(TypeError, r"coroutines cannot be used with %s\(\)" % checked):
                                dict(self._bad_callback_calls(coro))[name]()
                            self._assert_loop_usable()
                        else:
                            dict(self._bad_callback_calls(coro))[name]().cancel()
                    finally:
                        coro.close()
        self.loop.set_debug(False)

    def test_non_callable_watcher_callback(self):
        # add_reader/add_writer check their callback in no mode (asyncio's
        # _add_reader makes no _check_callback): the watcher is set, and the
        # TypeError reaches the exception handler when the fd is ready.
        a, b = socket.socketpair()
        self.addCleanup(a.close)
        self.addCleanup(b.close)
        for debug in (False, True):
            with self.subTest(debug=debug):
                self.loop.set_debug(debug)
                self.assertIsNone(self.loop.add_reader(a, 1))
                self.assertIsNone(self.loop.add_writer(b, _coro_func))
                self.assertTrue(self.loop.remove_writer(b))
                b.send(b"x")
                self.loop.call_later(0, self.loop.call_soon, self.loop.stop)
                self.run_forever_guarded()
                self.assertTrue(self.loop.remove_reader(a))
                a.recv(1)
                errors = self.take_loop_errors()
                self.assertTrue(errors)
                self.assertIsInstance(errors[0]["exception"], TypeError)
                self.assertEqual(str(errors[0]["exception"]), "'int' object is not callable")
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

    def test_scheduling_argument_errors_read_as_asyncio(self):
        # asyncio's call_soon/call_at/call_later/call_soon_threadsafe are
        # Python functions: CPython words their argument errors, with the
        # qualified name (3.10+), and so must PyLoop.
        loop = self.loop

        def cb():
            pass

        q = "BaseEventLoop."
        cases = [
            (lambda: loop.call_soon(), q + "call_soon() missing 1 required positional argument: 'callback'"),
            (lambda: loop.call_soon(cb, callback=cb), q + "call_soon() got multiple values for argument 'callback'"),
            (lambda: loop.call_soon(cb, bogus=1), q + "call_soon() got an unexpected keyword argument 'bogus'"),
            (lambda: loop.call_soon(context=None), q + "call_soon() missing 1 required positional argument: 'callback'"),
            (lambda: loop.call_soon_threadsafe(),
             q + "call_soon_threadsafe() missing 1 required positional argument: 'callback'"),
            (lambda: loop.call_soon_threadsafe(cb, 1, callback=cb),
             q + "call_soon_threadsafe() got multiple values for argument 'callback'"),
            (lambda: loop.call_later(), q + "call_later() missing 2 required positional arguments: 'delay' and 'callback'"),
            (lambda: loop.call_later(1), q + "call_later() missing 1 required positional argument: 'callback'"),
            (lambda: loop.call_later(callback=cb), q + "call_later() missing 1 required positional argument: 'delay'"),
            (lambda: loop.call_later(1, delay=2), q + "call_later() got multiple values for argument 'delay'"),
            (lambda: loop.call_later(1, cb, x=1), q + "call_later() got an unexpected keyword argument 'x'"),
            (lambda: loop.call_at(), q + "call_at() missing 2 required positional arguments: 'when' and 'callback'"),
            (lambda: loop.call_at(callback=cb), q + "call_at() missing 1 required positional argument: 'when'"),
            (lambda: loop.call_at(1, cb, callback=cb), q + "call_at() got multiple values for argument 'callback'"),
        ]
        for call, message in cases:
            with self.subTest(message):
                self._queue_keepers(message)
                with self.assertRaises(TypeError) as caught:
                    call()
                self.assertEqual(str(caught.exception), message)
                self._assert_loop_usable()

    def test_public_methods_have_asyncio_signatures(self):
        # inspect.signature() of every public loop method reads as asyncio's
        # (tools and frameworks read it; a C method without a text signature
        # has none at all).
        stock = asyncio.SelectorEventLoop()
        self.addCleanup(stock.close)
        checked = 0
        for name in dir(stock):
            reference = getattr(stock, name)
            if name.startswith("_") or not callable(reference):
                continue
            try:
                expected = str(inspect.signature(reference))
            except (TypeError, ValueError):
                continue
            with self.subTest(name):
                self.assertEqual(str(inspect.signature(getattr(self.loop, name))), expected)
                checked += 1
        self.assertGreater(checked, 40)

    def test_scheduling_parameters_by_keyword(self):
        # call_soon(callback=f), call_later(delay=0, callback=f),
        # call_at(when=..., callback=f): asyncio takes the leading parameters
        # as keywords, and so do uvloop's.
        loop = self.loop
        ran = []
        when = loop.time()
        handles = [
            loop.call_soon(callback=lambda: ran.append("soon")),
            loop.call_soon_threadsafe(callback=lambda: ran.append("threadsafe")),
            loop.call_later(delay=0, callback=lambda: ran.append("later")),
            loop.call_later(0, callback=lambda: ran.append("later-mixed")),
            loop.call_at(when=when, callback=lambda: ran.append("at")),
            loop.call_at(callback=lambda: ran.append("at-reversed"), when=loop.time(), context=None),
        ]
        self.assertEqual(handles[4].when(), when)
        done = loop.create_future()
        loop.call_later(0, done.set_result, None)
        self.run_coro(done)
        self.assertEqual(ran[:2], ["soon", "threadsafe"])
        self.assertCountEqual(ran, ["soon", "threadsafe", "later", "later-mixed", "at", "at-reversed"])

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

"""Relative order of callbacks and timers, handles' public surface, loop.time().

Order tests hold in every pyloop phase.  Tests about *which iteration*
something runs in call require_asyncio_iteration_semantics().
"""

import asyncio
import functools
import time

import base


def _noop(*args):
    pass


def _other(*args):
    pass


class _Widget:
    def method(self, *args):
        pass


@base.both_loops
class _CallbackOrder:

    # ---- call_soon -------------------------------------------------------

    def test_call_soon_fifo(self):
        out = []
        for i in range(1000):
            self.loop.call_soon(out.append, i)
        self.loop.call_soon(self.loop.stop)
        self.run_forever_guarded()
        self.assertEqual(out, list(range(1000)))

    def test_call_soon_fifo_with_callbacks_scheduled_by_callbacks(self):
        # Whatever the batching, the ready queue is FIFO: callbacks queued by
        # callbacks run after everything queued before them.
        out = []

        def first(i):
            out.append(("first", i))
            self.loop.call_soon(second, i)

        def second(i):
            out.append(("second", i))
            if i == 299:
                self.loop.stop()

        for i in range(300):
            self.loop.call_soon(first, i)
        self.run_forever_guarded()
        self.assertEqual(out, [("first", i) for i in range(300)]
                         + [("second", i) for i in range(300)])

    def test_call_soon_passes_args(self):
        got = []
        self.loop.call_soon(lambda *a: got.append(a), 1, "two", None)
        self.loop.call_soon(lambda: got.append(()))
        self.run_briefly()
        self.assertEqual(got, [(1, "two", None), ()])

    def test_callbacks_scheduled_during_iteration_run_in_next_iteration(self):
        self.require_asyncio_iteration_semantics()
        out = []

        def a():
            out.append("a")
            self.loop.call_soon(out.append, "b")

        self.loop.call_soon(a)
        self.loop.call_soon(self.loop.stop)
        self.run_forever_guarded()
        # stop() ends the loop at the end of the iteration in which it ran;
        # "b" was queued during that iteration, so it has not run yet.
        self.assertEqual(out, ["a"])
        self.run_briefly()
        self.assertEqual(out, ["a", "b"])

    # ---- timers ----------------------------------------------------------

    def _run_until(self, done):
        self.loop.run_until_complete(asyncio.wait_for(done, base.TIMEOUT))

    def test_call_at_deadline_order(self):
        loop = self.loop
        done = loop.create_future()
        ran = []
        now = loop.time()
        offsets = [0.004, -1.0, 0.001, -0.25, 0.0, 0.003, -0.5, 0.002, -2.0]
        deadlines = {}

        def cb(i):
            ran.append(i)
            if len(ran) == len(offsets):
                done.set_result(None)

        for i, off in enumerate(offsets):
            h = loop.call_at(now + off, cb, i)
            deadlines[i] = (h.when(), i)
            self.assertEqual(h.when(), now + off)
        self._run_until(done)
        self.assertEqual(ran, sorted(range(len(offsets)),
                                     key=lambda i: offsets[i]))
        self.assertTimersRanInDeadlineOrder(ran, deadlines)

    def test_call_later_deadline_order(self):
        loop = self.loop
        done = loop.create_future()
        ran = []
        delays = [0.003, 0.0, 0.002, -0.1, 0.001, 0.0005, -1]
        deadlines = {}

        def cb(i):
            ran.append(i)
            if len(ran) == len(delays):
                done.set_result(None)

        for i, d in enumerate(delays):
            h = loop.call_later(d, cb, i)
            deadlines[i] = (h.when(), i)
        self._run_until(done)
        self.assertTimersRanInDeadlineOrder(ran, deadlines)

    def test_equal_deadlines_in_scheduling_order(self):
        # Same `when` for many timers, both already due and in the future.
        loop = self.loop
        done = loop.create_future()
        ran = []
        n = 300
        now = loop.time()
        past, future = now - 0.5, now + 0.002
        deadlines = {}

        def cb(i):
            ran.append(i)
            if len(ran) == 2 * n:
                done.set_result(None)

        for i in range(n):
            loop.call_at(future, cb, ("future", i))
            deadlines[("future", i)] = (future, 2 * i)
            loop.call_at(past, cb, ("past", i))
            deadlines[("past", i)] = (past, 2 * i + 1)
        self._run_until(done)
        # Past ones first (earlier deadline) -- in every variant.  Within a
        # deadline: scheduling order where TIMER_TIES_FIFO (asyncio's heapq
        # does not keep it).
        self.assertEqual([k for k, _ in ran], ["past"] * n + ["future"] * n)
        self.assertTimersRanInDeadlineOrder(ran, deadlines)
        if self.TIMER_TIES_FIFO:
            self.assertEqual(ran, [("past", i) for i in range(n)]
                             + [("future", i) for i in range(n)])

    def test_negative_delays_run_soon_and_in_order(self):
        loop = self.loop
        done = loop.create_future()
        ran = []
        delays = [-1, -3, -2, -0.5, -10, -0.001]
        deadlines = {}
        # Far-future timer: the loop must not wait for it.
        far = loop.call_later(3600, ran.append, "far")

        def cb(i):
            ran.append(i)
            if len(ran) == len(delays):
                done.set_result(None)

        for i, d in enumerate(delays):
            h = loop.call_later(d, cb, i)
            deadlines[i] = (h.when(), i)
            self.assertLess(h.when(), loop.time())
        self._run_until(done)
        self.assertTimersRanInDeadlineOrder(ran, deadlines)
        self.assertEqual(ran, sorted(range(len(delays)),
                                     key=lambda i: delays[i]))
        self.assertFalse(far.cancelled())
        far.cancel()

    def test_timer_and_soon_callbacks_all_run(self):
        loop = self.loop
        done = loop.create_future()
        ran = []
        total = 200

        def cb(tag):
            ran.append(tag)
            if len(ran) == total:
                done.set_result(None)

        for i in range(total // 2):
            loop.call_soon(cb, ("soon", i))
            loop.call_later(0, cb, ("later", i))
        self._run_until(done)
        self.assertEqual([t for t in ran if t[0] == "soon"],
                         [("soon", i) for i in range(total // 2)])
        self.assertEqual([t for t in ran if t[0] == "later"],
                         [("later", i) for i in range(total // 2)])

    # ---- cancellation ----------------------------------------------------

    def test_cancel_before_run(self):
        loop = self.loop
        ran = []
        keep1 = loop.call_soon(ran.append, 1)
        h = loop.call_soon(ran.append, "cancelled")
        keep2 = loop.call_soon(ran.append, 2)
        self.assertFalse(h.cancelled())
        h.cancel()
        self.assertTrue(h.cancelled())
        h.cancel()  # idempotent
        self.assertTrue(h.cancelled())
        self.run_briefly()
        self.assertEqual(ran, [1, 2])
        self.assertFalse(keep1.cancelled())
        self.assertFalse(keep2.cancelled())

    def test_cancel_from_earlier_callback(self):
        # A handle cancelled by a callback that runs before it (FIFO for
        # call_soon, deadline order for timers) never runs, even when it is
        # already due / already queued for the same iteration.
        loop = self.loop
        ran = []
        handles = {}
        now = loop.time()

        def canceller():
            ran.append("canceller")
            handles["victim"].cancel()

        def timer_canceller():
            ran.append("timer_canceller")
            handles["timer_victim"].cancel()

        loop.call_soon(canceller)
        handles["victim"] = loop.call_soon(ran.append, "victim")
        loop.call_at(now - 1.0, timer_canceller)
        handles["timer_victim"] = loop.call_at(now - 0.5, ran.append,
                                               "timer_victim")
        done = loop.create_future()
        loop.call_at(now + 0.001, done.set_result, None)
        self._run_until(done)
        self.assertEqual(sorted(ran), ["canceller", "timer_canceller"])
        self.assertTrue(handles["victim"].cancelled())
        self.assertTrue(handles["timer_victim"].cancelled())

    def test_cancel_timer_before_run(self):
        loop = self.loop
        done = loop.create_future()
        ran = []
        now = loop.time()
        handles = [loop.call_at(now + i * 0.0005, ran.append, i)
                   for i in range(20)]
        for h in handles[::2]:
            h.cancel()
            self.assertTrue(h.cancelled())
        loop.call_at(now + 0.02, done.set_result, None)
        self._run_until(done)
        self.assertEqual(ran, list(range(1, 20, 2)))
        for h in handles[1::2]:
            self.assertFalse(h.cancelled())

    def test_cancel_after_run_is_harmless(self):
        loop = self.loop
        ran = []
        h = loop.call_soon(ran.append, 1)
        t = loop.call_later(0, ran.append, 2)
        done = loop.create_future()
        loop.call_at(t.when() + 0.001, done.set_result, None)
        self._run_until(done)
        self.assertEqual(ran, [1, 2])
        h.cancel()
        t.cancel()
        self.assertTrue(h.cancelled())
        self.assertTrue(t.cancelled())
        self.run_briefly()
        self.assertEqual(ran, [1, 2])

    # ---- repr ------------------------------------------------------------

    def _args_repr(self, args):
        if not args or not base.asyncio_shows_args_in_repr(False):
            return "()"
        return "(%s)" % ", ".join(repr(a) for a in args)

    @staticmethod
    def _source(func):
        code = func.__code__
        return "%s:%d" % (code.co_filename, code.co_firstlineno)

    def test_handle_repr(self):
        loop = self.loop
        h = loop.call_soon(_noop)
        self.assertEqual(repr(h), "<Handle _noop() at %s>" % self._source(_noop))
        h.cancel()
        self.assertEqual(repr(h), "<Handle cancelled>")

        h = loop.call_soon(_noop, 1, "a")
        self.assertEqual(repr(h), "<Handle _noop%s at %s>"
                         % (self._args_repr((1, "a")), self._source(_noop)))
        h.cancel()

        w = _Widget()
        h = loop.call_soon(w.method)
        # Bound methods are not functions: asyncio prints no source.
        self.assertEqual(repr(h), "<Handle _Widget.method()>")
        h.cancel()

        # Builtins have no source location.
        h = loop.call_soon(print)
        self.assertEqual(repr(h), "<Handle print()>")
        h.cancel()

        p = functools.partial(_noop, 7)
        h = loop.call_soon(p, 8)
        self.assertEqual(repr(h), "<Handle _noop%s%s at %s>"
                         % (self._args_repr((7,)), self._args_repr((8,)),
                            self._source(_noop)))
        h.cancel()
        self.run_briefly()

    def test_handle_repr_matches_asyncio_reference(self):
        # Same callback, same args: PyLoop's repr is what asyncio would print
        # for an asyncio.Handle on this CPython version.
        loop = self.loop
        for cb, args in [(_noop, ()), (_noop, (1, "x", None)),
                         (print, ("hello",)), (functools.partial(_noop, 1), (2,)),
                         (_Widget().method, ([1, 2],))]:
            h = loop.call_soon(cb, *args)
            ref = asyncio.Handle(cb, args, base._StubLoop(False))
            self.assertEqual(repr(h), repr(ref))
            h.cancel()
            ref.cancel()
            self.assertEqual(repr(h), repr(ref))
        self.run_briefly()

    def test_timer_handle_repr(self):
        loop = self.loop
        when = loop.time() + 3600
        h = loop.call_at(when, _noop)
        self.assertEqual(repr(h), "<TimerHandle when=%r _noop() at %s>"
                         % (when, self._source(_noop)))
        h2 = loop.call_at(when, _noop, 5)
        self.assertEqual(repr(h2), "<TimerHandle when=%r _noop%s at %s>"
                         % (when, self._args_repr((5,)), self._source(_noop)))
        h.cancel()
        h2.cancel()
        self.assertEqual(repr(h), "<TimerHandle cancelled when=%r>" % (when,))
        self.assertEqual(repr(h2), "<TimerHandle cancelled when=%r>" % (when,))

        h3 = loop.call_later(3600, print)
        self.assertEqual(repr(h3), "<TimerHandle when=%r print()>"
                         % (h3.when(),))
        h3.cancel()

    # ---- TimerHandle API -------------------------------------------------

    def test_timer_handle_when(self):
        loop = self.loop
        when = loop.time() + 100.25
        h = loop.call_at(when, _noop)
        self.assertEqual(h.when(), when)
        self.assertIsInstance(h.when(), float)
        t0 = loop.time()
        h2 = loop.call_later(50, _noop)
        t1 = loop.time()
        self.assertGreaterEqual(h2.when(), t0 + 50)
        self.assertLessEqual(h2.when(), t1 + 50)
        h.cancel()
        h2.cancel()
        self.assertEqual(h.when(), when)  # still available after cancel

    def test_timer_handle_ordering_and_hash(self):
        loop = self.loop
        base_when = loop.time() + 1000
        h1 = loop.call_at(base_when + 1, _noop)
        h2 = loop.call_at(base_when + 2, _noop)
        h1b = loop.call_at(base_when + 1, _noop)
        h1_other_cb = loop.call_at(base_when + 1, _other)
        h1_other_args = loop.call_at(base_when + 1, _noop, 1)
        h1_cancelled = loop.call_at(base_when + 1, _noop)
        h1_cancelled.cancel()

        self.assertTrue(h1 < h2)
        self.assertFalse(h2 < h1)
        self.assertTrue(h2 > h1)
        self.assertTrue(h1 <= h2)
        self.assertTrue(h2 >= h1)
        self.assertFalse(h1 == h2)
        self.assertTrue(h1 != h2)

        # Equal: same when, callback, args and cancelled state.
        self.assertTrue(h1 == h1b)
        self.assertFalse(h1 != h1b)
        self.assertTrue(h1 <= h1b)
        self.assertTrue(h1 >= h1b)
        self.assertFalse(h1 < h1b)
        self.assertEqual(hash(h1), hash(h1b))
        self.assertEqual(hash(h1), hash(base_when + 1))

        self.assertNotEqual(h1, h1_other_cb)
        self.assertNotEqual(h1, h1_other_args)
        self.assertNotEqual(h1, h1_cancelled)
        self.assertFalse(h1 < h1_other_cb)

        self.assertFalse(h1 == (base_when + 1))
        self.assertTrue(h1 != "x")
        with self.assertRaises(TypeError):
            h1 < 1
        with self.assertRaises(TypeError):
            h1 >= "x"

        self.assertEqual(sorted([h2, h1]), [h1, h2])
        self.assertEqual(len({h1, h1b, h2}), 2)

        for h in (h1, h2, h1b, h1_other_cb, h1_other_args):
            h.cancel()

    # ---- time ------------------------------------------------------------

    def test_loop_time_is_monotonic_clock(self):
        for _ in range(100):
            t0 = time.monotonic()
            t = self.loop.time()
            t1 = time.monotonic()
            self.assertLessEqual(t0, t)
            self.assertLessEqual(t, t1)
        seen = []

        def inside():
            t0 = time.monotonic()
            seen.append(self.loop.time())
            t1 = time.monotonic()
            seen.append((t0, t1))

        self.loop.call_soon(inside)
        self.run_briefly()
        t, (t0, t1) = seen
        self.assertLessEqual(t0, t)
        self.assertLessEqual(t, t1)

    def test_loop_time_never_goes_backwards(self):
        prev = self.loop.time()
        for _ in range(10000):
            now = self.loop.time()
            self.assertGreaterEqual(now, prev)
            prev = now

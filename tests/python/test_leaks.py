"""No reference or object leaks across many callbacks and timers."""

import gc
import sys

import base

# gc-tracked objects the loop may legitimately create/keep once warmed up.
GC_SLACK = 1000


class _Token:
    """A refcounted, non-immortal argument object."""


@base.both_loops
class _NoLeaks:

    def setUp(self):
        super().setUp()
        self.loop.set_debug(False)  # debug mode records tracebacks

    def _snapshot(self, *objs):
        gc.collect()
        return [sys.getrefcount(o) for o in objs], len(gc.get_objects())

    def _assert_no_growth(self, before, after):
        (refs_before, n_before), (refs_after, n_after) = before, after
        self.assertEqual(refs_after, refs_before,
                         "refcounts of callback/argument changed "
                         "(leaked or over-released references)")
        self.assertLessEqual(n_after - n_before, GC_SLACK,
                             "gc-tracked object count grew by %d"
                             % (n_after - n_before))

    def test_call_soon_no_leak(self):
        loop = self.loop
        count = [0]
        batch, batches = 10000, 100  # 1,000,000 callbacks

        def cb(arg):
            count[0] += 1

        arg = _Token()

        def run_batch():
            call_soon = loop.call_soon
            for _ in range(batch):
                call_soon(cb, arg)
            # FIFO: everything above has run when stop() runs.
            call_soon(loop.stop)
            self.run_forever_guarded()

        run_batch()  # warm-up: lazily created loop state
        before = self._snapshot(cb, arg)
        count[0] = 0
        for _ in range(batches):
            run_batch()
        after = self._snapshot(cb, arg)
        self.assertEqual(count[0], batch * batches)
        self._assert_no_growth(before, after)

    def test_call_later_no_leak(self):
        loop = self.loop
        count = [0]
        batch, batches = 10000, 20  # 200,000 timers, half cancelled

        def cb(arg):
            count[0] += 1

        arg = _Token()

        def run_batch():
            call_later = loop.call_later
            handles = [call_later(-1, cb, arg) for _ in range(batch)]
            for h in handles[::2]:
                h.cancel()
            del handles
            # Deadline order: stop's deadline (now) is after every timer
            # above (scheduled at their now - 1).
            call_later(0, loop.stop)
            self.run_forever_guarded()

        run_batch()
        before = self._snapshot(cb, arg)
        count[0] = 0
        for _ in range(batches):
            run_batch()
        after = self._snapshot(cb, arg)
        self.assertEqual(count[0], batch * batches // 2)
        self._assert_no_growth(before, after)

    def test_call_soon_threadsafe_and_call_at_no_leak(self):
        loop = self.loop
        count = [0]
        remaining = [0]

        def cb(arg):
            count[0] += 1
            remaining[0] -= 1
            if not remaining[0]:
                # The relative order of ready callbacks and due timers is
                # not fixed across phases: stop after the last one instead.
                loop.stop()

        arg = _Token()

        def run_batch():
            now = loop.time()
            remaining[0] = 4000
            for i in range(2000):
                loop.call_soon_threadsafe(cb, arg)
                loop.call_at(now - 1, cb, arg)
                loop.call_at(now + 3600, cb, arg).cancel()
            self.run_forever_guarded()

        run_batch()
        before = self._snapshot(cb, arg)
        count[0] = 0
        for _ in range(20):
            run_batch()
        after = self._snapshot(cb, arg)
        self.assertEqual(count[0], 20 * 4000)
        self._assert_no_growth(before, after)

    def test_callbacks_raising_do_not_leak(self):
        loop = self.loop

        class Err(Exception):
            pass

        def bad(arg):
            raise Err

        arg = _Token()
        # Count handler calls without keeping the contexts alive.
        calls = [0]

        def handler(loop_, context):
            calls[0] += 1

        loop.set_exception_handler(handler)

        def run_batch():
            for _ in range(1000):
                loop.call_soon(bad, arg)
            loop.call_soon(loop.stop)
            self.run_forever_guarded()

        run_batch()
        before = self._snapshot(bad, arg)
        for _ in range(20):
            run_batch()
        after = self._snapshot(bad, arg)
        self.assertEqual(calls[0], 21 * 1000)
        self._assert_no_growth(before, after)

    def test_closed_loop_releases_pending_callbacks(self):
        def cb(arg):
            pass

        arg = _Token()
        before = self._snapshot(cb, arg)[0]
        loop = self.new_loop()
        for _ in range(1000):
            loop.call_soon(cb, arg)
            loop.call_later(3600, cb, arg)
        loop.close()
        del loop
        after = self._snapshot(cb, arg)[0]
        self.assertEqual(after, before)

"""Memory taken by a burst is given back once the loop is idle again.

PyLoop only: loop.stats() reports the slots currently allocated in the
engine's ready ring, threadsafe inbox and timer heap ("ready_capacity",
"inbox_capacity", "timers_capacity").
"""

import threading

import base

CAPACITIES = ("ready_capacity", "inbox_capacity", "timers_capacity")


@base.pyloop_only
class _CapacityAfterBurst:

    BURST = 200000
    IDLE_ITERATIONS = 10
    IDLE_CAPACITY = 4096

    def setUp(self):
        super().setUp()
        self.ran = 0

    def _count(self):
        self.ran += 1

    def _capacities(self):
        stats = self.loop.stats()
        return {key: stats[key] for key in CAPACITIES}

    def _run_until_burst_ran(self):
        def check():
            if self.ran >= self.BURST:
                self.loop.stop()
            else:
                self.loop.call_soon(check)

        self.loop.call_soon(check)
        self.run_forever_guarded()

    def _assert_given_back(self):
        during = self._capacities()
        # The burst is queued, not run yet: it occupies slots somewhere
        # (the ready ring, or the inbox in the locked-channel phases).
        self.assertGreaterEqual(sum(during.values()), self.BURST, during)
        self._run_until_burst_ran()
        self.assertEqual(self.ran, self.BURST)
        for _ in range(self.IDLE_ITERATIONS):
            self.run_briefly()
        after = self._capacities()
        for key in CAPACITIES:
            self.assertIsInstance(after[key], int)
            self.assertLessEqual(
                after[key], self.IDLE_CAPACITY,
                "%s still %d after %d idle iterations (during the burst: "
                "%r)" % (key, after[key], self.IDLE_ITERATIONS, during))
        self.loop.close()
        self.assertEqual(self._capacities(), dict.fromkeys(CAPACITIES, 0))

    def test_call_soon_burst_capacity_given_back(self):
        call_soon = self.loop.call_soon
        for _ in range(self.BURST):
            call_soon(self._count)
        self._assert_given_back()

    def test_call_soon_threadsafe_burst_capacity_given_back(self):
        def produce():
            call = self.loop.call_soon_threadsafe
            for _ in range(self.BURST):
                call(self._count)

        thread = threading.Thread(target=produce)
        thread.start()
        thread.join(base.TIMEOUT)
        self.assertFalse(thread.is_alive())
        self._assert_given_back()

    def test_timer_burst_capacity_given_back(self):
        when = self.loop.time() - 1
        call_at = self.loop.call_at
        for _ in range(self.BURST):
            call_at(when, self._count)
        self._assert_given_back()

"""Timers keep firing while other threads flood call_soon_threadsafe.

Four threads call loop.call_soon_threadsafe() as fast as they can while a
coroutine sleeps twenty times 10 ms; they stop when it is done. On stock
asyncio each call_soon_threadsafe() writes to the self-pipe, which lets the
loop thread have the GIL back, so the loop keeps up: the backlog (callbacks
accepted, not run yet) stays in the thousands. An engine that lets the
producers outrun it grows the backlog without bound, and the sleeper's
wakeups queue behind it: the sleeps never end while the flood lasts (and
memory grows by gigabytes). The producers give up once the backlog passes
BACKLOG_LIMIT, which is what bounds memory here.
"""

import asyncio
import threading

import base


@base.both_loops
class _ThreadsafeFlood:

    PRODUCERS = 4
    SLEEPS = 20
    BATCH = 1000            # calls between two looks at the backlog
    BACKLOG_LIMIT = 500000

    def test_sleeps_end_during_flood_and_each_callback_runs_once(self):
        loop = self.loop
        done = threading.Event()
        overrun = threading.Event()
        accepted = [0] * self.PRODUCERS
        ran = [0] * self.PRODUCERS
        errors = []

        def make_callback(index):
            def callback():
                ran[index] += 1
            return callback

        def produce(index):
            callback = make_callback(index)
            call = loop.call_soon_threadsafe
            try:
                while not done.is_set() and not overrun.is_set():
                    for _ in range(self.BATCH):
                        call(callback)
                        accepted[index] += 1
                    if sum(accepted) - sum(ran) > self.BACKLOG_LIMIT:
                        overrun.set()
            except BaseException as exc:
                errors.append(exc)

        async def sleeper():
            for _ in range(self.SLEEPS):
                await asyncio.sleep(0.01)
            done.set()

        threads = [threading.Thread(target=produce, args=(i,), daemon=True)
                   for i in range(self.PRODUCERS)]
        for thread in threads:
            thread.start()
        try:
            self.run_coro(sleeper())
        finally:
            done.set()
            for thread in threads:
                thread.join(base.TIMEOUT)
        self.assertFalse(any(t.is_alive() for t in threads))
        self.assertEqual(errors, [])
        self.assertFalse(
            overrun.is_set(),
            "more than %d callbacks from the producers were waiting to run "
            "before %d sleeps of 10 ms were over (accepted per producer: "
            "%r): the flood outran the loop and held its timers back"
            % (self.BACKLOG_LIMIT, self.SLEEPS, accepted))
        # Run until the backlog is through, then once more: nothing runs
        # twice, nothing is lost.
        total = sum(accepted)

        def until_all_ran():
            if sum(ran) >= total:
                loop.stop()
            else:
                loop.call_soon(until_all_ran)

        loop.call_soon(until_all_ran)
        self.run_forever_guarded()
        self.run_briefly()
        self.assertEqual(ran, accepted,
                         "each accepted callback must run exactly once")

#!/usr/bin/env python3
"""How the cost per callback and per timer changes with the queue size.

Usage: python bench_scaling.py [--loop NAME ...] [--json] [--quick]

For each size N in 100, 1k, 10k, 100k (the same sizes with --quick, with one
repetition and fewer batches):

  callback_ns_at_N  A driver callback queues N no-op callbacks with call_soon
                    and then itself again; the loop keeps running batch after
                    batch until at least 50k callbacks (N if larger) have
                    run. Wall time / callbacks run, scheduling included. The
                    loop stays in run_forever throughout, so small N is not
                    dominated by run_forever's set-up, but the per-batch loop
                    iteration is amortised over N (that is part of scaling).
  timer_ns_at_N     Same with timers: the driver queues N call_at timers
                    whose deadlines are distinct, shuffled, and already in the
                    past (base = loop.time() - 1 s, + k * 1 us), so nothing
                    waits and the number is pure bookkeeping: insert into the
                    timer structure, pop, dispatch. The last timer of a batch
                    starts the next batch.

Each number is the median of 5 repetitions, in ns per operation.
"""

import os
import random
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

perf = time.perf_counter
SIZES = (100, 1000, 10000, 100000)


def callbacks_cost(loop, n, batches):
    call_soon = loop.call_soon
    remaining = batches
    count = 0

    def noop():
        nonlocal count
        count += 1

    def driver():
        nonlocal remaining
        if remaining == 0:
            loop.stop()
            return
        remaining -= 1
        for _ in range(n):
            call_soon(noop)
        call_soon(driver)

    call_soon(driver)
    t0 = perf()
    loop.run_forever()
    t1 = perf()
    if count != n * batches:
        raise AssertionError("ran %d of %d callbacks" % (count, n * batches))
    return (t1 - t0) / (n * batches)


def timers_cost(loop, n, batches, offsets):
    call_at = loop.call_at
    call_soon = loop.call_soon
    remaining = batches
    fired = 0
    total = 0

    def on_timer():
        nonlocal fired, total
        fired += 1
        total += 1
        if fired == n:
            call_soon(driver)

    def driver():
        nonlocal remaining, fired
        if remaining == 0:
            loop.stop()
            return
        remaining -= 1
        fired = 0
        base = loop.time() - 1.0
        for off in offsets:
            call_at(base + off, on_timer)

    call_soon(driver)
    t0 = perf()
    loop.run_forever()
    t1 = perf()
    if total != n * batches:
        raise AssertionError("fired %d of %d timers" % (total, n * batches))
    return (t1 - t0) / (n * batches)


def bench(ctx):
    reps = ctx.size(5, 1)
    warmup = ctx.size(1, 0)
    target = ctx.size(50000, 1000)

    def g_callbacks(loop):
        out = {}
        for n in SIZES:
            batches = max(1, target // n)
            s = common.repeat(lambda: callbacks_cost(loop, n, batches),
                              reps, warmup)
            out["callback_ns_at_%d" % n] = common.throughput(
                [x * 1e9 for x in s], "ns")
        return out

    def g_timers(loop):
        out = {}
        rng = random.Random(12345)
        for n in SIZES:
            batches = max(1, target // n)
            offsets = [k * 1e-6 for k in range(n)]
            rng.shuffle(offsets)
            s = common.repeat(lambda: timers_cost(loop, n, batches, offsets),
                              reps, warmup)
            out["timer_ns_at_%d" % n] = common.throughput(
                [x * 1e9 for x in s], "ns")
        return out

    ctx.group({"callback_ns_at_%d" % n: "ns" for n in SIZES}, g_callbacks)
    ctx.group({"timer_ns_at_%d" % n: "ns" for n in SIZES}, g_timers)


if __name__ == "__main__":
    sys.exit(common.main("bench_scaling", __doc__, bench))

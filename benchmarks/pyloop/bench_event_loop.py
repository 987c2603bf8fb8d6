#!/usr/bin/env python3
"""Core event-loop costs: callbacks, timers, tasks.

Usage: python bench_event_loop.py [--loop NAME ...] [--json] [--quick]

Metrics (median over repetitions; sizes are the full-run sizes, --quick
uses far smaller ones):

  callback_us      A chain of 50k callbacks: each one schedules the next with
                   call_soon, the last one stops the loop. Wall time of
                   run_forever / 50k. Every loop iteration runs exactly one
                   callback, so this is "one iteration with one callback".
  callback_fd_us   The same chain while one idle socket is watched with
                   add_reader: each iteration then looks at I/O without
                   blocking (asyncio's select(0)), so this is what that
                   guarantee costs per iteration on top of callback_us
                   (PyLoop skips the look while no fd is watched).
  burst_mcb_s      10k no-op callbacks scheduled up front (not timed), then
                   run_forever until a final call_soon(loop.stop) runs.
                   Million callbacks per second of the run phase.
  burst_floor_mcb_s  No event loop: the same 10k callbacks, each with its own
                   fresh contextvars.Context (as call_soon gives it), run by
                   a C iterator, map(Context.run, ...). What CPython itself
                   needs for a burst; no loop can exceed it, so
                   burst_floor_mcb_s / X bounds any loop's speed-up over X.
                   Measured in each loop's process, so it is the same for all
                   columns up to noise.
  timer_us         5k call_later timers with delays (i % 10) ms, i.e. 0-9 ms:
                   wall time from the first call_later until the last timer
                   fired, / 5k (includes the ~9 ms of waiting: it is the
                   original project's number).
  timer_overhead_us  timer_us minus the 9 ms / 5k that every loop must wait
                   for the last deadline: what the loop adds (scheduling,
                   firing, lateness of the last timer). A loop that fires
                   early (libuv rounds to milliseconds) gains here.
  timer_sched_us   The scheduling part of the above: the 5k call_later calls.
  timer_cpu_us     Process CPU time (time.process_time, every thread) over
                   the same span, / 5k: the cost without the waiting. A loop
                   that spins while waiting shows it here.
  empty_iter_us    Per-iteration overhead, measured the same way on every
                   loop: the chain above and a burst of the same size (20k,
                   scheduling included) run with the same callback; the
                   chain pays one loop iteration per callback, the burst one
                   iteration in all, so
                       empty_iter = chain_time/N - burst_time/N
                   is what an iteration costs on top of running a callback.
                   (stop()/run_forever() cycles were not used: they mostly
                   time run_forever's set-up, which differs a lot per loop.)
                   Some loops (rloop, the 3.1.x phases) run callbacks queued
                   by a callback in the same iteration, or look at I/O only
                   now and then; then the chain costs no iterations,
                   empty_iter_us comes out near 0 (even negative) and
                   callback_us is not an iteration cost. A probe measures it
                   (meta chain_io_lag_callbacks: how many chain callbacks ran
                   between a socket becoming readable and its reader; asyncio
                   1-2) and adds a "note" to both metrics when the lag is
                   larger than asyncio's.
  timer_cancel_us  100k pairs of call_later(10 s) + handle.cancel(), plus the
                   one loop iteration that purges the cancelled timers (lazy
                   loops such as asyncio pay part of the cost there), / 100k.
  tasks_us         run_until_complete(asyncio.gather(20k coroutines that each
                   `await asyncio.sleep(0)`)), coroutine creation included,
                   / 20k.
"""

import asyncio
import collections
import contextvars
import itertools
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

perf = time.perf_counter


def chain_run(loop, n):
    """Seconds per callback of a call_soon chain of n callbacks."""
    count = 0
    call_soon = loop.call_soon
    stop = loop.stop

    def step():
        nonlocal count
        count += 1
        if count < n:
            call_soon(step)
        else:
            stop()

    call_soon(step)
    t0 = perf()
    loop.run_forever()
    t1 = perf()
    if count != n:
        raise AssertionError("chain ran %d of %d callbacks" % (count, n))
    return (t1 - t0) / n


def chain_watching_run(loop, n):
    """chain_run with one idle socket watched by add_reader: what the loop
    pays per iteration to look at I/O, as asyncio's select(0) does."""
    import socket
    a, b = socket.socketpair()
    try:
        loop.add_reader(a.fileno(), lambda: None)
        try:
            return chain_run(loop, n)
        finally:
            loop.remove_reader(a.fileno())
    finally:
        a.close()
        b.close()


def burst_callback(n):
    """The burst's no-op callback, one code for the loop runs and the floor,
    and a function that says how many times it ran."""
    count = 0

    def cb():
        nonlocal count
        count += 1
        if count < n:
            pass

    return cb, lambda: count


def burst_run(loop, n):
    """(scheduling seconds, run seconds) for n callbacks queued up front."""
    cb, ran = burst_callback(n)
    call_soon = loop.call_soon

    t0 = perf()
    for _ in range(n):
        call_soon(cb)
    call_soon(loop.stop)
    t1 = perf()
    loop.run_forever()
    t2 = perf()
    if ran() != n:
        raise AssertionError("burst ran %d of %d callbacks" % (ran(), n))
    return t1 - t0, t2 - t1


def burst_floor_run(n):
    """Run-phase seconds of n callbacks without a loop (see burst_floor)."""
    cb, ran = burst_callback(n)
    contexts = [contextvars.copy_context() for _ in range(n)]
    t0 = perf()
    collections.deque(map(contextvars.Context.run, contexts,
                          itertools.repeat(cb, n)), 0)
    t1 = perf()
    if ran() != n:
        raise AssertionError("floor ran %d of %d callbacks" % (ran(), n))
    return t1 - t0


TIMER_SPAN = 0.009  # the largest delay timer_run schedules


def timer_run(loop, n):
    """(wall s, scheduling s, cpu s) per timer for n timers of 0-9 ms."""
    fired = 0
    call_later = loop.call_later
    stop = loop.stop

    def cb():
        nonlocal fired
        fired += 1
        if fired == n:
            stop()

    delays = [(i % 10) / 1000.0 for i in range(n)]  # 0 .. TIMER_SPAN
    c0 = time.process_time()
    t0 = perf()
    for d in delays:
        call_later(d, cb)
    t1 = perf()
    loop.run_forever()
    t2 = perf()
    c1 = time.process_time()
    if fired != n:
        raise AssertionError("%d of %d timers fired" % (fired, n))
    return (t2 - t0) / n, (t1 - t0) / n, (c1 - c0) / n


def cancel_run(loop, n):
    def cb():
        raise AssertionError("a cancelled timer fired")

    call_later = loop.call_later
    t0 = perf()
    for _ in range(n):
        call_later(10.0, cb).cancel()
    loop.call_soon(loop.stop)
    loop.run_forever()
    t1 = perf()
    return (t1 - t0) / n


def probe_chain_io_lag(loop):
    """How many chain callbacks ran after a socket became readable and
    before its reader did.

    A 100-callback chain runs (each callback call_soon's the next); its 10th
    callback makes a socket readable. A loop that looks at I/O every
    iteration, as asyncio's select(0) does, runs the reader in the next
    iteration, next to the 11th callback: a lag of 1 (asyncio queues the
    reader behind the 11th, so it may be 2). A loop that keeps running newly
    queued callbacks, or looks at I/O only now and then, shows a larger lag
    (90 when it sees the socket only after the chain). None if the probe
    cannot run (no add_reader).
    """
    import socket
    a, b = socket.socketpair()
    seen = []
    count = 0

    def on_read():
        seen.append(count)
        loop.remove_reader(a.fileno())

    def step():
        nonlocal count
        count += 1
        if count == 10:
            b.send(b"x")
        if count < 100:
            loop.call_soon(step)
        else:
            loop.stop()

    try:
        loop.add_reader(a.fileno(), on_read)
        loop.call_soon(step)
        loop.run_forever()
        if not seen:
            loop.remove_reader(a.fileno())
        return (seen[0] if seen else 100) - 10
    except Exception:
        return None
    finally:
        a.close()
        b.close()


# asyncio's lag: the reader is queued behind the callback of the next
# iteration, so it runs one or two callbacks after the socket became ready.
ASYNCIO_LAG = 2


def drain_note(lag):
    return ("this loop saw a socket made readable during a callback chain "
            "%d callbacks late (asyncio: at most %d): it does not look at I/O "
            "every iteration, so this is not an iteration cost comparable "
            "with asyncio's" % (lag, ASYNCIO_LAG))


async def _sleeper():
    await asyncio.sleep(0)


def tasks_run(loop, n):
    async def main():
        await asyncio.gather(*[_sleeper() for _ in range(n)])

    t0 = perf()
    loop.run_until_complete(main())
    t1 = perf()
    return (t1 - t0) / n


def bench(ctx):
    reps = ctx.size(5, 2)
    lag = [None]

    def g_probe(loop):
        lag[0] = probe_chain_io_lag(loop)
        ctx.meta["chain_io_lag_callbacks"] = lag[0]
        return {}

    def with_drain_note(m):
        if lag[0] is not None and lag[0] > ASYNCIO_LAG:
            m["note"] = drain_note(lag[0])
        return m


    def g_callback_watching(loop):
        n = ctx.size(50000, 2000)
        s = common.repeat(lambda: chain_watching_run(loop, n), reps)
        return {"callback_fd_us": with_drain_note(common.throughput([x * 1e6 for x in s], "us"))}

    def g_callback(loop):
        n = ctx.size(50000, 2000)
        s = common.repeat(lambda: chain_run(loop, n), reps)
        return {"callback_us": with_drain_note(common.throughput([x * 1e6 for x in s], "us"))}

    def g_burst(loop):
        n = ctx.size(10000, 1000)
        st0 = common.loop_stats(loop)
        burst_run(loop, n)
        ctx.record_stats("burst_%d" % n, st0, common.loop_stats(loop))
        s = common.repeat(lambda: burst_run(loop, n)[1], ctx.size(7, 2))
        f = common.repeat(lambda: burst_floor_run(n), ctx.size(7, 2))
        return {"burst_mcb_s": common.throughput([n / x / 1e6 for x in s],
                                                 "Mcb/s"),
                "burst_floor_mcb_s": common.throughput(
                    [n / x / 1e6 for x in f], "Mcb/s")}

    def g_timer(loop):
        n = ctx.size(5000, 500)
        s = common.repeat(lambda: timer_run(loop, n), reps)
        return {
            "timer_us": common.throughput([x[0] * 1e6 for x in s], "us"),
            "timer_overhead_us": common.throughput(
                [(x[0] - TIMER_SPAN / n) * 1e6 for x in s], "us"),
            "timer_sched_us": common.throughput([x[1] * 1e6 for x in s], "us"),
            "timer_cpu_us": common.throughput([x[2] * 1e6 for x in s], "us"),
        }

    def g_empty(loop):
        n = ctx.size(20000, 1000)

        def pair():
            c = chain_run(loop, n)
            sched, run = burst_run(loop, n)
            return c - (sched + run) / n

        s = common.repeat(pair, reps)
        return {"empty_iter_us": with_drain_note(common.throughput([x * 1e6 for x in s], "us"))}

    def g_cancel(loop):
        n = ctx.size(100000, 5000)
        s = common.repeat(lambda: cancel_run(loop, n), reps)
        return {"timer_cancel_us": common.throughput([x * 1e6 for x in s],
                                                     "us")}

    def g_tasks(loop):
        n = ctx.size(20000, 1000)
        s = common.repeat(lambda: tasks_run(loop, n), reps)
        return {"tasks_us": common.throughput([x * 1e6 for x in s], "us")}

    ctx.group({}, g_probe)
    ctx.group({"callback_us": "us"}, g_callback)
    ctx.group({"callback_fd_us": "us"}, g_callback_watching)
    ctx.group({"burst_mcb_s": "Mcb/s", "burst_floor_mcb_s": "Mcb/s"}, g_burst)
    ctx.group({"timer_us": "us", "timer_overhead_us": "us",
               "timer_sched_us": "us",
               "timer_cpu_us": "us"}, g_timer)
    ctx.group({"empty_iter_us": "us"}, g_empty)
    ctx.group({"timer_cancel_us": "us"}, g_cancel)
    ctx.group({"tasks_us": "us"}, g_tasks)


if __name__ == "__main__":
    sys.exit(common.main("bench_event_loop", __doc__, bench))

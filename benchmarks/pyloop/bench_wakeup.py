#!/usr/bin/env python3
"""Waking the loop: cross-thread latency, timer precision, idle wake-ups.

These are the original project's "condvar" tests: they show what the wait
strategy (sleep 1 ms / adaptive / condvar / epoll) costs when work arrives
from another thread or from a timer, and how often an idle loop wakes.

Usage: python bench_wakeup.py [--loop NAME ...] [--json] [--quick]

The loop runs in the main thread (run_forever); a sender thread, started
from a callback once the loop runs, does the scheduling. Times are
time.perf_counter() (CLOCK_MONOTONIC), taken in both threads.

  xthread_{p50,p99,avg,min,max}_us
      100 callbacks sent one at a time with call_soon_threadsafe, each after
      the previous one ran (the sender waits on a threading.Event the
      callback sets). Latency = from just before call_soon_threadsafe to the
      first line of the callback. Each statistic is computed per repetition
      (5) and the median over repetitions reported; xthread_p50_us also
      carries the p99 of all samples pooled.
  idle_wakeup_us
      The same, but the sender sleeps 20 ms before each send, so the loop is
      idle (blocked in its wait) when the work arrives. 25 samples x 3
      repetitions, pooled: median and p99.
  xthread_burst_*
      The sender calls call_soon_threadsafe 10k times as fast as it can.
      _sched_ns: sender time per call; _proc_ms: from the end of sending to
      the last callback; _mcb_s: 10k / (first send -> last callback), in
      million callbacks per second.
  mixed_{immediate,delayed,burst,avg}_us
      Rounds of three patterns: immediate (send when the previous ran),
      delayed (sleep 1 ms, then send), burst (10 sends back to back, then
      wait for all). Mean latency per pattern per repetition, median over
      repetitions; p99 over all samples of the pattern pooled.
  call_soon_ns, call_soon_run_ns
      1M loop.call_soon(cb) in a tight loop on a loop that is not running
      (per call), then one run_forever that runs them all (per callback).
      3 repetitions. The cyclic GC is disabled while timing: with 1M pending
      handles its collections would cost more than the loop itself.
  timer_lateness_us
      100 call_later timers with delays spread evenly over 1-10 ms, scheduled
      together in shuffled order; lateness = when the callback starts minus
      (perf_counter() before call_later + delay). 7 repetitions pooled:
      median and p99 (negative = fired early).
  idle_wakeups_per_s
      No work queued, no timers: the loop idles for 0.5 s until the sender
      thread queues a final callback (and then loop.stop). Wake-ups counted
      between a callback at the start and that final callback, minus the
      one wake-up the final callback itself causes, per second. pyloop: loop.stats()["iterations"] delta; asyncio:
      calls of loop._selector.select (wrapped); uvloop/rloop cannot be
      counted from Python: null with a note. 3 repetitions, median.
"""

import faulthandler
import gc
import os
import random
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

perf = time.perf_counter
WAIT_S = 5.0  # the longest a sender waits for one callback before failing


def run_with_sender(loop, sender, before=None):
    """Run the loop until sender() (in a thread) returns; stop it then.

    before, if given, runs in the loop thread just before the sender thread
    starts. Exceptions of the sender are re-raised here. If the loop does
    not stop within 2 * WAIT_S of the sender's stop request (a lost
    wake-up), every thread's stack is dumped and the process exits with
    status 3, rather than hanging until the global timeout.
    """
    errors = []
    stopped = threading.Event()

    def target():
        try:
            sender()
        except BaseException as exc:  # noqa: B902 - reported to the caller
            errors.append(exc)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            if not stopped.wait(2 * WAIT_S):
                common.notice("the loop did not stop %.0f s after "
                              "call_soon_threadsafe(loop.stop) (lost "
                              "wake-up?); aborting. Sender error: %r"
                              % (2 * WAIT_S, errors[:1]))
                faulthandler.dump_traceback(all_threads=True)
                os._exit(3)

    th = threading.Thread(target=target, name="bench-sender", daemon=True)
    if before is not None:
        loop.call_soon(before)
    loop.call_soon(th.start)
    try:
        loop.run_forever()
    finally:
        stopped.set()
    th.join(WAIT_S)
    if errors:
        raise errors[0]
    if th.is_alive():
        raise RuntimeError("sender thread did not finish")


def xthread_latencies(loop, n, idle_s=0.0):
    lat = []
    ev = threading.Event()

    def cb(t0):
        lat.append(perf() - t0)
        ev.set()

    def sender():
        cts = loop.call_soon_threadsafe
        for _ in range(n):
            if idle_s:
                time.sleep(idle_s)
            ev.clear()
            cts(cb, perf())
            if not ev.wait(WAIT_S):
                raise TimeoutError("callback did not run within %ss" % WAIT_S)

    run_with_sender(loop, sender)
    return [x * 1e6 for x in lat]


def xthread_burst(loop, n):
    count = 0
    t_last = [None]
    t_send = [None, None]

    def cb():
        nonlocal count
        count += 1
        if count == n:
            t_last[0] = perf()

    def sender():
        cts = loop.call_soon_threadsafe
        t0 = perf()
        for _ in range(n):
            cts(cb)
        t1 = perf()
        t_send[:] = [t0, t1]
        deadline = perf() + WAIT_S
        while count < n:
            if perf() > deadline:
                raise TimeoutError("%d of %d callbacks ran" % (count, n))
            time.sleep(0.0005)

    run_with_sender(loop, sender)
    t0, t1 = t_send
    return {"sched_ns": (t1 - t0) / n * 1e9,
            "proc_ms": (t_last[0] - t1) * 1e3,
            "mcb_s": n / (t_last[0] - t0) / 1e6}


def mixed_latencies(loop, rounds, burst=10, delay_s=0.001):
    out = {"immediate": [], "delayed": [], "burst": []}
    pending = [0]
    ev = threading.Event()
    lock = threading.Lock()

    def cb(t0, kind):
        lat = perf() - t0
        out[kind].append(lat * 1e6)
        with lock:
            pending[0] -= 1
            if pending[0] == 0:
                ev.set()

    def send(kind, k):
        cts = loop.call_soon_threadsafe
        ev.clear()
        with lock:
            pending[0] = k
        for _ in range(k):
            cts(cb, perf(), kind)
        if not ev.wait(WAIT_S):
            raise TimeoutError("mixed %s: callbacks did not run" % kind)

    def sender():
        for _ in range(rounds):
            send("immediate", 1)
            time.sleep(delay_s)
            send("delayed", 1)
            send("burst", burst)

    run_with_sender(loop, sender)
    return out


def call_soon_cost(loop, n):
    count = 0

    def cb():
        nonlocal count
        count += 1

    call_soon = loop.call_soon
    gc.disable()
    try:
        t0 = perf()
        for _ in range(n):
            call_soon(cb)
        t1 = perf()
        call_soon(loop.stop)
        loop.run_forever()
        t2 = perf()
    finally:
        gc.enable()
    if count != n:
        raise AssertionError("ran %d of %d callbacks" % (count, n))
    return (t1 - t0) / n * 1e9, (t2 - t1) / n * 1e9


def timer_lateness(loop, n, rng):
    delays = [0.001 + 0.009 * i / (n - 1) for i in range(n)]
    rng.shuffle(delays)
    late = []

    def cb(expected):
        late.append((perf() - expected) * 1e6)
        if len(late) == n:
            loop.stop()

    call_later = loop.call_later
    for d in delays:
        t = perf()
        call_later(d, cb, t + d)
    loop.run_forever()
    if len(late) != n:
        raise AssertionError("%d of %d timers fired" % (len(late), n))
    return late


class SelectCounter(object):
    """Counts calls of an asyncio selector's select()."""

    def __init__(self, selector):
        self.selector = selector
        self.calls = 0
        self.orig = selector.select

        def select(timeout=None):
            self.calls += 1
            return self.orig(timeout)

        selector.select = select

    def restore(self):
        try:
            del self.selector.select
        except AttributeError:
            pass


def idle_wakeups(loop, duration, ctx):
    """Wake-ups per second of an idle loop, or None when not countable."""
    counter = None
    has_stats = common.loop_stats(loop) is not None
    if not has_stats:
        sel = getattr(loop, "_selector", None)
        if sel is None or not hasattr(sel, "select"):
            return None
        counter = SelectCounter(sel)
    marks = {}

    def count():
        if has_stats:
            return common.loop_stats(loop)["iterations"]
        return counter.calls

    def start():
        marks["s"] = common.loop_stats(loop)
        marks["c0"] = count()
        marks["t0"] = perf()

    def end():
        marks["c1"] = count()
        marks["t1"] = perf()
        marks["e"] = common.loop_stats(loop)

    def sender():
        time.sleep(duration)
        loop.call_soon_threadsafe(end)

    try:
        run_with_sender(loop, sender, before=start)
    finally:
        if counter is not None:
            counter.restore()
    ctx.record_stats("idle_%.2fs" % duration, marks["s"], marks["e"])
    wakeups = max(0, marks["c1"] - marks["c0"] - 1)
    return wakeups / (marks["t1"] - marks["t0"])


def latency_family(prefix, per_rep):
    pooled = [x for rep in per_rep for x in rep]

    def med(fn):
        return common.median([fn(rep) for rep in per_rep if rep])

    return {
        prefix + "_p50_us": common.metric(
            med(common.median), "us", common.percentile(pooled, 99)),
        prefix + "_p99_us": common.metric(
            med(lambda r: common.percentile(r, 99)), "us"),
        prefix + "_avg_us": common.metric(med(common.mean), "us"),
        prefix + "_min_us": common.metric(med(min), "us"),
        prefix + "_max_us": common.metric(med(max), "us"),
    }


def bench(ctx):
    reps = ctx.size(5, 1)

    def g_xthread(loop):
        n = ctx.size(100, 20)
        per_rep = common.repeat(lambda: xthread_latencies(loop, n), reps)
        return latency_family("xthread", per_rep)

    def g_idle(loop):
        n = ctx.size(25, 3)
        per_rep = common.repeat(
            lambda: xthread_latencies(loop, n, idle_s=0.020),
            ctx.size(3, 1), warmup=0)
        pooled = [x for rep in per_rep for x in rep]
        return {"idle_wakeup_us": common.latency(pooled, "us")}

    def g_burst(loop):
        n = ctx.size(10000, 1000)
        s = common.repeat(lambda: xthread_burst(loop, n), reps)
        return {
            "xthread_burst_sched_ns": common.throughput(
                [x["sched_ns"] for x in s], "ns"),
            "xthread_burst_proc_ms": common.throughput(
                [x["proc_ms"] for x in s], "ms"),
            "xthread_burst_mcb_s": common.throughput(
                [x["mcb_s"] for x in s], "Mcb/s"),
        }

    def g_mixed(loop):
        rounds = ctx.size(20, 3)
        s = common.repeat(lambda: mixed_latencies(loop, rounds), reps)
        out = {}
        for kind in ("immediate", "delayed", "burst"):
            out["mixed_%s_us" % kind] = common.metric(
                common.median([common.mean(r[kind]) for r in s]), "us",
                common.percentile([x for r in s for x in r[kind]], 99))
        allk = [[x for k in r for x in r[k]] for r in s]
        out["mixed_avg_us"] = common.metric(
            common.median([common.mean(r) for r in allk]), "us",
            common.percentile([x for r in allk for x in r], 99))
        return out

    def g_call_soon(loop):
        n = ctx.size(1000000, 20000)
        s = common.repeat(lambda: call_soon_cost(loop, n), ctx.size(3, 1),
                          warmup=ctx.size(0, 1))
        return {
            "call_soon_ns": common.throughput([x[0] for x in s], "ns"),
            "call_soon_run_ns": common.throughput([x[1] for x in s], "ns"),
        }

    def g_lateness(loop):
        rng = random.Random(4242)
        per_rep = common.repeat(lambda: timer_lateness(loop, 100, rng),
                                ctx.size(7, 1))
        pooled = [x for rep in per_rep for x in rep]
        return {"timer_lateness_us": common.latency(pooled, "us")}

    def g_idle_wakeups(loop):
        duration = ctx.size(0.5, 0.05)
        s = []
        for _ in range(ctx.size(3, 1)):
            v = idle_wakeups(loop, duration, ctx)
            if v is None:
                return {"idle_wakeups_per_s": common.null_metric(
                    "per_s", "this loop's polls cannot be counted from "
                    "Python (no stats(), no _selector)")}
            s.append(v)
        m = common.throughput(s, "per_s")
        m["note"] = ("loop.stats()['iterations']"
                     if common.loop_stats(loop) is not None
                     else "calls of loop._selector.select")
        return {"idle_wakeups_per_s": m}

    fam = ("p50", "p99", "avg", "min", "max")
    ctx.group({"xthread_%s_us" % k: "us" for k in fam}, g_xthread)
    ctx.group({"idle_wakeup_us": "us"}, g_idle)
    ctx.group({"xthread_burst_sched_ns": "ns", "xthread_burst_proc_ms": "ms",
               "xthread_burst_mcb_s": "Mcb/s"}, g_burst)
    ctx.group({"mixed_%s_us" % k: "us"
               for k in ("immediate", "delayed", "burst", "avg")}, g_mixed)
    ctx.group({"call_soon_ns": "ns", "call_soon_run_ns": "ns"}, g_call_soon)
    ctx.group({"timer_lateness_us": "us"}, g_lateness)
    ctx.group({"idle_wakeups_per_s": "per_s"}, g_idle_wakeups)


if __name__ == "__main__":
    sys.exit(common.main("bench_wakeup", __doc__, bench))

#!/usr/bin/env python3
"""A seeded, time-bounded random stress of the event loop, standard library only.

    python3 tests/python/stress.py --seed 7 --seconds 60            # both loops
    python3 tests/python/stress.py --seed 7 --round 12 --loop both  # replay one round
    python3 tests/python/stress.py --seconds 20 --loop pyloop

Each round builds a fresh loop and throws a random mix at it, from a plan drawn
from random.Random("SEED:ROUND") (thread timing is not replayed, the plan is):
  * call_soon; call_soon_threadsafe from the loop thread and from 1-4
    producer threads; call_later/call_at (past, now, up to 20 ms ahead); some
    handles kept, some dropped at once (the engine's reference is the last);
  * cancels: on the loop thread; from other threads, directly
    (handle.cancel()) and through call_soon_threadsafe; a handle cancelling
    itself while it runs, sometimes after dropping our reference, and
    sometimes as getattr(probe, "missing", default), a C callable whose
    probe.__getattr__ cancels the running handle before getattr reads its
    third argument;
  * add_reader/add_writer (also replacing), remove_reader/remove_writer, and
    writes, on socketpairs; some watched sockets are closed before their
    watchers are removed, then removed through the socket object, as asyncio
    allows (selectors finds a closed socket by identity);
  * stop() from callbacks and, through call_soon_threadsafe, from threads
    (the driver restarts run_forever, sometimes scheduling while stopped);
    close() while running (must raise); gc.collect() on every thread;
    callbacks that raise; asyncio debug mode in some rounds;
  * in some rounds 1-4 threads flood call_soon_threadsafe until a timer due
    5 ms after the round began has run;
  * the end: a clean close() (watchers removed first), a dirty one
    (callbacks, far timers and watchers left pending), or no close() at all
    (the loop is just dropped, as asyncio allows); then some handles are
    used (repr, cancel, cancelled, when) after our loop reference is gone.

Checked, per round:
  * every accepted callback ran exactly once; one cancelled on the loop thread
    before it ran (or through call_soon_threadsafe) never ran; one cancelled
    directly from another thread ran at most once, and if not, is cancelled();
    callbacks still queued at close() never ran; each raising callback's
    exception reached the exception handler once, and nothing else did;
  * FIFO per producer: the loop thread's call_soon and call_soon_threadsafe
    (one sequence, as asyncio's one deque), and each thread's
    call_soon_threadsafe;
  * a timer never runs before its deadline (less the loop's clock
    resolution), nor after a timer with a later deadline that was scheduled
    after it was already in the heap; a timer due during a flood runs within
    --flood-limit seconds (0.5; stock asyncio takes at most ~0.11 s);
  * a reader or writer never runs after it was removed or replaced; a writer
    runs as often as it asks for, then removes itself; a reader still
    watching an open socket sees a byte written at the end of the round;
    remove_* returns what asyncio returns and does not raise; close() while
    running raises RuntimeError; call_soon*/call_later after close() raise
    RuntimeError; remove_reader after close() returns False;
  * no hang (a guard thread stops a round after --guard seconds), and, from
    the parent process, no crash (each run of rounds is a child process; a
    death by signal or an ASan report is a failed round, named with its seed,
    and a new child goes on with the next round);
  * after the loop is closed (or not) and dropped: the loop object is
    collected, every callback argument is freed, /proc/self/fd is what it
    was before the round, and the number of gc-tracked objects is within
    GC_SLACK (200) of what it was: slack for interpreter caches (linecache
    and the like in debug mode, type caches); measured growth on stock
    asyncio is 4-22 objects a round, the round's own report included.

--loop both (the default) runs each round on stock asyncio, then on PyLoop: a
round that fails on PyLoop only is the engine's; one that fails on both is the
stress test's (or asyncio's). With --loop pyloop the failed rounds are run
again on asyncio at the end, to tell. --without A,B leaves parts of the plan
out (to look past a known bug to the next one; a replay needs the same flags,
which the printed command includes). The seed is printed first; every failure
prints the command that replays it. The last line is "N passed, N failed", N
counting rounds on each loop (--loop both: two per round). Exit status 1 iff
a round failed.

Under ASan: an --enable-sanitizers build,
    LD_PRELOAD=$(gcc -print-file-name=libasan.so) ASAN_OPTIONS=detect_leaks=0 \
    PYTHONMALLOC=malloc PYTHONPATH=<build>/python python3 tests/python/stress.py ...
"""

import argparse
import asyncio
import faulthandler
import gc
import itertools
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
import warnings
import weakref

GC_SLACK = 200          # gc-tracked objects a round may leave (caches)
FLOOD_LIMIT = 0.5       # seconds a due timer may wait behind a flood (--flood-limit;
                        # stock asyncio: at most 0.11 s seen, under ASan too)
DEFAULT_FLOOD_LIMIT = FLOOD_LIMIT
FLOOD_CAP = 500000      # calls per flooder, to bound the memory a backlog takes
# What --without can leave out, to look past a known bug to the next one.
# A seed's plan without a part is another plan: replay with the same flags.
FEATURES = ("close-watched", "thread-cancel", "self-cancel", "flood",
            "dirty-close", "no-close", "raise", "debug", "gc")
WITHOUT = set()
MARK = "@@stress "      # child -> parent protocol lines on stdout
CRASH_HEADLINES = ("ERROR: AddressSanitizer", "SUMMARY: AddressSanitizer", "runtime error:",
                   "Fatal Python error")
LOOPS = ("asyncio", "pyloop")


# --------------------------------------------------------------------------
# one round

class Rec:
    """One scheduled callback and what happened to it."""

    __slots__ = ("id", "producer", "seq", "kind", "handle", "ran", "expect",
                 "when", "created_ev", "created_at", "fired_at", "fired_ev",
                 "token", "self_cancel", "raises")

    def __init__(self, rid, producer, seq, kind):
        self.id = rid
        self.producer = producer     # "L" (loop thread), "T0".., None (timer)
        self.seq = seq
        self.kind = kind             # soon, soon_ts, thread_ts, timer, dropped
        self.handle = None
        self.ran = 0
        self.expect = "run"          # run, never, maybe, dropped
        self.when = None
        self.created_ev = 0
        self.created_at = None
        self.fired_at = None
        self.fired_ev = None
        self.token = None            # weakref to the callback's argument
        self.self_cancel = 0         # 1: cancel itself while running; 2: after dropping our reference
        self.raises = False


class StressError(Exception):
    """Raised on purpose by some callbacks: the exception handler must get it."""


class Probe:
    """The first argument of getattr(probe, "missing", default), a callback
    implemented in C: its __getattr__ runs the callback's checks and cancels
    the running handle, after which getattr reads its third argument, as
    C callables may. (asyncio calls callback(*args) with a tuple of its own.)"""

    __slots__ = ("round", "rec")

    def __init__(self, rnd, rec):
        self.round = rnd
        self.rec = rec

    def __getattr__(self, name):
        self.round.cb(self.rec, None)
        raise AttributeError(name)


class Token:
    """The argument of each callback: must be freed once the loop is gone."""

    __slots__ = ("__weakref__",)


class Pair:
    __slots__ = ("a", "b", "reader_gen", "writer_gen", "reader_fires",
                 "writer_fires", "writer_wants", "closed", "final_byte",
                 "final_seen")

    def __init__(self):
        self.a, self.b = socket.socketpair()
        self.a.setblocking(False)
        self.b.setblocking(False)
        self.reader_gen = 0      # 0: no reader; else the registered generation
        self.writer_gen = 0
        self.reader_fires = 0
        self.writer_fires = 0
        self.writer_wants = 0
        self.closed = False      # a closed (watchers may still be registered)
        self.final_byte = False
        self.final_seen = False


class Round:
    def __init__(self, loop_name, seed, index, guard):
        self.loop_name = loop_name
        self.seed = seed
        self.index = index
        self.guard = guard
        self.rng = random.Random("%s:%d" % (seed, index))
        self.failures = []
        self.ev = itertools.count(1)
        self.ids = itertools.count()
        self.records = []
        self.tokens = []
        self.seqs = {}
        self.order = {}          # producer -> seqs in run order
        self.timers = []         # timer records, for other threads to cancel
        self.pairs = []
        self.gen = itertools.count(1)
        self.steps_left = 0
        self.steps_queued = 0
        self.threads = []
        self.threads_running = 0
        self.flood_done = threading.Event()
        self.flood_sent = {}     # cheap flooder -> calls sent
        self.flood_next = {}     # cheap flooder -> next seq its flood_cb expects
        self.round_over = threading.Event()
        self.guard_fired = False
        self.final_phase = False
        self.watch_armed = False
        self.loop = None
        self.resolution = 1e-9
        self.thread_lock = threading.Lock()
        self.settled = 0          # records before this index are all settled
        self.raised = []         # ids of the records whose StressError reached the handler
        self.stats = {"callbacks": 0, "timers": 0, "cancels": 0, "io": 0,
                      "stops": 0, "runs": 0}

    # ---- helpers ------------------------------------------------------
    def fail(self, message):
        if len(self.failures) < 50:
            self.failures.append(message)

    def new_rec(self, producer, kind):
        seq = None
        if producer is not None:
            seq = self.seqs.get(producer, 0)
            self.seqs[producer] = seq + 1
        rec = Rec(next(self.ids), producer, seq, kind)   # next() is atomic under the GIL
        rec.created_ev = next(self.ev)
        self.records.append(rec)      # list.append is atomic under the GIL
        token = Token()
        rec.token = weakref.ref(token)
        self.tokens.append(rec.token)
        return rec, token

    # ---- callbacks ----------------------------------------------------
    def cb(self, rec, token):
        rec.ran += 1
        self.stats["callbacks"] += 1
        if rec.ran > 1:
            self.fail("callback %d (%s) ran %d times" % (rec.id, rec.kind, rec.ran))
        if rec.expect in ("never", "dropped"):
            self.fail("callback %d (%s) ran although it was %s" % (
                rec.id, rec.kind, "cancelled" if rec.expect == "never" else "dropped at close"))
        if rec.producer is not None:
            self.order.setdefault(rec.producer, []).append(rec.seq)
        if rec.self_cancel and rec.handle is not None:
            # Cancel the running handle (a no-op for what runs), sometimes
            # after dropping our reference: then, once this returns, the
            # engine's is the last one.
            handle = rec.handle
            if rec.self_cancel == 2:
                rec.handle = None
            handle.cancel()
            if handle.cancelled() is not True:
                self.fail("handle.cancelled() is not True after cancel() of a running handle")
        if rec.raises:
            raise StressError(rec.id)

    def tcb(self, rec, token):
        now = self.loop.time()
        rec.ran += 1
        self.stats["timers"] += 1
        rec.fired_at = now
        rec.fired_ev = next(self.ev)
        if rec.ran > 1:
            self.fail("timer %d ran %d times" % (rec.id, rec.ran))
        if rec.expect in ("never", "dropped"):
            self.fail("timer %d ran although it was %s" % (
                rec.id, "cancelled" if rec.expect == "never" else "dropped at close"))
        if now + self.resolution < rec.when:
            self.fail("timer %d ran %.6f s before its deadline" % (rec.id, rec.when - now))
        if rec.self_cancel and rec.handle is not None:
            handle = rec.handle
            if rec.self_cancel == 2:
                rec.handle = None
            handle.cancel()
        if rec.raises:
            raise StressError(rec.id)

    def on_flood_timer(self, token, when):
        self.stats["flood_timer_late_ms"] = round((self.loop.time() - when) * 1000, 1)
        self.flood_done.set()

    def rcb(self, pair, gen):
        self.stats["io"] += 1
        if pair.reader_gen != gen:
            self.fail("reader of pair %d (generation %d) ran after it was %s" % (
                self.pairs.index(pair), gen, "replaced" if pair.reader_gen else "removed"))
            return
        pair.reader_fires += 1
        if pair.closed:
            return      # closed this iteration, event harvested before: allowed
        try:
            while pair.a.recv(4096):
                pass
        except BlockingIOError:
            pass
        except OSError as exc:
            self.fail("reader recv on an open socket: %r" % exc)
            return
        if pair.final_byte:
            pair.final_seen = True

    def wcb(self, pair, gen):
        self.stats["io"] += 1
        if pair.writer_gen != gen:
            self.fail("writer of pair %d (generation %d) ran after it was %s" % (
                self.pairs.index(pair), gen, "replaced" if pair.writer_gen else "removed"))
            return
        pair.writer_fires += 1
        if pair.writer_fires >= pair.writer_wants:
            pair.writer_gen = 0
            removed = self.loop.remove_writer(pair.a)
            if removed is not True:
                self.fail("remove_writer from its own callback returned %r" % (removed,))

    def on_exception(self, loop, context):
        exc = context.get("exception")
        if type(exc) is StressError:
            self.raised.append(exc.args[0])
            return
        self.fail("exception handler: %s %r" % (context.get("message"), exc))

    # ---- loop-thread operations ---------------------------------------
    def op_soon(self, rng, threadsafe=False):
        rec, token = self.new_rec("L", "soon_ts" if threadsafe else "soon")
        rec.self_cancel = self.draw_self_cancel(rng, 0.1)
        rec.raises = self.draw_raises(rng)
        call = self.loop.call_soon_threadsafe if threadsafe else self.loop.call_soon
        if rng.random() < 0.05 and "self-cancel" not in WITHOUT:
            rec.self_cancel = rng.choice((1, 2))
            rec.raises = False
            rec.kind += "_c"
            rec.handle = call(getattr, Probe(self, rec), "missing", token)
            return
        rec.handle = call(self.cb, rec, token)
        if rng.random() < 0.3 and not rec.self_cancel:
            rec.handle = None       # fire and forget: the engine holds the only reference

    def draw_raises(self, rng):
        return rng.random() < 0.05 and "raise" not in WITHOUT

    def draw_self_cancel(self, rng, p):
        x = rng.random()
        if x >= p or "self-cancel" in WITHOUT:
            return 0
        return 1 if x < p / 2 else 2

    def op_timer(self, rng, at=False):
        rec, token = self.new_rec(None, "timer")
        rec.created_at = self.loop.time()
        rec.self_cancel = self.draw_self_cancel(rng, 0.1)
        rec.raises = self.draw_raises(rng)
        delay = rng.choice((-0.001, 0.0, 0.0, rng.uniform(0, 0.005), rng.uniform(0, 0.02)))
        if at:
            rec.when = self.loop.time() + delay
            rec.handle = self.loop.call_at(rec.when, self.tcb, rec, token)
        else:
            rec.handle = self.loop.call_later(delay, self.tcb, rec, token)
            rec.when = rec.handle.when()
        if rng.random() < 0.3 and not rec.self_cancel:
            rec.handle = None       # fire and forget (before other threads can see it)
        self.timers.append(rec)

    def pending(self, kinds):
        return [r for r in self.records[-300:]
                if r.kind.split("_c")[0] in kinds and not r.ran and r.expect == "run" and r.handle is not None]

    def op_cancel(self, rng, kinds):
        candidates = self.pending(kinds)
        if candidates:
            rec = rng.choice(candidates)
            rec.expect = "never"      # exact: callbacks only run on this thread
            rec.handle.cancel()
            self.stats["cancels"] += 1
            if rng.random() < 0.5 and rec.kind in ("soon", "soon_ts"):
                rec.handle = None     # the engine's reference is the last one
                                      # (no other thread looks at these)

    def op_io(self, rng):
        if not self.pairs:
            return
        pair = rng.choice(self.pairs)
        what = rng.random()
        if pair.closed:
            # Closed before its watchers were removed: remove them through
            # the socket object (selectors finds it by identity).
            if pair.reader_gen or pair.writer_gen:
                self.remove_watchers(pair, reader=what < 0.5, writer=what >= 0.25)
            return
        if what < 0.3:
            pair.reader_gen = next(self.gen)
            self.loop.add_reader(pair.a, self.rcb, pair, pair.reader_gen)
        elif what < 0.45:
            pair.writer_gen = next(self.gen)
            pair.writer_fires = 0
            pair.writer_wants = rng.randint(1, 3)
            self.loop.add_writer(pair.a, self.wcb, pair, pair.writer_gen)
        elif what < 0.6:
            self.remove_watchers(pair, writer=False)
        elif what < 0.7:
            self.remove_watchers(pair, reader=False)
        elif what < 0.9:
            try:
                pair.b.send(b"x")
            except OSError:
                pass
        elif "close-watched" in WITHOUT and (pair.reader_gen or pair.writer_gen):
            pass
        else:
            if pair.reader_gen and pair.writer_gen:
                # asyncio itself cannot take half of the watchers of a
                # closed socket away (the selector's epoll modify fails with
                # EBADF), only all of them: leave one.
                self.remove_watchers(pair, reader=rng.random() < 0.5, writer=None)
            pair.a.close()
            pair.closed = True
            if rng.random() < 0.5:
                self.remove_watchers(pair)

    def remove_watchers(self, pair, reader=True, writer=True):
        """remove_reader/remove_writer, checking what they return. A closed
        socket is looked up by identity among the registered ones, so it can
        be named only while it still has a watcher (asyncio raises
        ValueError for an unknown socket whose fileno() is -1)."""
        if writer is None:
            writer = not reader
        if reader and pair.closed and not (pair.reader_gen or pair.writer_gen):
            reader = False
        if reader:
            had = bool(pair.reader_gen)
            pair.reader_gen = 0
            try:
                removed = self.loop.remove_reader(pair.a)
            except Exception as exc:
                self.fail("remove_reader(%s socket) raised %r" % (
                    "closed" if pair.closed else "open", exc))
            else:
                if removed is not had:
                    self.fail("remove_reader(%s socket) returned %r, expected %r" % (
                        "closed" if pair.closed else "open", removed, had))
        if writer and pair.closed and not (pair.reader_gen or pair.writer_gen):
            writer = False
        if writer:
            had = bool(pair.writer_gen)
            pair.writer_gen = 0
            try:
                removed = self.loop.remove_writer(pair.a)
            except Exception as exc:
                self.fail("remove_writer(%s socket) raised %r" % (
                    "closed" if pair.closed else "open", exc))
            else:
                if removed is not had:
                    self.fail("remove_writer(%s socket) returned %r, expected %r" % (
                        "closed" if pair.closed else "open", removed, had))

    def step(self, step_seed):
        """One step of the loop thread's plan: a few random operations."""
        self.steps_queued -= 1
        rng = random.Random(step_seed)
        for _ in range(rng.randint(1, 8)):
            x = rng.random()
            if x < 0.25:
                self.op_soon(rng)
            elif x < 0.32:
                self.op_soon(rng, threadsafe=True)
            elif x < 0.45:
                self.op_timer(rng, at=rng.random() < 0.5)
            elif x < 0.52:
                self.op_cancel(rng, ("soon", "soon_ts", "thread_ts"))
            elif x < 0.58:
                self.op_cancel(rng, ("timer",))
            elif x < 0.78:
                self.op_io(rng)
            elif x < 0.81:
                self.stats["stops"] += 1
                self.loop.stop()
            elif x < 0.83:
                if "gc" not in WITHOUT:
                    gc.collect()
            elif x < 0.85:
                try:
                    self.loop.close()
                except RuntimeError:
                    pass
                else:
                    self.fail("close() of the running loop did not raise RuntimeError")
        self.schedule_steps(rng)

    def schedule_steps(self, rng):
        # Each step queues 0-2 more while the budget lasts; at least one
        # while steps are left, so that the plan is played to its end.
        want = rng.choice((0, 1, 1, 1, 2)) if self.steps_queued else rng.choice((1, 1, 2))
        for _ in range(want):
            if self.steps_left <= 0:
                return
            self.steps_left -= 1
            self.steps_queued += 1
            seed = rng.random()
            if rng.random() < 0.2:
                self.loop.call_later(rng.uniform(0, 0.003), self.step, seed)
            else:
                self.loop.call_soon(self.step, seed)

    # ---- other threads ------------------------------------------------
    def producer(self, name, plan_seed, flood):
        rng = random.Random(plan_seed)
        loop = self.loop
        mine = []
        try:
            if flood:
                self.flood(name, rng.random() < 0.5)
                return
            for _ in range(rng.randint(5, 40)):
                if self.round_over.is_set():
                    return
                x = rng.random()
                if x < 0.45:
                    for _ in range(rng.choice((1, 1, 2, 5, 20, 50))):
                        rec, token = self.new_rec(name, "thread_ts")
                        rec.self_cancel = self.draw_self_cancel(rng, 0.05)
                        rec.raises = self.draw_raises(rng)
                        rec.handle = loop.call_soon_threadsafe(self.cb, rec, token)
                        mine.append(rec)
                elif x < 0.55 and "thread-cancel" in WITHOUT:
                    pass
                elif x < 0.55:
                    # Direct cross-thread cancel: ran at most once, and if not, cancelled.
                    targets = [r for r in (mine[-50:] + self.timers[-50:])
                               if r.expect == "run" and not r.ran and r.handle is not None]
                    if targets:
                        rec = rng.choice(targets)
                        handle = rec.handle     # dropped only once it ran
                        if handle is not None:
                            rec.expect = "maybe"
                            handle.cancel()
                        del handle
                elif x < 0.62:
                    targets = [r for r in self.timers[-50:]
                               if r.expect == "run" and not r.ran and r.handle is not None]
                    if targets:
                        loop.call_soon_threadsafe(self.cancel_on_loop, rng.choice(targets))
                elif x < 0.67:
                    loop.call_soon_threadsafe(self.stop_from_thread)
                elif x < 0.72:
                    if "gc" not in WITHOUT:
                        gc.collect()
                elif x < 0.82 and self.pairs:
                    try:
                        rng.choice(self.pairs).b.send(b"t")
                    except OSError:
                        pass
                else:
                    time.sleep(rng.choice((0, 0, 0.0005, 0.002)))
        except Exception as exc:
            self.fail("producer %s: %r" % (name, exc))
        finally:
            with self.thread_lock:
                self.threads_running -= 1

    def flood(self, name, cheap):
        """call_soon_threadsafe as fast as this thread can until the timer
        armed 5 ms after the round began has run: with a record per call, or
        cheap (flood_cb(name, seq), counted and ordered by flood_cb)."""
        loop = self.loop
        started = time.monotonic()
        sent = 0
        send = loop.call_soon_threadsafe
        self.flood_sent[name] = 0
        self.flood_next[name] = 0
        while not self.flood_done.is_set() and not self.round_over.is_set():
            if cheap:
                for _ in range(256):
                    send(self.flood_cb, name, sent)
                    sent += 1
                self.flood_sent[name] = sent
            else:
                rec, token = self.new_rec(name, "thread_ts")
                rec.handle = send(self.cb, rec, token)
                sent += 1
            if sent >= FLOOD_CAP:
                self.stats["flood_capped"] = 1
                break
            if time.monotonic() - started > FLOOD_LIMIT and not self.flood_done.is_set():
                self.fail("timer starved: a timer due 5 ms after a call_soon_threadsafe flood "
                          "began had not run %.2f s later (flooder %s had sent %d calls)"
                          % (FLOOD_LIMIT, name, sent))
                break

    def flood_cb(self, name, seq):
        if seq != self.flood_next[name]:
            self.fail("FIFO broken for flooder %s: seq %d ran, %d expected"
                      % (name, seq, self.flood_next[name]))
        self.flood_next[name] = seq + 1

    def cancel_on_loop(self, rec):
        # On the loop thread: exact.
        if not rec.ran and rec.expect == "run" and rec.handle is not None:
            rec.expect = "never"
            rec.handle.cancel()
            self.stats["cancels"] += 1

    def stop_from_thread(self):
        self.stats["stops"] += 1
        self.loop.stop()

    def guard_thread(self):
        if self.round_over.wait(self.guard):
            return
        self.guard_fired = True
        while not self.round_over.is_set():
            try:
                self.loop.call_soon_threadsafe(self.loop.stop)
            except RuntimeError:
                return
            self.round_over.wait(0.5)

    # ---- the round ----------------------------------------------------
    def arm_watch(self):
        if not self.watch_armed:
            self.watch_armed = True
            self.loop.call_soon(self.watch)

    def watch(self):
        """Periodic (one chain), on the loop thread: stops the loop when all
        is done."""
        self.watch_armed = False
        if self.done():
            self.loop.stop()
        else:
            self.watch_armed = True
            self.loop.call_later(0.002, self.watch)

    @staticmethod
    def is_settled(rec):
        return (rec.ran or rec.expect in ("never", "dropped")
                or (rec.expect == "maybe" and rec.handle.cancelled()))

    def outstanding(self):
        records = self.records
        i = self.settled
        while i < len(records) and self.is_settled(records[i]):
            i += 1
        self.settled = i
        return [r for r in records[i:] if not self.is_settled(r)]

    def done(self):
        if self.steps_left or self.steps_queued or self.threads_running:
            return False
        if self.outstanding():
            return False
        if any(self.flood_next[name] != sent for name, sent in self.flood_sent.items()):
            return False
        if not self.final_phase:
            # Liveness of the readers still watching open sockets.
            self.final_phase = True
            for pair in self.pairs:
                if pair.reader_gen and not pair.closed:
                    pair.final_byte = True
                    try:
                        pair.b.send(b"f")
                    except OSError as exc:
                        self.fail("final write: %r" % exc)
            return False
        if any(p.writer_gen for p in self.pairs if not p.closed):
            return False      # a writer on an open socket has fires to come
        return all(p.final_seen for p in self.pairs if p.final_byte and p.reader_gen)

    def run(self, make_loop):
        rng = self.rng
        loop = self.loop = make_loop()
        self.resolution = getattr(loop, "_clock_resolution", 1e-9) + 1e-9
        loop.set_exception_handler(self.on_exception)
        if rng.random() < 0.15 and "debug" not in WITHOUT:
            # asyncio's debug mode: handles record where they were made;
            # callbacks slower than this are logged (kept quiet here).
            loop.set_debug(True)
            loop.slow_callback_duration = 30.0
            self.stats["debug"] = 1
        self.pairs = [Pair() for _ in range(rng.randint(0, 4))]
        self.steps_left = rng.randint(10, 80)
        for _ in range(rng.randint(1, 3)):
            if self.steps_left:
                self.steps_left -= 1
                self.steps_queued += 1
                loop.call_soon(self.step, rng.random())
        flood = rng.random() < 0.2 and "flood" not in WITHOUT
        self.stats["flood"] = int(flood)
        self.stats["pairs"] = len(self.pairs)
        if flood:
            when = loop.time() + 0.005
            loop.call_at(when, self.on_flood_timer, Token(), when)
        names = ["T%d" % i for i in range(rng.randint(1, 4))]
        flooders = rng.randint(1, len(names)) if flood else 0
        self.stats["flooders"] = flooders
        self.threads_running = len(names)
        for i, name in enumerate(names):
            t = threading.Thread(target=self.producer, name="stress-" + name,
                                 args=(name, rng.random(), i < flooders))
            self.threads.append(t)
        guard = threading.Thread(target=self.guard_thread, name="stress-guard")
        self.arm_watch()
        guard.start()
        for t in self.threads:
            t.start()
        started = time.monotonic()
        try:
            while True:
                loop.run_forever()
                self.stats["runs"] += 1
                if self.guard_fired:
                    self.report_hang(started)
                    break
                if self.done():
                    break
                # Stopped by a stop() of the plan: sometimes act while stopped.
                if rng.random() < 0.3:
                    self.op_soon(rng)
                if rng.random() < 0.2:
                    self.op_timer(rng)
                self.arm_watch()
        finally:
            self.round_over.set()
            for t in self.threads:
                t.join(30)
                if t.is_alive():
                    self.fail("thread %s did not end" % t.name)
            guard.join(30)
        self.check_order()
        self.close(rng)

    def report_hang(self, started):
        left = self.outstanding()
        kinds = {}
        for r in left:
            kinds[r.kind] = kinds.get(r.kind, 0) + 1
        due = [r for r in left if r.kind == "timer" and r.when < self.loop.time()]
        self.fail("hang: round not done after %.1f s (steps left %d, queued %d, threads running %d, "
                  "%d callbacks never ran %s, %d of them timers already due, readers waiting for "
                  "the final byte: %d, flood callbacks sent/ran: %s)" % (
                      time.monotonic() - started, self.steps_left, self.steps_queued,
                      self.threads_running, len(left), kinds, len(due),
                      sum(1 for p in self.pairs if p.final_byte and not p.final_seen),
                      {n: (sent, self.flood_next[n]) for n, sent in self.flood_sent.items()}))

    def check_order(self):
        for producer, seqs in self.order.items():
            for a, b in zip(seqs, seqs[1:]):
                if b <= a:
                    self.fail("FIFO broken for producer %s: seq %d ran after seq %d" % (producer, b, a))
                    break
        fired = sorted((r for r in self.timers if r.ran), key=lambda r: r.fired_ev)
        # A timer B with an earlier deadline than timer A, scheduled before A
        # could be due (so it was in the heap when A was taken out), must
        # have fired before A. (B scheduled in the iteration that took A out
        # runs in the next one, on every loop.)
        for i, a in enumerate(fired):
            for b in fired[i + 1:]:
                if b.when < a.when and b.created_at + self.resolution < a.when:
                    self.fail("timer %d (deadline %.6f) ran after timer %d (deadline %.6f)"
                              % (b.id, b.when, a.id, a.when))
                    return

    def close(self, rng):
        loop = self.loop
        dirty = rng.random() < 0.5 and "dirty-close" not in WITHOUT
        never_closed = rng.random() < 0.1 and "no-close" not in WITHOUT
        if dirty:
            # Leave work behind: queued callbacks, far timers, watchers.
            for _ in range(rng.randint(0, 20)):
                rec, token = self.new_rec(None, "dropped")
                rec.expect = "dropped"
                rec.handle = loop.call_soon(self.cb, rec, token)
            for _ in range(rng.randint(0, 5)):
                rec, token = self.new_rec(None, "dropped")
                rec.expect = "dropped"
                rec.when = loop.time() + 3600
                rec.handle = loop.call_at(rec.when, self.tcb, rec, token)
        else:
            for pair in self.pairs:
                if pair.reader_gen or pair.writer_gen:
                    self.remove_watchers(pair)
        self.check_callbacks()
        if never_closed:
            # Dropped without close(), as asyncio allows (its __del__ warns
            # and closes): the same must then be freed.
            self.stats["never_closed"] = 1
            return
        loop.close()
        loop.close()    # idempotent
        for what, call in (("call_soon", lambda: loop.call_soon(self.cb, None, None)),
                           ("call_soon_threadsafe", lambda: loop.call_soon_threadsafe(self.cb, None, None)),
                           ("call_later", lambda: loop.call_later(0, self.cb, None, None))):
            try:
                call()
            except RuntimeError:
                pass
            except Exception as exc:
                self.fail("%s after close() raised %r, not RuntimeError" % (what, exc))
            else:
                self.fail("%s after close() did not raise" % what)
        for pair in self.pairs:
            if pair.reader_gen or pair.writer_gen:
                try:
                    removed = loop.remove_reader(pair.a)
                except Exception as exc:
                    self.fail("remove_reader after close() raised %r" % exc)
                else:
                    if removed is not False:
                        self.fail("remove_reader after close() returned %r, asyncio's False" % (removed,))

    def check_callbacks(self):
        """What each callback did, once nothing runs any more."""
        for name, sent in self.flood_sent.items():
            if self.flood_next[name] != sent:
                self.fail("flooder %s: %d of its %d callbacks ran" % (name, self.flood_next[name], sent))
        raised = sorted(self.raised)
        expected = sorted(r.id for r in self.records if r.raises and r.ran)
        if raised != expected:
            self.fail("exception handler got %d StressErrors for %d raising callbacks that ran"
                      " (%s)" % (len(raised), len(expected), sorted(set(raised) ^ set(expected))[:5]))
        for rec in self.records:
            if rec.expect == "run" and rec.ran != 1:
                self.fail("%s callback %d (producer %s) ran %d times, expected once"
                          % (rec.kind, rec.id, rec.producer, rec.ran))
            elif rec.expect == "maybe" and not rec.ran and rec.handle.cancelled() is not True:
                self.fail("%s callback %d cancelled from another thread neither ran nor is cancelled()"
                          % (rec.kind, rec.id))
            if len(self.failures) > 40:
                break

    def release(self):
        """Drops every reference the round holds to loop, handles and sockets.

        Sometimes a few handles outlive our reference to the (closed, or
        never closed) loop, and are used once it may be gone: cancel(),
        cancelled(), when(), repr(), as asyncio allows at any time."""
        for pair in self.pairs:
            pair.a.close()
            pair.b.close()
        held = [rec.handle for rec in self.records if rec.handle is not None]
        for rec in self.records:
            rec.handle = None
        self.records = self.timers = self.pairs = []
        self.threads = []
        loop_ref = weakref.ref(self.loop)
        self.loop = None
        if held and self.rng.random() < 0.5:
            held = self.rng.sample(held, min(len(held), 20))
            gc.collect()
            for handle in held:
                try:
                    repr(handle)
                    handle.cancel()
                    if handle.cancelled() is not True:
                        self.fail("cancel() of a handle outliving its loop did not take")
                    if hasattr(handle, "when"):
                        handle.when()
                except Exception as exc:
                    self.fail("a handle outliving its loop: %r" % exc)
            self.stats["late_handles"] = len(held)
        del held
        return loop_ref


def open_fds():
    fds = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            os.readlink("/proc/self/fd/" + fd)
        except OSError:
            continue        # the directory listing's own fd, closed by now
        fds.add(fd)
    return fds


def snapshot():
    gc.collect()
    gc.collect()
    return open_fds(), len(gc.get_objects())


def make_loop_factory(name):
    if name == "asyncio":
        return asyncio.SelectorEventLoop
    import data_bridge.pyloop
    return data_bridge.pyloop.new_event_loop


def run_round(loop_name, seed, index, guard):
    """Runs one round in this process; returns (failures, stats)."""
    fds_before, objects_before = snapshot()
    rnd = Round(loop_name, seed, index, guard)
    try:
        rnd.run(make_loop_factory(loop_name))
    except Exception as exc:
        import traceback
        rnd.fail("the round raised: %s" % "".join(
            traceback.format_exception_only(type(exc), exc)).strip())
        rnd.fail(traceback.format_exc()[-1500:])
        rnd.round_over.set()
        if rnd.loop is not None and not rnd.loop.is_closed():
            try:
                if not rnd.loop.is_running():
                    rnd.loop.close()
            except Exception:
                pass
    loop_ref = rnd.release()
    failures, stats, tokens = rnd.failures, rnd.stats, rnd.tokens
    del rnd
    fds_after, objects_after = snapshot()
    if loop_ref() is not None:
        referrers = [describe_referrer(r) for r in gc.get_referrers(loop_ref())]
        failures.append("the %sloop was not collected (referrers: %s)" % (
            "" if loop_ref().is_closed() else "unclosed ", ", ".join(referrers[:5]) or "none tracked"))
        del referrers
    alive = sum(1 for t in tokens if t() is not None)
    if alive:
        failures.append("%d of %d callback arguments still alive after the loop was "
                        "dropped" % (alive, len(tokens)))
    del tokens
    if fds_after != fds_before:
        failures.append("open fds changed: %d more, %d fewer (%s)" % (
            len(fds_after - fds_before), len(fds_before - fds_after),
            describe_fds(fds_after - fds_before)))
    fds_after, objects_after = snapshot()
    if objects_after - objects_before > GC_SLACK:
        failures.append("gc-tracked objects grew by %d (slack %d)" % (
            objects_after - objects_before, GC_SLACK))
    stats["gc_growth"] = objects_after - objects_before
    return failures, stats


def describe_referrer(obj):
    name = type(obj).__name__
    if isinstance(obj, dict):
        owners = [type(o).__name__ for o in gc.get_referrers(obj) if hasattr(o, "__dict__")
                  and getattr(o, "__dict__", None) is obj]
        if owners:
            return "the __dict__ of a " + owners[0]
    return name


def describe_fds(fds):
    out = []
    for fd in sorted(fds, key=int)[:5]:
        try:
            out.append("%s -> %s" % (fd, os.readlink("/proc/self/fd/" + fd)))
        except OSError:
            out.append(fd)
    return ", ".join(out)


# --------------------------------------------------------------------------
# child: runs rounds, one protocol line each

def warm_up(name):
    """Not checked: builds the interpreter's and modules' lazy state (a
    thread, a socketpair, a reader, a timer) before the first snapshot."""
    loop = make_loop_factory(name)()
    a, b = socket.socketpair()

    def on_read():
        a.recv(16)
        loop.remove_reader(a)
        loop.call_later(0.001, loop.stop)

    loop.add_reader(a, on_read)
    thread = threading.Thread(target=lambda: loop.call_soon_threadsafe(b.send, b"w"))
    thread.start()
    loop.run_forever()
    thread.join()
    loop.close()
    a.close()
    b.close()
    weakref.ref(loop)
    random.Random("warm:0").random()
    gc.collect()


def child_main(args):
    faulthandler.enable(all_threads=True)
    warnings.simplefilter("ignore", ResourceWarning)   # loops dropped unclosed, on purpose
    loops = LOOPS if args.loop == "both" else (args.loop,)
    if "pyloop" in loops:
        import data_bridge.pyloop  # noqa: F401  (import errors: before any round)
    for name in loops:
        warm_up(name)
    index = args.start
    todo = [int(x) for x in args.round_list.split(",")] if args.round_list else None
    while True:
        if todo is not None:
            todo = [r for r in todo if r >= index]
            if not todo:
                break
            index = todo[0]
        if args.round is not None and index > args.round:
            break
        if args.until is not None and time.monotonic() >= args.until:
            break
        if args.max_rounds is not None and index >= args.max_rounds:
            break
        for name in loops:
            print(MARK + json.dumps({"event": "start", "round": index, "loop": name}), flush=True)
            t0 = time.monotonic()
            failures, stats = run_round(name, args.seed, index, args.guard)
            print(MARK + json.dumps({"event": "end", "round": index, "loop": name,
                                     "failures": failures, "stats": stats,
                                     "seconds": round(time.monotonic() - t0, 3)}), flush=True)
        index += 1
    print(MARK + json.dumps({"event": "done", "next": index}), flush=True)
    sys.stdout.flush()
    os._exit(0)     # leave no chance to hang at exit


# --------------------------------------------------------------------------
# parent: runs children, survives their crashes, reports

class Parent:
    def __init__(self, args):
        self.args = args
        self.loops = LOOPS if args.loop == "both" else (args.loop,)
        self.results = {}       # (round, loop) -> failures list
        self.crashed = False
        self.reported = []

    def replay(self, index, loop):
        path = os.path.relpath(os.path.abspath(__file__))
        if path.startswith(".."):
            path = os.path.abspath(__file__)
        return "python3 %s --seed %s --round %d --loop %s%s%s" % (
            path, self.args.seed, index, loop,
            " --without " + ",".join(sorted(WITHOUT)) if WITHOUT else "",
            " --flood-limit %g" % FLOOD_LIMIT if FLOOD_LIMIT != DEFAULT_FLOOD_LIMIT else "")

    def run_child(self, start, until=None, single=None, loops=None, round_list=None):
        """Runs a child from round `start` (or just round `single`, or the
        rounds of `round_list`); returns (next round, crash, results)."""
        args = self.args
        cmd = [sys.executable, os.path.abspath(__file__), "--child", "--seed", str(args.seed),
               "--guard", str(args.guard), "--start", str(start),
               "--loop", loops or args.loop, "--without", ",".join(sorted(WITHOUT)),
               "--flood-limit", repr(FLOOD_LIMIT)]
        if round_list is not None:
            cmd += ["--round-list", ",".join(map(str, round_list))]
        elif single is not None:
            cmd += ["--round", str(single)]
        elif until is not None:
            cmd += ["--until", repr(until)]
        if args.rounds is not None and single is None and round_list is None:
            cmd += ["--max-rounds", str(args.rounds)]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                stdin=subprocess.DEVNULL, universal_newlines=True,
                                errors="replace", start_new_session=True)
        err_tail = []

        def pump_stderr():
            # A crash report (ASan's, faulthandler's) is shown in full the
            # first time; later ones by their headline only.
            for line in proc.stderr:
                if not self.crashed or any(key in line for key in CRASH_HEADLINES):
                    sys.stderr.write(line)
                err_tail.append(line)
                del err_tail[:-200]

        pump = threading.Thread(target=pump_stderr, daemon=True)
        pump.start()
        current = None
        next_round = start
        last_event = [time.monotonic()]
        hard = args.guard + 60.0
        killed = []

        def watchdog():
            while proc.poll() is None:
                if current is not None and time.monotonic() - last_event[0] > hard:
                    killed.append("hang")
                    try:
                        os.killpg(proc.pid, signal.SIGABRT)   # faulthandler dumps the stacks
                        time.sleep(2)
                        os.killpg(proc.pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                    return
                time.sleep(0.5)

        dog = threading.Thread(target=watchdog, daemon=True)
        dog.start()
        results = {}
        for line in proc.stdout:
            if not line.startswith(MARK):
                sys.stdout.write(line)
                continue
            event = json.loads(line[len(MARK):])
            last_event[0] = time.monotonic()
            if event["event"] == "start":
                current = (event["round"], event["loop"])
            elif event["event"] == "end":
                key = (event["round"], event["loop"])
                results[key] = event
                current = None
                next_round = event["round"] + (1 if event["loop"] == self.loops[-1] or loops else 0)
                if self.args.verbose:
                    print("round %d %-7s %s %.2fs %s" % (
                        key[0], key[1], "FAIL" if event["failures"] else "ok",
                        event["seconds"], event["stats"]), flush=True)
            elif event["event"] == "done":
                next_round = event["next"]
        proc.wait()
        pump.join(5)
        crash = None
        if current is not None or (proc.returncode != 0 and not killed):
            if proc.returncode is not None and proc.returncode < 0:
                try:
                    how = "killed by " + signal.Signals(-proc.returncode).name
                except ValueError:
                    how = "killed by signal %d" % -proc.returncode
            else:
                how = "exit status %s" % proc.returncode
            if killed:
                how = "hung (no progress for %.0f s; stacks dumped above)" % hard
            asan = [ln.strip() for ln in err_tail if any(key in ln for key in CRASH_HEADLINES)]
            if not self.crashed:
                print("stress: later crash reports are cut to their headlines; replay a round "
                      "for its full report", file=sys.stderr)
            self.crashed = True
            crash = (current, how + (": " + asan[0] if asan else ""))
            if current is not None:
                results[current] = {"failures": ["crashed: " + crash[1]], "crash": True}
                next_round = current[0] + 1
        return next_round, crash, results

    def record(self, results):
        for key in sorted(results):
            event = results[key]
            self.results[key] = event["failures"]
            if event["failures"]:
                self.report(key, event["failures"])

    def report(self, key, failures):
        index, loop = key
        print("FAIL round %d on %s (seed %s): %s" % (index, loop, self.args.seed, failures[0]),
              flush=True)
        for message in failures[1:6]:
            print("     %s" % message.replace("\n", "\n     "))
        if len(failures) > 6:
            print("     ... %d more" % (len(failures) - 6))
        if loop == "pyloop":
            other = self.results.get((index, "asyncio"))
            if other is None:
                self.to_check.append(index)
            else:
                print("     same round on asyncio: %s" % verdict(other))
        print("     replay: %s" % self.replay(index, "both" if loop == "pyloop" else loop), flush=True)

    def check_on_asyncio(self):
        """--loop pyloop: the failed rounds again on asyncio, in one child."""
        if not self.to_check or self.args.no_check_asyncio:
            return
        rounds = self.to_check
        checked = {}
        while rounds:
            _, crash, res = self.run_child(rounds[0], loops="asyncio", round_list=rounds)
            for (index, _), event in res.items():
                checked[index] = event["failures"]
                self.results[(index, "asyncio", "check")] = event["failures"]
            rounds = [r for r in rounds if r not in checked]
            if crash is None or crash[0] is None:
                break
        print("stress: the %d failed pyloop round(s) again on asyncio:" % len(self.to_check))
        for index in self.to_check:
            print("  round %d: %s" % (index, verdict(checked[index]) if index in checked
                                      else "not run"))

    def main(self):
        args = self.args
        self.to_check = []
        print("stress: seed %s, %s, loops %s, guard %.0f s/round%s, python %s%s" % (
            args.seed, ("round %d" % args.round) if args.round is not None else "%.0f s" % args.seconds,
            ",".join(self.loops), args.guard,
            ", without " + ",".join(sorted(WITHOUT)) if WITHOUT else "", sys.version.split()[0],
            pyloop_description() if "pyloop" in self.loops else ""), flush=True)
        t0 = time.monotonic()
        if args.round is not None:
            _, _, results = self.run_child(args.round, single=args.round)
            self.record(results)
        else:
            until = t0 + args.seconds
            start = 0
            while time.monotonic() < until:
                if args.rounds is not None and start >= args.rounds:
                    break
                next_round, crash, results = self.run_child(start, until=until)
                self.record(results)
                if crash is None:
                    break           # time is up, or --rounds done
                if crash[0] is None:
                    print("FAIL the child died outside a round (seed %s, from round %d): %s"
                          % (self.args.seed, start, crash[1]), flush=True)
                    self.results[(start, "startup")] = [crash[1]]
                    break
                start = next_round      # after a crash, on with a new child
        self.check_on_asyncio()
        return self.summary(time.monotonic() - t0)

    def summary(self, elapsed):
        per_loop = {}
        for key, failures in self.results.items():
            if len(key) == 3:
                continue          # asyncio check of a failed pyloop round
            loop = key[1]
            counts = per_loop.setdefault(loop, [0, 0])
            counts[1 if failures else 0] += 1
        engine_only = sum(1 for (key, failures) in self.results.items()
                          if len(key) == 2 and key[1] == "pyloop" and failures
                          and not (self.results.get((key[0], "asyncio"))
                                   or self.results.get((key[0], "asyncio", "check"))))
        parts = ["%s %d rounds (%d failed)" % (loop, sum(c), c[1]) for loop, c in sorted(per_loop.items())]
        print("stress: seed %s, %.1f s: %s; pyloop failures that pass on asyncio: %d" % (
            self.args.seed, elapsed, ", ".join(parts) or "no rounds", engine_only))
        passed = sum(c[0] for c in per_loop.values())
        failed = sum(c[1] for c in per_loop.values())
        print("%d passed, %d failed" % (passed, failed))
        return 1 if failed else 0


def verdict(asyncio_failures):
    if asyncio_failures:
        return "FAILS ON ASYNCIO TOO (%s): the stress test's or asyncio's" % asyncio_failures[0]
    return "passes on asyncio: the engine's"


def pyloop_description():
    try:
        import data_bridge.pyloop as pyloop
        info = pyloop.build_info()
        return ", pyloop %s (%s, %s)" % (info.get("phase"), info.get("wait_strategy"),
                                         os.path.dirname(pyloop.__file__))
    except Exception as exc:
        return ", pyloop NOT IMPORTABLE: %r" % exc


def main(argv=None):
    global FLOOD_LIMIT
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seed", default=None, help="the run's seed (default: random, printed)")
    ap.add_argument("--seconds", type=float, default=30.0,
                    help="start no round after this many seconds (default 30)")
    ap.add_argument("--loop", choices=("asyncio", "pyloop", "both"), default="both")
    ap.add_argument("--round", type=int, default=None, help="run this round only (replay)")
    ap.add_argument("--rounds", type=int, default=None, help="at most this many rounds")
    ap.add_argument("--guard", type=float, default=10.0,
                    help="seconds after which a round counts as hung (default 10)")
    ap.add_argument("--flood-limit", type=float, default=FLOOD_LIMIT, metavar="S",
                    help="seconds a due timer may wait behind a call_soon_threadsafe flood "
                         "(default %.1f)" % FLOOD_LIMIT)
    ap.add_argument("--without", default="", metavar="A,B",
                    help="leave these out of every plan: %s (to look past a "
                         "known bug; the default plan has all)" % ", ".join(FEATURES))
    ap.add_argument("--no-check-asyncio", action="store_true",
                    help="with --loop pyloop, do not rerun a failed round on asyncio")
    ap.add_argument("--verbose", "-v", action="store_true", help="one line per round")
    # the child's own options
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--start", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--until", type=float, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--max-rounds", type=int, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--round-list", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.seed is None:
        args.seed = str(int.from_bytes(os.urandom(4), "big"))
    FLOOD_LIMIT = args.flood_limit
    for name in filter(None, (x.strip() for x in args.without.split(","))):
        if name not in FEATURES:
            ap.error("--without: unknown %r (known: %s)" % (name, ", ".join(FEATURES)))
        WITHOUT.add(name)
    if args.child:
        child_main(args)
        return 0
    if "pyloop" in (LOOPS if args.loop == "both" else (args.loop,)):
        desc = pyloop_description()
        if "NOT IMPORTABLE" in desc:
            print("stress: seed %s%s" % (args.seed, desc))
            print("0 passed, 1 failed")
            return 2
    return Parent(args).main()


if __name__ == "__main__":
    sys.exit(main())

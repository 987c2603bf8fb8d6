#!/usr/bin/env python3
"""What asyncio's I/O guarantee costs a chain of callbacks, in CPU time.

A chain of 200,000 callbacks (each schedules the next with call_soon, so
every loop iteration runs one), with no fd watched and with one idle
socket watched by add_reader: then every iteration must look at I/O
without blocking (asyncio's select(0); PyLoop's epoll_wait(0), skipped
while no fd is watched). Reported: the process's CPU time per callback,
median of 5 runs, which a loaded machine disturbs far less than wall time.

  python benchmarks/pyloop/chain_cpu.py asyncio|uvloop|pyloop
  python benchmarks/pyloop/chain_cpu.py LOOP --once N [--watch]
  python benchmarks/pyloop/chain_cpu.py floor

--once runs one chain of N callbacks, untimed, for counting instructions:
under `valgrind --tool=callgrind --toggle-collect=loop_run` (PyLoop's C
run method), what is collected divided by N is the cost per callback.
`floor` times what asyncio's Handle costs CPython per callback whatever
the loop: copy_context() and Context.run(), in CPU ns per call.

docs/architecture.md quotes a run of the chain; docs/benchmarks.md compares
interpreters with all three (issue 15).
"""
import socket, sys, time, statistics
name = sys.argv[1]
if name == "floor":
    import contextvars
    def floor():
        copy, f, n = contextvars.copy_context, lambda: None, 200000
        t0 = time.process_time()
        for _ in range(n):
            copy().run(f)
        return (time.process_time() - t0) / n * 1e9
    print("CPython floor, copy_context().run(f): %.1f CPU ns" % statistics.median(floor() for _ in range(5)))
    sys.exit(0)
if name == "pyloop":
    import data_bridge.pyloop as m; new = m.new_event_loop
elif name == "uvloop":
    import uvloop; new = uvloop.new_event_loop
else:
    import asyncio; new = asyncio.new_event_loop
N = 200000
def run(watch):
    loop = new()
    a, b = socket.socketpair()
    if watch:
        loop.add_reader(a.fileno(), lambda: None)
    left = [N]
    def step():
        left[0] -= 1
        if left[0]: loop.call_soon(step)
        else: loop.stop()
    loop.call_soon(step)
    t0 = time.process_time()
    loop.run_forever()
    cpu = time.process_time() - t0
    if watch: loop.remove_reader(a.fileno())
    loop.close(); a.close(); b.close()
    return cpu / N * 1e6
if "--once" in sys.argv:
    N = int(sys.argv[sys.argv.index("--once") + 1])
    run("--watch" in sys.argv)
    sys.exit(0)
res = {w: statistics.median(run(w) for _ in range(5)) for w in (False, True)}
print("%s CPU µs per chained callback: no fd watched %.3f, one idle fd watched %.3f (+%.3f)" % (name, res[False], res[True], res[True] - res[False]))

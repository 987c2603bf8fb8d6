/*
 * loop_impl: a C event loop. Callbacks, timers and fd watchers on one thread;
 * call_soon_threadsafe and stop from any thread. No Python: a host runtime
 * (the _pyloop extension) hooks in around blocking waits.
 *
 *   pyloop_loop_new/close/free one loop per thread that runs it; no globals
 *   pyloop_call_soon          from the loop thread only
 *   pyloop_call_soon_threadsafe, pyloop_stop     from any thread
 *   pyloop_throttle           back-pressure for threads that flood the loop
 *   pyloop_timer_start/cancel intrusive timers, cancel is O(log n)
 *   pyloop_fd_set_reader/...  fd readiness watchers (level triggered)
 *   pyloop_run, pyloop_run_once
 *   pyloop_time               CLOCK_MONOTONIC in seconds (= time.monotonic())
 *   pyloop_get_stats          counters that tests and benchmarks read
 *   pyloop_set_wait_hooks     called just before and just after each blocking wait
 *
 * How an iteration goes (pyloop_run_once), in every phase:
 *   1. wait: with callbacks ready, look at I/O without blocking (native skips
 *      the look while only quiet fds are watched); otherwise block for I/O
 *      or a wakeup (native), or look at I/O and then sleep/wait as the phase
 *      says (baseline..3.1.3). I/O callbacks run as the events are dispatched.
 *   2. timers whose deadline is due (within the clock resolution) are
 *      queued, in deadline order, ties in start order.
 *   3. callbacks run: native runs those queued before this step (later ones
 *      wait for the next iteration, as asyncio does); the 3.1.x builds drain
 *      the locked channel, at most PYLOOP_BATCH_LIMIT of them when set.
 * The wait does not block when callbacks are ready or stop was requested.
 *
 * Errors are negative errno values. Nothing here aborts on bad input.
 */
#ifndef PYLOOP_LOOP_H
#define PYLOOP_LOOP_H

#include <stdint.h>

#include "queue.h"
#include "timers.h"

typedef struct pyloop_loop pyloop_loop;

/* ---- build description (what this library was compiled as) ---- */
typedef struct pyloop_build {
    const char *phase;          /* "baseline", "3.1.1", "3.1.2", "3.1.3", "native" */
    unsigned batch_limit;       /* 0: no limit */
    const char *wait_strategy;  /* "sleep", "adaptive", "condvar", "epoll", "poll" */
    const char *call_soon_path; /* "locked-channel" or "ring" */
    const char *version;
} pyloop_build;
const pyloop_build *pyloop_build_info(void);

/* ---- lifecycle ---- */
pyloop_loop *pyloop_loop_new(void); /* NULL with errno set on failure */
/* Releases what the loop holds of the system (the poller and wakeup fds) and
 * the storage of its queues. Callbacks and timers still queued are dropped
 * unvisited (pyloop_clear_pending first if their arguments own resources);
 * fd watchers are forgotten. Afterwards running and watching return -EBADF,
 * scheduling -EBADF, and everything else is harmless. Idempotent; not while
 * running (-EBUSY). Another thread may still be inside pyloop_throttle. */
int pyloop_loop_close(pyloop_loop *loop);
int pyloop_loop_closed(const pyloop_loop *loop);
/* Frees the loop (closing it first). No other thread may use it any more. */
void pyloop_loop_free(pyloop_loop *loop);

/* ---- callbacks ---- */
int pyloop_call_soon(pyloop_loop *loop, pyloop_callback fn, void *arg);
int pyloop_call_soon_threadsafe(pyloop_loop *loop, pyloop_callback fn, void *arg);
/* Back-pressure. A thread other than the loop's that keeps calling
 * pyloop_call_soon_threadsafe faster than the loop runs the callbacks would
 * queue without bound (and each iteration would grow with the queue). After
 * each call a producer asks pyloop_throttle_needed (a few loads): true when
 * more than PYLOOP_THROTTLE_HIGH callbacks wait and the caller is not the
 * running loop's thread. Then it calls pyloop_throttle with every lock of its
 * own released (the binding releases the GIL). While the loop runs, that
 * returns once the loop has taken the inbox down to PYLOOP_THROTTLE_LOW, or
 * stopped, or has taken nothing for PYLOOP_THROTTLE_STALL_NS (a callback
 * blocked, perhaps on this very producer). While the loop does not run, or
 * after such a stall until it takes from the inbox again, it returns at once:
 * a loop that is not draining costs producers only the release of their
 * host lock per call (what asyncio's system call per call costs them), never
 * a deadlock and never a time slice. The callback itself was queued before:
 * nothing is lost or reordered. */
#define PYLOOP_THROTTLE_HIGH 4096
#define PYLOOP_THROTTLE_LOW 1024
#define PYLOOP_THROTTLE_STALL_NS INT64_C(100000000)
int pyloop_throttle_needed(pyloop_loop *loop);
void pyloop_throttle(pyloop_loop *loop);
/* Visits every queued callback not yet run (ready queue and inbox) and every
 * started timer. Stops early and returns the visitor's value when non-zero. */
typedef int (*pyloop_visit)(pyloop_callback fn, void *arg, void *context);
int pyloop_foreach_pending(pyloop_loop *loop, pyloop_visit visit, void *context);
/* Removes every queued callback and started timer, calling visit once for
 * each first (its return value is ignored), so a host can release what the
 * arguments own. For closing a loop without running what is left. */
void pyloop_clear_pending(pyloop_loop *loop, pyloop_visit visit, void *context);

/* ---- timers ---- */
typedef struct pyloop_timer {
    pyloop_heap_node node; /* first member: the heap orders timers by it */
    pyloop_callback fn;
    void *arg;
} pyloop_timer;

void pyloop_timer_init(pyloop_timer *timer, pyloop_callback fn, void *arg);
/* Starts (or restarts) the timer at absolute time `when` on pyloop_time's
 * clock. -EINVAL for NaN; -ENOMEM when the heap cannot grow. */
int pyloop_timer_start(pyloop_loop *loop, pyloop_timer *timer, double when);
static inline int pyloop_timer_started(const pyloop_timer *timer) { return pyloop_heap_node_queued(&timer->node); }
/* When a timer comes due the loop takes it out of the heap and queues
 * (fn, arg) as an ordinary callback behind those already ready; from then on
 * the loop holds no pointer to the timer, which may be freed or restarted.
 * Cancels a started timer: 0, or -ENOENT when it is not started (never was,
 * already cancelled, or already due). Never frees the timer. */
int pyloop_timer_cancel(pyloop_loop *loop, pyloop_timer *timer);
/* The earliest deadline among started timers, or -1 when none. */
double pyloop_next_deadline(pyloop_loop *loop);
size_t pyloop_timer_count(pyloop_loop *loop);

/* ---- fd watchers ----
 * One reader and one writer per fd. Setting again replaces the callback.
 * Errors: -EINVAL negative fd, -EBADF closed/invalid fd, -EPERM fd kind the
 * poller cannot watch (regular files), -ENOMEM. Clearing returns -ENOENT when
 * nothing was registered. */
enum { PYLOOP_READABLE = 1, PYLOOP_WRITABLE = 2 };
typedef void (*pyloop_io_callback)(pyloop_loop *loop, int fd, int events, void *arg);
int pyloop_fd_set_reader(pyloop_loop *loop, int fd, pyloop_io_callback fn, void *arg);
int pyloop_fd_set_writer(pyloop_loop *loop, int fd, pyloop_io_callback fn, void *arg);
int pyloop_fd_clear_reader(pyloop_loop *loop, int fd);
int pyloop_fd_clear_writer(pyloop_loop *loop, int fd);
/* Which of PYLOOP_READABLE/PYLOOP_WRITABLE are registered for fd (0: none),
 * and the registered argument for each (NULL when none). */
int pyloop_fd_events(pyloop_loop *loop, int fd, void **reader_arg, void **writer_arg);
/* The callbacks registered for fd (NULL when none): a host that shares the
 * fd table between layers tells its watchers apart by them. */
void pyloop_fd_callbacks(pyloop_loop *loop, int fd, pyloop_io_callback *reader, pyloop_io_callback *writer);
/* Forgets every watcher on fd without touching the kernel (the fd is already
 * closed). Returns -ENOENT when nothing was registered. */
int pyloop_fd_forget(pyloop_loop *loop, int fd);
/* A quiet fd's readiness only matters to a loop about to block (a self-pipe
 * that carries signal wakeups written while the loop waits): a busy native
 * iteration does not look at I/O for quiet fds alone. Without quiet fds it
 * looks whenever any fd is watched, as asyncio's select(0) does. The mark
 * goes with the fd's last watcher. -ENOENT when fd is not watched. */
int pyloop_fd_set_quiet(pyloop_loop *loop, int fd, int quiet);
/* Calls visit(fd, events, reader_arg, writer_arg, context) for each watched fd. */
typedef int (*pyloop_fd_visit)(int fd, int events, void *reader_arg, void *writer_arg, void *context);
int pyloop_foreach_fd(pyloop_loop *loop, pyloop_fd_visit visit, void *context);

/* ---- running ---- */
/* Runs iterations until pyloop_stop. Returns 0, or a negative errno when the
 * wait failed (the loop stays usable). stop() before run() makes run() do one
 * iteration and return, as asyncio's run_forever does. Both refuse with
 * -EBUSY while the loop runs or an iteration is under way (a callback that
 * calls them), and with -EBADF once closed. */
int pyloop_run(pyloop_loop *loop);
int pyloop_run_once(pyloop_loop *loop);
/* Any thread. The current iteration finishes, then pyloop_run returns. */
void pyloop_stop(pyloop_loop *loop);
/* Loop thread only (from a callback or a hook): end the iteration right after
 * the running callback. Callbacks not yet run stay queued, in order, and
 * pyloop_run/pyloop_run_once return -ECANCELED. For a host whose callback
 * raised an exception that must leave the loop at once (KeyboardInterrupt). */
void pyloop_interrupt(pyloop_loop *loop);
/* 1 while pyloop_run, or an iteration of pyloop_run_once, is under way. */
int pyloop_is_running(pyloop_loop *loop);
int pyloop_stopping(pyloop_loop *loop);

/* ---- clock ---- */
/* CLOCK_MONOTONIC, whatever clock the loop's timers follow. */
double pyloop_time(const pyloop_loop *loop);
double pyloop_clock_resolution(const pyloop_loop *loop);
/* The clock the loop's timers follow (which are due, how long a wait may
 * block), read as asyncio's _run_once reads self.time(): once for the
 * wait's timeout when it would block with timers pending, and once per
 * iteration for the due timers. NULL (the default) is pyloop_time, at no
 * cost. A host whose clock can be replaced (an instance's `time`) installs
 * one; a NaN from it (the host's clock failed and the host ends the run)
 * makes no timer due and the wait not block. Loop thread only. */
typedef double (*pyloop_clock)(pyloop_loop *loop, void *context);
void pyloop_set_clock(pyloop_loop *loop, pyloop_clock now, void *context);

/* ---- host hooks ---- */
typedef void (*pyloop_hook)(pyloop_loop *loop, void *context);
void pyloop_set_wait_hooks(pyloop_loop *loop, pyloop_hook before_wait, pyloop_hook after_wait, void *context);

/* ---- statistics ---- */
typedef struct pyloop_stats {
    uint64_t iterations;
    uint64_t callbacks_run;
    uint64_t timers_fired;
    uint64_t blocking_waits;   /* waits or sleeps with a non-zero timeout */
    uint64_t wakeups_written;  /* eventfd writes / condvar signals */
    uint64_t wakeups_consumed; /* eventfd reads / condvar waits ended by the flag */
    uint64_t io_events;        /* fd callbacks dispatched */
    uint64_t throttled;        /* producer waits in pyloop_throttle */
    size_t ready_capacity;     /* task slots allocated: ready ring, */
    size_t inbox_capacity;     /* ...inbox, */
    size_t timers_capacity;    /* ...timer heap */
} pyloop_stats;
void pyloop_get_stats(pyloop_loop *loop, pyloop_stats *stats);

#endif

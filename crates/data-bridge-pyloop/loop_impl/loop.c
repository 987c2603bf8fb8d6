/*
 * The loop: callbacks, timers, fd watchers and the iteration. How the loop
 * waits lives in wait_*.c; how fds are watched lives in poller_*.c.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "loop_internal.h"
#include "poller.h"
#include "wait.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "unknown"
#endif

/* ------------------------------------------------------------------ */
/* build description                                                   */
/* ------------------------------------------------------------------ */

const pyloop_build *pyloop_build_info(void)
{
    static const pyloop_build info = {
        .phase = PYLOOP_PHASE_NAME,
        .batch_limit = PYLOOP_BATCH_LIMIT,
        /* The poller strategy blocks in whichever poller this system has. */
        .wait_strategy = PYLOOP_WAIT_BLOCKS_IN_POLLER ? pyloop_poller_name : pyloop_wait_name,
        .call_soon_path = PYLOOP_LOCKED_CHANNEL ? "locked-channel" : "ring",
        .version = PACKAGE_VERSION,
    };
    return &info;
}

/* ------------------------------------------------------------------ */
/* lifecycle                                                           */
/* ------------------------------------------------------------------ */

static atomic_uint fork_generation;
static pthread_once_t fork_watch_once = PTHREAD_ONCE_INIT;

/* Runs in the child of every fork(): async-signal-safe (one atomic add). */
static void count_fork(void)
{
    atomic_fetch_add_explicit(&fork_generation, 1, memory_order_relaxed);
}

static void watch_forks(void)
{
    (void)pthread_atfork(NULL, NULL, count_fork);
}

unsigned pyloop__fork_generation(void)
{
    return atomic_load_explicit(&fork_generation, memory_order_relaxed);
}

pyloop_loop *pyloop_loop_new(void)
{
    pyloop_loop *loop = calloc(1, sizeof(*loop));
    int rc;

    if (!loop)
        return NULL;
    /* Before the poller exists, so that no fork can go uncounted for it. */
    pthread_once(&fork_watch_once, watch_forks);
    pyloop_ring_init(&loop->ready);
    pyloop_timer_heap_init(&loop->timers);
    atomic_init(&loop->polling, 0);
    atomic_init(&loop->wake_pending, 0);
    atomic_init(&loop->stopping, 0);
    atomic_init(&loop->stop_mark, 0);
    atomic_init(&loop->running, 0);
    atomic_init(&loop->throttle_off_until, 0);
    atomic_init(&loop->wakeups_written, 0);
    atomic_init(&loop->throttled, 0);

    rc = pyloop_inbox_init(&loop->inbox);
    if (rc < 0)
        goto fail_inbox;
    rc = pyloop__poller_init(loop);
    if (rc < 0)
        goto fail_poller;
    rc = pyloop__wait_init(loop);
    if (rc < 0)
        goto fail_wait;
    return loop;

fail_wait:
    pyloop__poller_free(loop);
fail_poller:
    pyloop_inbox_destroy(&loop->inbox);
fail_inbox:
    free(loop);
    errno = -rc;
    return NULL;
}

int pyloop_loop_close(pyloop_loop *loop)
{
    if (pyloop_is_running(loop))
        return -EBUSY;
    if (loop->closed)
        return 0;
    loop->closed = 1;
    pyloop__wait_free(loop);
    pyloop__poller_free(loop);
    /* The inbox's lock and condition stay for pyloop_throttle callers. */
    pthread_mutex_lock(&loop->inbox.lock);
    pyloop_ring_destroy(&loop->inbox.ring);
    atomic_store(&loop->inbox.size, 0);
    pthread_mutex_unlock(&loop->inbox.lock);
    pyloop_ring_destroy(&loop->ready);
    pyloop_timer_heap_destroy(&loop->timers);
    free(loop->fds);
    loop->fds = NULL;
    loop->fds_capacity = loop->fds_watched = loop->fds_quiet = 0;
    return 0;
}

int pyloop_loop_closed(const pyloop_loop *loop)
{
    return loop->closed;
}

void pyloop_loop_free(pyloop_loop *loop)
{
    if (!loop)
        return;
    pyloop_loop_close(loop);
    pyloop_inbox_destroy(&loop->inbox);
    free(loop);
}

/* ------------------------------------------------------------------ */
/* callbacks                                                           */
/* ------------------------------------------------------------------ */

/* Wakes a loop that is (about to be) asleep. The native build writes the
 * eventfd only when the loop announced it is polling and no wakeup is already
 * pending; the 3.1.x builds notify on every call, as the original did. */
static void wake_loop(pyloop_loop *loop)
{
    if (loop->closed)
        return;
#if PYLOOP_LOCKED_CHANNEL
    pyloop__wait_wake(loop);
#else
    if (atomic_load(&loop->polling) && !atomic_exchange(&loop->wake_pending, 1))
        pyloop__wait_wake(loop);
#endif
}

int pyloop_call_soon(pyloop_loop *loop, pyloop_callback fn, void *arg)
{
    if (!fn)
        return -EINVAL;
    if (loop->closed)
        return -EBADF;
#if PYLOOP_LOCKED_CHANNEL
    int rc = pyloop_inbox_push(&loop->inbox, fn, arg);
    if (rc == 0)
        pyloop__wait_wake(loop);
    return rc;
#else
    /* Threadsafe calls already made (as this thread sees them) go first, so
     * the two paths keep one FIFO order, as asyncio's single deque does. */
    if (atomic_load_explicit(&loop->inbox.size, memory_order_relaxed)) {
        long moved = pyloop_inbox_drain_into(&loop->inbox, &loop->ready);
        if (moved < 0)
            return (int)moved;
    }
    return pyloop_ring_push(&loop->ready, fn, arg);
#endif
}

int pyloop_call_soon_threadsafe(pyloop_loop *loop, pyloop_callback fn, void *arg)
{
    int rc;

    if (!fn)
        return -EINVAL;
    if (loop->closed)
        return -EBADF;
    rc = pyloop_inbox_push(&loop->inbox, fn, arg);
    if (rc == 0)
        wake_loop(loop);
    return rc;
}

int pyloop_throttle_needed(pyloop_loop *loop)
{
    if (pyloop_inbox_count(&loop->inbox) <= PYLOOP_THROTTLE_HIGH)
        return 0;
    /* The loop's own thread drains the inbox: it never waits for itself. */
    return !(atomic_load(&loop->running) && pthread_equal(pthread_self(), atomic_load(&loop->running_thread)));
}

void pyloop_throttle(pyloop_loop *loop)
{
    uint_fast64_t off_until = atomic_load(&loop->throttle_off_until);

    atomic_fetch_add_explicit(&loop->throttled, 1, memory_order_relaxed);
    if (atomic_load(&loop->running) && (!off_until || atomic_load(&loop->inbox.takes) + 1 != off_until)) {
        if (pyloop_inbox_wait_below(&loop->inbox, PYLOOP_THROTTLE_LOW, PYLOOP_THROTTLE_STALL_NS) == -ETIMEDOUT)
            atomic_store(&loop->throttle_off_until, atomic_load(&loop->inbox.takes) + 1);
        return;
    }
    /* Nobody drains the inbox now (the loop is not running, or stuck):
     * waiting would not help, and yielding the CPU would cost a producer a
     * time slice per call on a busy machine. Return: the caller has released
     * its host lock for this call (the GIL, which another thread waiting for
     * it takes now), as asyncio's producers do in the system call each of
     * their calls makes. */
}

int pyloop_foreach_pending(pyloop_loop *loop, pyloop_visit visit, void *context)
{
    size_t i;
    int rc = 0;

    for (i = 0; i < pyloop_ring_count(&loop->ready) && !rc; i++) {
        pyloop_task *task = pyloop_ring_at(&loop->ready, i);
        rc = visit(task->fn, task->arg, context);
    }
    pthread_mutex_lock(&loop->inbox.lock);
    for (i = 0; i < pyloop_ring_count(&loop->inbox.ring) && !rc; i++) {
        pyloop_task *task = pyloop_ring_at(&loop->inbox.ring, i);
        rc = visit(task->fn, task->arg, context);
    }
    pthread_mutex_unlock(&loop->inbox.lock);
    for (i = 0; i < loop->timers.count && !rc; i++) {
        pyloop_timer *timer = (pyloop_timer *)pyloop_timer_heap_at(&loop->timers, i);
        rc = visit(timer->fn, timer->arg, context);
    }
    return rc;
}

void pyloop_clear_pending(pyloop_loop *loop, pyloop_visit visit, void *context)
{
    pyloop_task task;
    pyloop_heap_node *node;

    /* Pop before visiting: a visitor may free what the task points to, or
     * queue more work (which is then cleared as well). */
    while (pyloop_ring_pop(&loop->ready, &task))
        visit(task.fn, task.arg, context);
    while (pyloop_inbox_pop(&loop->inbox, &task))
        visit(task.fn, task.arg, context);
    while ((node = pyloop_timer_heap_pop(&loop->timers))) {
        pyloop_timer *timer = (pyloop_timer *)node;
        visit(timer->fn, timer->arg, context);
    }
}

/* ------------------------------------------------------------------ */
/* timers                                                              */
/* ------------------------------------------------------------------ */

void pyloop_timer_init(pyloop_timer *timer, pyloop_callback fn, void *arg)
{
    pyloop_heap_node_init(&timer->node, 0.0);
    timer->fn = fn;
    timer->arg = arg;
}

int pyloop_timer_start(pyloop_loop *loop, pyloop_timer *timer, double when)
{
    if (isnan(when) || !timer->fn)
        return -EINVAL;
    if (loop->closed)
        return -EBADF;
    if (pyloop_heap_node_queued(&timer->node))
        pyloop_timer_heap_remove(&loop->timers, &timer->node);
    timer->node.when = when;
    return pyloop_timer_heap_push(&loop->timers, &timer->node);
}

int pyloop_timer_cancel(pyloop_loop *loop, pyloop_timer *timer)
{
    return pyloop_timer_heap_remove(&loop->timers, &timer->node);
}

double pyloop_next_deadline(pyloop_loop *loop)
{
    pyloop_heap_node *first = pyloop_timer_heap_peek(&loop->timers);
    return first ? first->when : -1.0;
}

size_t pyloop_timer_count(pyloop_loop *loop)
{
    return pyloop_timer_heap_count(&loop->timers);
}

/* The clock the timers follow (pyloop_set_clock). */
static inline double loop_now(pyloop_loop *loop)
{
    return loop->clock ? loop->clock(loop, loop->clock_context) : pyloop_time(loop);
}

/* Queues every timer due by now (within the clock's resolution, as asyncio
 * does) behind the callbacks already ready, earliest first. A host's clock
 * is read even with no timer, as asyncio reads self.time() every iteration. */
static int queue_due_timers(pyloop_loop *loop)
{
    pyloop_heap_node *first = pyloop_timer_heap_peek(&loop->timers);
    double end;

    if (!first && !loop->clock)
        return 0;
    end = loop_now(loop) + pyloop_clock_resolution(loop);
    while ((first = pyloop_timer_heap_peek(&loop->timers)) && first->when < end) {
        pyloop_timer *timer = (pyloop_timer *)first;
        int rc;
#if PYLOOP_LOCKED_CHANNEL
        rc = pyloop_inbox_push(&loop->inbox, timer->fn, timer->arg);
#else
        rc = pyloop_ring_push(&loop->ready, timer->fn, timer->arg);
#endif
        if (rc < 0)
            return rc; /* stays in the heap: fires on a later iteration */
        pyloop_timer_heap_pop(&loop->timers);
        loop->timers_fired++;
    }
    return 0;
}

/* Nanoseconds until the earliest timer: 0 when one is due, -1 with none. */
static int64_t timer_timeout(pyloop_loop *loop)
{
    pyloop_heap_node *first = pyloop_timer_heap_peek(&loop->timers);
    double delay;

    if (!first)
        return -1;
    delay = first->when - loop_now(loop);
    if (!(delay > 0))
        return 0; /* due, or a host clock that failed (NaN) */
    if (delay > 86400.0 * 365)
        return -1; /* far enough to be "no deadline"; the loop re-checks on wake */
    return (int64_t)ceil(delay * 1e9);
}

/* ------------------------------------------------------------------ */
/* fd watchers                                                         */
/* ------------------------------------------------------------------ */

static int reserve_fd_slot(pyloop_loop *loop, int fd)
{
    int capacity = loop->fds_capacity ? loop->fds_capacity : 64;
    pyloop_fd_slot *slots;

    if (fd < loop->fds_capacity)
        return 0;
    while (capacity <= fd) {
        if (capacity > INT_MAX / 2)
            return -ENOMEM;
        capacity *= 2;
    }
    slots = realloc(loop->fds, (size_t)capacity * sizeof(*slots));
    if (!slots)
        return -ENOMEM;
    memset(slots + loop->fds_capacity, 0, (size_t)(capacity - loop->fds_capacity) * sizeof(*slots));
    loop->fds = slots;
    loop->fds_capacity = capacity;
    return 0;
}

static int set_watcher(pyloop_loop *loop, int fd, int event, pyloop_io_callback fn, void *arg)
{
    pyloop_fd_slot *slot;
    int rc;

    if (fd < 0 || !fn)
        return -EINVAL;
    if (loop->closed)
        return -EBADF;
    if (fd >= loop->fds_capacity) {
        /* Ask the kernel first, so a bogus fd never grows the table. */
        rc = pyloop__poller_update(loop, fd, 0, event);
        if (rc < 0)
            return rc;
        rc = reserve_fd_slot(loop, fd);
        if (rc < 0) {
            pyloop__poller_update(loop, fd, event, 0);
            return rc;
        }
        loop->fds_watched++;
        loop->fds[fd].events = event;
    }
    slot = &loop->fds[fd];
    if (!(slot->events & event)) {
        rc = pyloop__poller_update(loop, fd, slot->events, slot->events | event);
        if (rc < 0)
            return rc;
        if (!slot->events)
            loop->fds_watched++;
        slot->events |= event;
    }
    if (event == PYLOOP_READABLE) {
        slot->reader = fn;
        slot->reader_arg = arg;
    } else {
        slot->writer = fn;
        slot->writer_arg = arg;
    }
    return 0;
}

/* The slot's last watcher is gone. */
static void forget_slot(pyloop_loop *loop, pyloop_fd_slot *slot)
{
    if (slot->quiet)
        loop->fds_quiet--;
    memset(slot, 0, sizeof(*slot));
    loop->fds_watched--;
}

static int clear_watcher(pyloop_loop *loop, int fd, int event)
{
    pyloop_fd_slot *slot;
    int rc;

    if (fd < 0)
        return -EINVAL;
    if (fd >= loop->fds_capacity || !(loop->fds[fd].events & event))
        return -ENOENT;
    slot = &loop->fds[fd];
    rc = pyloop__poller_update(loop, fd, slot->events, slot->events & ~event);
    /* The table follows the caller's wish even if the kernel object is gone. */
    slot->events &= ~event;
    if (event == PYLOOP_READABLE) {
        slot->reader = NULL;
        slot->reader_arg = NULL;
    } else {
        slot->writer = NULL;
        slot->writer_arg = NULL;
    }
    if (!slot->events)
        forget_slot(loop, slot);
    return rc;
}

int pyloop_fd_set_reader(pyloop_loop *loop, int fd, pyloop_io_callback fn, void *arg)
{
    return set_watcher(loop, fd, PYLOOP_READABLE, fn, arg);
}

int pyloop_fd_set_writer(pyloop_loop *loop, int fd, pyloop_io_callback fn, void *arg)
{
    return set_watcher(loop, fd, PYLOOP_WRITABLE, fn, arg);
}

int pyloop_fd_clear_reader(pyloop_loop *loop, int fd)
{
    return clear_watcher(loop, fd, PYLOOP_READABLE);
}

int pyloop_fd_clear_writer(pyloop_loop *loop, int fd)
{
    return clear_watcher(loop, fd, PYLOOP_WRITABLE);
}

int pyloop_fd_events(pyloop_loop *loop, int fd, void **reader_arg, void **writer_arg)
{
    const pyloop_fd_slot *slot = fd >= 0 && fd < loop->fds_capacity ? &loop->fds[fd] : NULL;

    if (reader_arg)
        *reader_arg = slot ? slot->reader_arg : NULL;
    if (writer_arg)
        *writer_arg = slot ? slot->writer_arg : NULL;
    return slot ? slot->events : 0;
}

void pyloop_fd_callbacks(pyloop_loop *loop, int fd, pyloop_io_callback *reader, pyloop_io_callback *writer)
{
    const pyloop_fd_slot *slot = fd >= 0 && fd < loop->fds_capacity ? &loop->fds[fd] : NULL;

    if (reader)
        *reader = slot ? slot->reader : NULL;
    if (writer)
        *writer = slot ? slot->writer : NULL;
}

int pyloop_fd_forget(pyloop_loop *loop, int fd)
{
    if (fd < 0 || fd >= loop->fds_capacity || !loop->fds[fd].events)
        return -ENOENT;
    pyloop__poller_forget(loop, fd);
    forget_slot(loop, &loop->fds[fd]);
    return 0;
}

int pyloop_fd_set_quiet(pyloop_loop *loop, int fd, int quiet)
{
    pyloop_fd_slot *slot;

    if (fd < 0 || fd >= loop->fds_capacity || !loop->fds[fd].events)
        return -ENOENT;
    slot = &loop->fds[fd];
    quiet = !!quiet;
    loop->fds_quiet += quiet - slot->quiet;
    slot->quiet = quiet;
    return 0;
}

int pyloop_foreach_fd(pyloop_loop *loop, pyloop_fd_visit visit, void *context)
{
    int fd, rc = 0;

    for (fd = 0; fd < loop->fds_capacity && !rc; fd++) {
        const pyloop_fd_slot *slot = &loop->fds[fd];
        if (slot->events)
            rc = visit(fd, slot->events, slot->reader_arg, slot->writer_arg, context);
    }
    return rc;
}

static void dispatch_io(pyloop_loop *loop, int fd, int events)
{
    if (fd < 0 || fd >= loop->fds_capacity)
        return;
    /* Re-read the slot before each call: a callback may remove the other
     * watcher or grow (move) the table. */
    if (events & loop->fds[fd].events & PYLOOP_READABLE) {
        loop->io_events++;
        loop->fds[fd].reader(loop, fd, PYLOOP_READABLE, loop->fds[fd].reader_arg);
    }
    if (fd < loop->fds_capacity && (events & loop->fds[fd].events & PYLOOP_WRITABLE)) {
        loop->io_events++;
        loop->fds[fd].writer(loop, fd, PYLOOP_WRITABLE, loop->fds[fd].writer_arg);
    }
}

/* ------------------------------------------------------------------ */
/* running                                                             */
/* ------------------------------------------------------------------ */

/* How many callbacks one iteration may run at most. */
static inline size_t batch_limit(void)
{
    return PYLOOP_BATCH_LIMIT ? (size_t)PYLOOP_BATCH_LIMIT : SIZE_MAX;
}

/* The host's hooks around a blocking wait (the binding releases the GIL). */
static inline void call_before_wait(pyloop_loop *loop)
{
    if (loop->before_wait)
        loop->before_wait(loop, loop->hook_context);
}

static inline void call_after_wait(pyloop_loop *loop)
{
    if (loop->after_wait)
        loop->after_wait(loop, loop->hook_context);
}

/* Looks at I/O, and with a non-zero timeout blocks as the phase's strategy
 * does when nothing is there; then dispatches what fired. The one place that
 * brackets a blocking wait with the hooks and counts it. A before-hook that
 * interrupts the loop (a signal handler raised) cancels the wait. */
static int wait_for_work(pyloop_loop *loop, int64_t timeout_ns)
{
    int fired = 0, i;

    if (timeout_ns == 0 || !PYLOOP_WAIT_BLOCKS_IN_POLLER)
        fired = pyloop__wait_block(loop, 0);
    if (timeout_ns != 0 && fired == 0) {
        loop->blocking_waits++;
        call_before_wait(loop);
        if (!loop->interrupted)
            fired = pyloop__wait_block(loop, timeout_ns);
        call_after_wait(loop);
    }
    for (i = 0; i < fired; i++)
        dispatch_io(loop, loop->fired[i].fd, loop->fired[i].events);
    return fired < 0 ? fired : 0;
}

/* Gives back what a burst left unused in the queues (see pyloop_ring_trim). */
static void trim_queues(pyloop_loop *loop)
{
    pyloop_ring_trim(&loop->ready);
    pyloop_timer_heap_trim(&loop->timers);
#if PYLOOP_LOCKED_CHANNEL
    pyloop_inbox_trim(&loop->inbox); /* native trims it as it drains it */
#endif
}

#if PYLOOP_LOCKED_CHANNEL

/* 3.1.x: everything goes through the locked channel; each callback is taken
 * out under the lock, and callbacks queued meanwhile are run in the same
 * iteration until the channel is empty or the batch limit is reached. */
static int run_iteration(pyloop_loop *loop)
{
    pyloop_task task;
    int64_t timeout;
    size_t ran = 0, remaining;
    int stop_requested = atomic_load_explicit(&loop->stopping, memory_order_relaxed);
    int rc;

    if (stop_requested || pyloop_inbox_count(&loop->inbox))
        timeout = 0;
    else
        timeout = timer_timeout(loop);
    rc = wait_for_work(loop, timeout);
    if (rc < 0)
        return rc;
    rc = queue_due_timers(loop);
    if (rc < 0)
        return rc;
    /* Draining until empty would never end under a callback that reschedules
     * itself, so a stop bounds the batch: stopped before the iteration, it
     * runs what is queued now; stopped by a callback, what was queued when
     * stop() was called. */
    remaining = stop_requested ? pyloop_inbox_count(&loop->inbox) : SIZE_MAX;
    while (remaining && ran < batch_limit() && !loop->interrupted && pyloop_inbox_pop(&loop->inbox, &task)) {
        task.fn(loop, task.arg);
        loop->callbacks_run++;
        ran++;
        remaining--;
        if (!stop_requested && atomic_load_explicit(&loop->stopping, memory_order_relaxed)) {
            stop_requested = 1;
            remaining = atomic_load(&loop->stop_mark);
        }
    }
    return 0;
}

#else

static int drain_inbox(pyloop_loop *loop)
{
    long moved = pyloop_inbox_drain_into(&loop->inbox, &loop->ready);
    return moved < 0 ? (int)moved : 0;
}

/* native: asyncio's _run_once. Each iteration sees the I/O readiness that
 * asyncio's select(0) would: with callbacks ready it looks without blocking
 * (unless only quiet fds are watched, whose readiness cannot be waiting for
 * a busy loop); otherwise it blocks until the next timer, I/O or a wakeup.
 * Only the callbacks ready once I/O and timers are collected run now; those
 * they schedule wait for the next iteration. */
static int run_iteration(pyloop_loop *loop)
{
    size_t todo;
    int rc;

    rc = drain_inbox(loop);
    if (rc < 0)
        return rc;
    if (pyloop_ring_count(&loop->ready)) {
        if (loop->fds_watched > loop->fds_quiet)
            rc = wait_for_work(loop, 0);
    } else {
        int64_t timeout;
        if (atomic_load_explicit(&loop->stopping, memory_order_relaxed))
            timeout = 0;
        else
            timeout = timer_timeout(loop);
        if (timeout != 0) {
            /* Announce the sleep, then look at the inbox once more: a producer
             * either sees `polling` and wakes us, or we see its task. */
            atomic_store(&loop->polling, 1);
            if (pyloop_inbox_count(&loop->inbox) || atomic_load(&loop->stopping))
                timeout = 0;
        }
        rc = wait_for_work(loop, timeout);
        atomic_store(&loop->polling, 0);
        atomic_store(&loop->wake_pending, 0);
    }
    if (rc < 0)
        return rc;
    rc = drain_inbox(loop);
    if (rc < 0)
        return rc;
    rc = queue_due_timers(loop);
    if (rc < 0)
        return rc;

    todo = pyloop_ring_count(&loop->ready);
    if (todo > batch_limit())
        todo = batch_limit();
    while (todo-- && !loop->interrupted) {
        pyloop_task task;
        /* A callback may have emptied the queue (a host closing the loop). */
        if (!pyloop_ring_pop(&loop->ready, &task))
            break;
        task.fn(loop, task.arg);
        loop->callbacks_run++;
    }
    return 0;
}

#endif

int pyloop_run_once(pyloop_loop *loop)
{
    int rc;

    if (loop->in_iteration)
        return -EBUSY;
    if (loop->closed)
        return -EBADF;
    loop->in_iteration = 1;
    loop->iterations++;
    rc = run_iteration(loop);
    trim_queues(loop);
    loop->in_iteration = 0;
    if (loop->interrupted) {
        loop->interrupted = 0;
        return -ECANCELED;
    }
    return rc;
}

int pyloop_run(pyloop_loop *loop)
{
    int rc = 0;

    if (pyloop_is_running(loop))
        return -EBUSY;
    if (loop->closed)
        return -EBADF;
    atomic_store(&loop->running_thread, pthread_self());
    atomic_store(&loop->running, 1);
    pyloop_inbox_set_consumer(&loop->inbox, 1);
    while (rc >= 0) {
        rc = pyloop_run_once(loop);
        if (atomic_exchange(&loop->stopping, 0))
            break;
    }
    pyloop_inbox_set_consumer(&loop->inbox, 0);
    atomic_store(&loop->running, 0);
    return rc < 0 ? rc : 0;
}

void pyloop_stop(pyloop_loop *loop)
{
#if PYLOOP_LOCKED_CHANNEL
    atomic_store(&loop->stop_mark, pyloop_inbox_count(&loop->inbox));
#endif
    atomic_store(&loop->stopping, 1);
    wake_loop(loop);
}

void pyloop_interrupt(pyloop_loop *loop)
{
    loop->interrupted = 1;
}

int pyloop_is_running(pyloop_loop *loop)
{
    return atomic_load(&loop->running) || loop->in_iteration;
}

int pyloop_stopping(pyloop_loop *loop)
{
    return atomic_load(&loop->stopping);
}

/* ------------------------------------------------------------------ */
/* clock, hooks, statistics                                            */
/* ------------------------------------------------------------------ */

double pyloop_time(const pyloop_loop *loop)
{
    struct timespec now;
    (void)loop;
    clock_gettime(CLOCK_MONOTONIC, &now);
    /* The same arithmetic as CPython's time.monotonic(), so both agree. */
    return (double)((int64_t)now.tv_sec * 1000000000 + now.tv_nsec) / 1e9;
}

double pyloop_clock_resolution(const pyloop_loop *loop)
{
    struct timespec resolution;
    (void)loop;
    if (clock_getres(CLOCK_MONOTONIC, &resolution) != 0)
        return 1e-9;
    return (double)resolution.tv_sec + (double)resolution.tv_nsec * 1e-9;
}

void pyloop_set_clock(pyloop_loop *loop, pyloop_clock now, void *context)
{
    loop->clock = now;
    loop->clock_context = context;
}

void pyloop_set_wait_hooks(pyloop_loop *loop, pyloop_hook before_wait, pyloop_hook after_wait, void *context)
{
    loop->before_wait = before_wait;
    loop->after_wait = after_wait;
    loop->hook_context = context;
}

void pyloop_get_stats(pyloop_loop *loop, pyloop_stats *stats)
{
    stats->iterations = loop->iterations;
    stats->callbacks_run = loop->callbacks_run;
    stats->timers_fired = loop->timers_fired;
    stats->blocking_waits = loop->blocking_waits;
    stats->wakeups_written = atomic_load(&loop->wakeups_written);
    stats->wakeups_consumed = loop->wakeups_consumed;
    stats->io_events = loop->io_events;
    stats->throttled = atomic_load(&loop->throttled);
    stats->ready_capacity = loop->ready.capacity;
    pthread_mutex_lock(&loop->inbox.lock);
    stats->inbox_capacity = loop->inbox.ring.capacity;
    pthread_mutex_unlock(&loop->inbox.lock);
    stats->timers_capacity = loop->timers.capacity;
}

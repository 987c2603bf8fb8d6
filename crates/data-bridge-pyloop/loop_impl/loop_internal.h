/*
 * The loop's private state, shared by loop.c, the poller and the wait
 * strategy. Nothing outside loop_impl/ includes this file.
 */
#ifndef PYLOOP_LOOP_INTERNAL_H
#define PYLOOP_LOOP_INTERNAL_H

#include <stdatomic.h>
#include <stdint.h>

#include "loop.h"
#include "phase.h"

/* One slot per watched fd, indexed by fd (as Redis' ae does). */
typedef struct pyloop_fd_slot {
    pyloop_io_callback reader;
    pyloop_io_callback writer;
    void *reader_arg;
    void *writer_arg;
    int events; /* PYLOOP_READABLE | PYLOOP_WRITABLE registered now */
} pyloop_fd_slot;

struct pyloop_poller;
struct pyloop_wait;

struct pyloop_loop {
    /* Ready callbacks. native: only the loop thread touches it. */
    pyloop_ring ready;
    /* Callbacks from other threads (native), or every callback (3.1.x). */
    pyloop_inbox inbox;
    pyloop_timer_heap timers;

    pyloop_fd_slot *fds;
    int fds_capacity;
    int fds_watched;
    struct pyloop_poller *poller;
    struct pyloop_wait *wait;

    /* 1 from just before the loop's last look at the inbox until it has
     * woken up: only then must another thread wake it (native). */
    atomic_int polling;
    /* 1 while a wakeup is written and not yet consumed (libuv's async
     * pending flag): a burst of threadsafe calls costs one write. */
    atomic_int wake_pending;
    atomic_int stopping;
    /* 3.1.x: how many callbacks were queued when stop() was called; the
     * batch runs those and no more (see run_iteration). */
    atomic_size_t stop_mark;
    int running;
    double last_io_poll; /* native: when the busy loop last looked at I/O */
    int interrupted; /* pyloop_interrupt: loop thread only */

    pyloop_hook before_wait;
    pyloop_hook after_wait;
    void *hook_context;

    /* Counters written by the loop thread only... */
    uint64_t iterations;
    uint64_t callbacks_run;
    uint64_t timers_fired;
    uint64_t blocking_waits;
    uint64_t io_events;
    uint64_t wakeups_consumed;
    /* ...and by any thread. */
    atomic_uint_fast64_t wakeups_written;
};

/* Host hooks around a blocking wait; the wait strategy calls these. */
static inline void pyloop__before_wait(pyloop_loop *loop)
{
    if (loop->before_wait)
        loop->before_wait(loop, loop->hook_context);
}

static inline void pyloop__after_wait(pyloop_loop *loop)
{
    if (loop->after_wait)
        loop->after_wait(loop, loop->hook_context);
}

/* Called by the poller for each harvested event (loop.c). */
void pyloop__dispatch_io(pyloop_loop *loop, int fd, int events);

#endif

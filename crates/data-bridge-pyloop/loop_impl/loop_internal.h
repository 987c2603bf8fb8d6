/*
 * The loop's private state, shared by loop.c, the poller and the wait
 * strategy. Nothing outside loop_impl/ includes this file. Functions that
 * only these files call are named pyloop__* (libuv's uv__ convention).
 */
#ifndef PYLOOP_LOOP_INTERNAL_H
#define PYLOOP_LOOP_INTERNAL_H

#include <pthread.h>
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
    int quiet;  /* see pyloop_fd_set_quiet */
} pyloop_fd_slot;

/* What one look at the poller found: an fd and PYLOOP_READABLE/WRITABLE. */
typedef struct pyloop_fired {
    int fd;
    int events;
} pyloop_fired;
#define PYLOOP_MAX_FIRED 1024

struct pyloop_poller;
struct pyloop_wait;

/* How many times this process is a fork() child of the process that
 * started counting (pthread_atfork, registered by the first loop). A poller
 * or wait strategy records it when it makes its kernel objects; a different
 * value means they are the parent's: the child must never change the
 * parent's epoll set, nor read or write its eventfd, so it replaces them
 * (pyloop__poller_update/wait/forget, pyloop__wait_block/wake). One relaxed
 * load: cheaper than getpid(), which is a system call. */
unsigned pyloop__fork_generation(void);

struct pyloop_loop {
    /* Ready callbacks. native: only the loop thread touches it. */
    pyloop_ring ready;
    /* Callbacks from other threads (native), or every callback (3.1.x). */
    pyloop_inbox inbox;
    pyloop_timer_heap timers;

    pyloop_fd_slot *fds;
    int fds_capacity;
    int fds_watched;
    int fds_quiet; /* watched slots marked quiet */
    struct pyloop_poller *poller;
    struct pyloop_wait *wait;
    pyloop_fired fired[PYLOOP_MAX_FIRED];

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
    atomic_int running;
    _Atomic(pthread_t) running_thread; /* valid while running */
    /* Back-pressure is off until the inbox is taken from again: a producer
     * found the loop stuck (pyloop_throttle). Holds inbox.takes + 1, 0: on. */
    atomic_uint_fast64_t throttle_off_until;
    int in_iteration; /* loop thread only: pyloop_run_once is on the stack */
    int interrupted;  /* pyloop_interrupt: loop thread only */
    int closed;       /* pyloop_loop_close: the OS resources are gone */

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
    atomic_uint_fast64_t throttled;

    pyloop_clock clock; /* pyloop_set_clock; NULL: pyloop_time */
    void *clock_context;
};

#endif

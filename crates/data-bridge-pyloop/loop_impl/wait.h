/*
 * The wait strategy: how the loop blocks when it has nothing to run. This is
 * the phase switch. wait.c compiles exactly one of wait_sleep.c,
 * wait_adaptive.c, wait_condvar.c, wait_poller.c, as PYLOOP_WAIT says, the
 * way Redis' ae.c picks one ae_*.c.
 *
 * A strategy only waits and collects. loop.c decides when to wait, brackets
 * every blocking wait with the host hooks and the counters, and dispatches
 * what fired.
 */
#ifndef PYLOOP_WAIT_H
#define PYLOOP_WAIT_H

#include <stdint.h>

#include "loop_internal.h"

extern const char pyloop_wait_name[];

/* 1 when the strategy blocks in the poller, so that I/O ends the wait (native);
 * 0 when it sleeps or waits on a condvar, so that loop.c looks at I/O before
 * it blocks, as the original did (3.1.x). */
#define PYLOOP_WAIT_BLOCKS_IN_POLLER (PYLOOP_WAIT == PYLOOP_WAIT_POLLER)

int pyloop__wait_init(pyloop_loop *loop);
void pyloop__wait_free(pyloop_loop *loop);
/* timeout_ns == 0: look at I/O without blocking. Otherwise block for up to
 * timeout_ns (< 0: no deadline) as the strategy does. Either way, I/O that
 * fired is recorded in loop->fired; returns how many entries, or -errno. */
int pyloop__wait_block(pyloop_loop *loop, int64_t timeout_ns);
/* Any thread: end (or prevent) the loop's current wait, if this strategy
 * can; counts wakeups_written. */
void pyloop__wait_wake(pyloop_loop *loop);

#endif

/*
 * The wait strategy: how the loop waits when it has nothing to run. This is
 * the phase switch. wait.c compiles exactly one of wait_sleep.c,
 * wait_adaptive.c, wait_condvar.c, wait_epoll.c, as PYLOOP_WAIT says, the way
 * Redis' ae.c picks one ae_*.c. Every strategy also harvests I/O events.
 */
#ifndef PYLOOP_WAIT_H
#define PYLOOP_WAIT_H

#include <stdint.h>

#include "loop_internal.h"

extern const char pyloop_wait_name[];

int pyloop_wait_init(pyloop_loop *loop);
void pyloop_wait_free(pyloop_loop *loop);
/* Waits up to timeout_ns for work (<0: no deadline, 0: do not block) and
 * dispatches I/O events. Calls the host hooks around any blocking part and
 * counts it in blocking_waits. Returns 0 or -errno. */
int pyloop_wait_block(pyloop_loop *loop, int64_t timeout_ns);
/* Any thread: end (or prevent) the loop's current wait, if this strategy
 * can; counts wakeups_written. */
void pyloop_wait_wake(pyloop_loop *loop);

#endif

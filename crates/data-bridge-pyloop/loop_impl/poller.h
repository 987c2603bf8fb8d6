/*
 * The I/O poller: the kernel side of fd watching. poller.c compiles exactly
 * one backend: poller_epoll.c where <sys/epoll.h> exists, poller_poll.c
 * elsewhere. Like Redis' aeApiPoll, a backend only collects: it records what
 * fired in loop->fired and loop.c dispatches it.
 */
#ifndef PYLOOP_POLLER_H
#define PYLOOP_POLLER_H

#include <stdint.h>

#include "loop_internal.h"

/* The name reported by pyloop_build_info ("epoll" or "poll"). */
extern const char pyloop_poller_name[];

int pyloop__poller_init(pyloop_loop *loop);
void pyloop__poller_free(pyloop_loop *loop);
/* Moves fd's kernel registration from old_events to new_events (either may
 * be 0). Returns 0 or -errno (-EBADF, -EPERM, -ENOMEM, ...). */
int pyloop__poller_update(pyloop_loop *loop, int fd, int old_events, int new_events);
/* Forgets fd without a syscall (already closed). */
void pyloop__poller_forget(pyloop_loop *loop, int fd);
/* The fd whose readability means "wake up" (the eventfd); -1 for none.
 * It is not recorded in loop->fired: `wakeup_readable` is set instead. */
int pyloop__poller_set_wakeup_fd(pyloop_loop *loop, int fd);
/* Waits up to timeout_ns (<0: forever, 0: just look) and records up to
 * PYLOOP_MAX_FIRED events in loop->fired. Returns how many, or -errno; an
 * interrupted wait (EINTR) returns 0. Never calls back into the loop. */
int pyloop__poller_wait(pyloop_loop *loop, int64_t timeout_ns, int *wakeup_readable);

#endif

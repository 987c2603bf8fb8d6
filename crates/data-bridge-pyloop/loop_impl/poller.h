/*
 * The I/O poller: the kernel side of fd watching. poller.c compiles exactly
 * one backend: poller_epoll.c where <sys/epoll.h> exists, poller_poll.c
 * elsewhere. The wait strategies call pyloop_poller_wait; loop.c calls
 * pyloop_poller_update when a watcher changes.
 */
#ifndef PYLOOP_POLLER_H
#define PYLOOP_POLLER_H

#include <stdint.h>

#include "loop_internal.h"

/* The name reported by pyloop_build_info ("epoll" or "poll"). */
extern const char pyloop_poller_name[];

int pyloop_poller_init(pyloop_loop *loop);
void pyloop_poller_free(pyloop_loop *loop);
/* Moves fd's kernel registration from old_events to new_events (either may
 * be 0). Returns 0 or -errno (-EBADF, -EPERM, -ENOMEM, ...). */
int pyloop_poller_update(pyloop_loop *loop, int fd, int old_events, int new_events);
/* Forgets fd without a syscall (already closed). */
void pyloop_poller_forget(pyloop_loop *loop, int fd);
/* The fd whose readability means "wake up" (the eventfd); -1 for none.
 * Its events are not dispatched: `wakeup_readable` is set instead. */
int pyloop_poller_set_wakeup_fd(pyloop_loop *loop, int fd);
/* Waits up to timeout_ns (<0: forever, 0: just look) and dispatches every
 * harvested event through pyloop__dispatch_io. Returns the number of user
 * events, or -errno; an interrupted wait (EINTR) returns 0. */
int pyloop_poller_wait(pyloop_loop *loop, int64_t timeout_ns, int *wakeup_readable);

#endif

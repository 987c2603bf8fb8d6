/* Compiles exactly one wait strategy: the phase switch (see phase.h). */
#include <errno.h>
#include <time.h>

#include "poller.h"
#include "wait.h"

#define ONE_MILLISECOND_NS INT64_C(1000000)

#if PYLOOP_WAIT != PYLOOP_WAIT_EPOLL

/* The 3.1.x strategies look at I/O once per iteration without blocking, as
 * the original did. Returns the number of I/O events (>0: do not sleep, the
 * callbacks they queued are work) or -errno. */
static inline int poll_io_now(pyloop_loop *loop)
{
    return pyloop_poller_wait(loop, 0, NULL);
}

/* Sleeps duration_ns with the host hooks around it. */
static inline void sleep_idle(pyloop_loop *loop, int64_t duration_ns)
{
    struct timespec duration = {.tv_sec = duration_ns / 1000000000, .tv_nsec = duration_ns % 1000000000};

    loop->blocking_waits++;
    pyloop__before_wait(loop);
    /* A signal cuts the sleep short, and the host's after-hook sees it. */
    nanosleep(&duration, NULL);
    pyloop__after_wait(loop);
}
#endif

#if PYLOOP_WAIT == PYLOOP_WAIT_SLEEP
#include "wait_sleep.c"
#elif PYLOOP_WAIT == PYLOOP_WAIT_ADAPTIVE
#include "wait_adaptive.c"
#elif PYLOOP_WAIT == PYLOOP_WAIT_CONDVAR
#include "wait_condvar.c"
#elif PYLOOP_WAIT == PYLOOP_WAIT_EPOLL
#include "wait_epoll.c"
#else
#error "unknown PYLOOP_WAIT"
#endif

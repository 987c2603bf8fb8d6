/* Compiles exactly one wait strategy: the phase switch (see phase.h). */
#include <errno.h>
#include <time.h>

#include "poller.h"
#include "wait.h"

#define ONE_MILLISECOND_NS INT64_C(1000000)

#if !PYLOOP_WAIT_BLOCKS_IN_POLLER

/* The 3.1.x strategies look at I/O without blocking, as the original did, and
 * only ever sleep; loop.c looks first and sleeps only when nothing fired. */
static inline int look_at_io(pyloop_loop *loop)
{
    return pyloop__poller_wait(loop, 0, NULL);
}

/* A signal cuts the sleep short; loop.c's after-hook sees it. */
static inline void sleep_for(int64_t duration_ns)
{
    struct timespec duration = {.tv_sec = duration_ns / 1000000000, .tv_nsec = duration_ns % 1000000000};
    nanosleep(&duration, NULL);
}
#endif

#if PYLOOP_WAIT == PYLOOP_WAIT_SLEEP
#include "wait_sleep.c"
#elif PYLOOP_WAIT == PYLOOP_WAIT_ADAPTIVE
#include "wait_adaptive.c"
#elif PYLOOP_WAIT == PYLOOP_WAIT_CONDVAR
#include "wait_condvar.c"
#elif PYLOOP_WAIT == PYLOOP_WAIT_POLLER
#include "wait_poller.c"
#else
#error "unknown PYLOOP_WAIT"
#endif

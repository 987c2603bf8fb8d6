/*
 * 3.1.3: the idle wait is a timed wait on a condition variable, with the
 * adaptive timeout (min(next timer, 1 ms)). wake() locks, sets the flag and
 * signals; in the 3.1.x builds every call_soon does that, as the original's
 * did, which is what makes its wakeup fast and each call_soon dearer.
 */
#include <pthread.h>
#include <stdlib.h>

const char pyloop_wait_name[] = "condvar";

struct pyloop_wait {
    pthread_mutex_t lock;
    pthread_cond_t signal;
    int woken; /* the flag: set by wake(), cleared by the waiter */
};

int pyloop__wait_init(pyloop_loop *loop)
{
    struct pyloop_wait *wait = calloc(1, sizeof(*wait));
    pthread_condattr_t attributes;
    int rc;

    if (!wait)
        return -ENOMEM;
    rc = pthread_mutex_init(&wait->lock, NULL);
    if (rc) {
        free(wait);
        return -rc;
    }
    pthread_condattr_init(&attributes);
    /* Deadlines on the loop's own clock, immune to wall-clock jumps. */
    pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC);
    rc = pthread_cond_init(&wait->signal, &attributes);
    pthread_condattr_destroy(&attributes);
    if (rc) {
        pthread_mutex_destroy(&wait->lock);
        free(wait);
        return -rc;
    }
    loop->wait = wait;
    return 0;
}

void pyloop__wait_free(pyloop_loop *loop)
{
    struct pyloop_wait *wait = loop->wait;

    if (!wait)
        return;
    pthread_cond_destroy(&wait->signal);
    pthread_mutex_destroy(&wait->lock);
    free(wait);
    loop->wait = NULL;
}

int pyloop__wait_block(pyloop_loop *loop, int64_t timeout_ns)
{
    struct pyloop_wait *wait = loop->wait;
    struct timespec deadline;
    int64_t duration_ns;

    if (timeout_ns == 0)
        return look_at_io(loop);
    duration_ns = timeout_ns < 0 || timeout_ns > ONE_MILLISECOND_NS ? ONE_MILLISECOND_NS : timeout_ns;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_nsec += (long)duration_ns;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec += 1;
        deadline.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&wait->lock);
    while (!wait->woken && pthread_cond_timedwait(&wait->signal, &wait->lock, &deadline) == 0)
        ;
    if (wait->woken) {
        wait->woken = 0;
        loop->wakeups_consumed++;
    }
    pthread_mutex_unlock(&wait->lock);
    return 0;
}

void pyloop__wait_wake(pyloop_loop *loop)
{
    struct pyloop_wait *wait = loop->wait;

    pthread_mutex_lock(&wait->lock);
    wait->woken = 1;
    pthread_cond_signal(&wait->signal);
    pthread_mutex_unlock(&wait->lock);
    atomic_fetch_add_explicit(&loop->wakeups_written, 1, memory_order_relaxed);
}

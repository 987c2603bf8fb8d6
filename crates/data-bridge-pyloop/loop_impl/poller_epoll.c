/*
 * epoll backend. Level triggered, like selectors.EpollSelector, so a callback
 * that reads only part of what is there is called again next iteration.
 * Included by poller.c only.
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

const char pyloop_poller_name[] = "epoll";

struct pyloop_poller {
    int epoll_fd;
    int wakeup_fd;
    int have_pwait2;     /* cleared when the kernel says ENOSYS */
    unsigned generation; /* pyloop__fork_generation() when epoll_fd was made */
    struct epoll_event events[PYLOOP_MAX_FIRED];
};

/* epoll_fd is the parent's: this process is a fork() child since it was
 * made. The child shares the parent's epoll instance, so one epoll_ctl here
 * (a loop.close() deregistering every stream, a finalizer) would change
 * what the parent watches: the parent would stop serving. */
static int inherited(const struct pyloop_poller *poller)
{
    return poller->generation != pyloop__fork_generation();
}

int pyloop__poller_init(pyloop_loop *loop)
{
    struct pyloop_poller *poller = calloc(1, sizeof(*poller));

    if (!poller)
        return -ENOMEM;
    poller->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    if (poller->epoll_fd < 0) {
        int error = errno;
        free(poller);
        return -error;
    }
    poller->wakeup_fd = -1;
    poller->have_pwait2 = 1;
    poller->generation = pyloop__fork_generation();
    loop->poller = poller;
    return 0;
}

void pyloop__poller_free(pyloop_loop *loop)
{
    if (!loop->poller)
        return;
    close(loop->poller->epoll_fd);
    free(loop->poller);
    loop->poller = NULL;
}

static uint32_t to_epoll(int events)
{
    return (events & PYLOOP_READABLE ? EPOLLIN : 0u) | (events & PYLOOP_WRITABLE ? EPOLLOUT : 0u);
}

/* In a fork() child, before the first change or wait: leave the parent's
 * epoll instance alone (closing our descriptor of it is harmless) and
 * watch the table's fds in one of our own, as libuv's uv_loop_fork does.
 * The wakeup fd is the parent's too: the wait strategy sets a new one. */
static int adopt_after_fork(pyloop_loop *loop)
{
    struct pyloop_poller *poller = loop->poller;
    int epoll_fd, fd;

    if (!inherited(poller))
        return 0;
    epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    if (epoll_fd < 0)
        return -errno;
    close(poller->epoll_fd);
    poller->epoll_fd = epoll_fd;
    poller->wakeup_fd = -1;
    poller->generation = pyloop__fork_generation();
    for (fd = 0; fd < loop->fds_capacity; fd++) {
        struct epoll_event event = {.events = to_epoll(loop->fds[fd].events), .data.fd = fd};
        if (!loop->fds[fd].events)
            continue;
        /* An fd closed meanwhile stays in the table until its owner clears
         * it, as in the parent; nothing to watch. */
        (void)epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &event);
    }
    return 0;
}

int pyloop__poller_update(pyloop_loop *loop, int fd, int old_events, int new_events)
{
    struct epoll_event event = {.events = to_epoll(new_events), .data.fd = fd};
    int epoll_fd, rc;

    if (!new_events) {
        /* A fork child's table forgets; the parent's set keeps it. */
        if (inherited(loop->poller))
            return 0;
        /* A closed fd has already left the epoll set; that is not an error. */
        if (epoll_ctl(loop->poller->epoll_fd, EPOLL_CTL_DEL, fd, &event) < 0 && errno != EBADF && errno != ENOENT)
            return -errno;
        return 0;
    }
    rc = adopt_after_fork(loop);
    if (rc < 0)
        return rc;
    epoll_fd = loop->poller->epoll_fd;
    if (old_events) {
        /* ENOENT: the kernel dropped the registration because the fd was
         * closed behind our back, and the number may belong to a stranger
         * by now. Never register the stranger in its place (uvloop #645,
         * #738): the watcher belongs to the closed fd; its owner gets the
         * error, as selectors' modify() raises it. */
        if (epoll_ctl(epoll_fd, EPOLL_CTL_MOD, fd, &event) == 0)
            return 0;
        return -errno;
    }
    if (epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &event) == 0)
        return 0;
    if (errno == EEXIST && epoll_ctl(epoll_fd, EPOLL_CTL_MOD, fd, &event) == 0)
        return 0;
    return -errno;
}

void pyloop__poller_forget(pyloop_loop *loop, int fd)
{
    struct epoll_event event = {0};
    if (inherited(loop->poller))
        return;
    /* Harmless if the fd is closed already; needed if it was dup'ed. */
    (void)epoll_ctl(loop->poller->epoll_fd, EPOLL_CTL_DEL, fd, &event);
}

int pyloop__poller_set_wakeup_fd(pyloop_loop *loop, int fd)
{
    struct epoll_event event = {.events = EPOLLIN, .data.fd = fd};
    int rc = adopt_after_fork(loop);

    if (rc < 0)
        return rc;
    if (epoll_ctl(loop->poller->epoll_fd, EPOLL_CTL_ADD, fd, &event) < 0)
        return -errno;
    loop->poller->wakeup_fd = fd;
    return 0;
}

static int poller_epoll_wait(struct pyloop_poller *poller, int64_t timeout_ns)
{
#ifdef HAVE_EPOLL_PWAIT2
    if (poller->have_pwait2 && timeout_ns > 0) {
        struct timespec timeout = {.tv_sec = timeout_ns / 1000000000, .tv_nsec = timeout_ns % 1000000000};
        int count = epoll_pwait2(poller->epoll_fd, poller->events, PYLOOP_MAX_FIRED, &timeout, NULL);
        if (count >= 0 || errno != ENOSYS)
            return count;
        poller->have_pwait2 = 0;
    }
#endif
    /* Milliseconds, rounded up so that timers never fire early. */
    int timeout_ms = timeout_ns < 0 ? -1
                     : timeout_ns >= (int64_t)INT32_MAX * 1000000 ? INT32_MAX
                                                                : (int)((timeout_ns + 999999) / 1000000);
    return epoll_wait(poller->epoll_fd, poller->events, PYLOOP_MAX_FIRED, timeout_ms);
}

int pyloop__poller_wait(pyloop_loop *loop, int64_t timeout_ns, int *wakeup_readable)
{
    struct pyloop_poller *poller = loop->poller;
    int count, i, fired = 0;

    /* A fork child never waits on the parent's set: it would dispatch the
     * parent's readiness to its copies of the parent's watchers. */
    count = adopt_after_fork(loop);
    if (count < 0)
        return count;
    count = poller_epoll_wait(poller, timeout_ns);
    if (count < 0)
        return errno == EINTR ? 0 : -errno;
    for (i = 0; i < count; i++) {
        const struct epoll_event *event = &poller->events[i];
        int events = 0;

        if (event->data.fd == poller->wakeup_fd) {
            if (wakeup_readable)
                *wakeup_readable = 1;
            continue;
        }
        /* Errors and hang-ups wake both directions, as selectors does. */
        if (event->events & (EPOLLIN | EPOLLERR | EPOLLHUP))
            events |= PYLOOP_READABLE;
        if (event->events & (EPOLLOUT | EPOLLERR | EPOLLHUP))
            events |= PYLOOP_WRITABLE;
        loop->fired[fired++] = (pyloop_fired){event->data.fd, events};
    }
    return fired;
}

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
    int have_pwait2; /* cleared when the kernel says ENOSYS */
    struct epoll_event events[PYLOOP_MAX_FIRED];
};

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

int pyloop__poller_update(pyloop_loop *loop, int fd, int old_events, int new_events)
{
    struct epoll_event event = {.events = to_epoll(new_events), .data.fd = fd};
    int epoll_fd = loop->poller->epoll_fd;

    if (!new_events) {
        /* A closed fd has already left the epoll set; that is not an error. */
        if (epoll_ctl(epoll_fd, EPOLL_CTL_DEL, fd, &event) < 0 && errno != EBADF && errno != ENOENT)
            return -errno;
        return 0;
    }
    if (old_events) {
        if (epoll_ctl(epoll_fd, EPOLL_CTL_MOD, fd, &event) == 0)
            return 0;
        /* The fd was closed and its number reused behind our back. */
        if (errno != ENOENT)
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
    /* Harmless if the fd is closed already; needed if it was dup'ed. */
    (void)epoll_ctl(loop->poller->epoll_fd, EPOLL_CTL_DEL, fd, &event);
}

int pyloop__poller_set_wakeup_fd(pyloop_loop *loop, int fd)
{
    struct epoll_event event = {.events = EPOLLIN, .data.fd = fd};

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
    int count = poller_epoll_wait(poller, timeout_ns), i, fired = 0;

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

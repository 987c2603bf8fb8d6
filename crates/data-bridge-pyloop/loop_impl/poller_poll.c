/*
 * poll(2) backend, for systems without epoll. The pollfd array is rebuilt
 * from the loop's fd table on each wait: O(watched fds), which is what a
 * fallback may cost. Included by poller.c only.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/stat.h>

const char pyloop_poller_name[] = "poll";

struct pyloop_poller {
    int wakeup_fd;
    struct pollfd *fds;
    size_t capacity;
};

int pyloop__poller_init(pyloop_loop *loop)
{
    struct pyloop_poller *poller = calloc(1, sizeof(*poller));

    if (!poller)
        return -ENOMEM;
    poller->wakeup_fd = -1;
    loop->poller = poller;
    return 0;
}

void pyloop__poller_free(pyloop_loop *loop)
{
    if (!loop->poller)
        return;
    free(loop->poller->fds);
    free(loop->poller);
    loop->poller = NULL;
}

int pyloop__poller_update(pyloop_loop *loop, int fd, int old_events, int new_events)
{
    struct stat info;
    (void)loop;
    (void)old_events;
    if (!new_events)
        return 0;
    /* Report what epoll would: EBADF for a closed fd, EPERM for a file. */
    if (fstat(fd, &info) < 0)
        return -errno;
    if (S_ISREG(info.st_mode) || S_ISDIR(info.st_mode))
        return -EPERM;
    return 0;
}

void pyloop__poller_forget(pyloop_loop *loop, int fd)
{
    (void)loop;
    (void)fd;
}

int pyloop__poller_set_wakeup_fd(pyloop_loop *loop, int fd)
{
    loop->poller->wakeup_fd = fd;
    return 0;
}

int pyloop__poller_wait(pyloop_loop *loop, int64_t timeout_ns, int *wakeup_readable)
{
    struct pyloop_poller *poller = loop->poller;
    size_t needed = (size_t)loop->fds_watched + 1, count = 0, i;
    int fd, ready, timeout_ms, fired = 0;

    if (needed > poller->capacity) {
        struct pollfd *grown = realloc(poller->fds, needed * 2 * sizeof(*grown));
        if (!grown)
            return -ENOMEM;
        poller->fds = grown;
        poller->capacity = needed * 2;
    }
    if (poller->wakeup_fd >= 0)
        poller->fds[count++] = (struct pollfd){.fd = poller->wakeup_fd, .events = POLLIN};
    for (fd = 0; fd < loop->fds_capacity; fd++) {
        int events = loop->fds[fd].events;
        if (events)
            poller->fds[count++] = (struct pollfd){
                .fd = fd,
                .events = (short)((events & PYLOOP_READABLE ? POLLIN : 0) | (events & PYLOOP_WRITABLE ? POLLOUT : 0))};
    }
    timeout_ms = timeout_ns < 0 ? -1
                 : timeout_ns >= (int64_t)INT32_MAX * 1000000 ? INT32_MAX
                                                            : (int)((timeout_ns + 999999) / 1000000);
    ready = poll(poller->fds, (nfds_t)count, timeout_ms);
    if (ready < 0)
        return errno == EINTR ? 0 : -errno;
    for (i = 0; i < count && ready > 0 && fired < PYLOOP_MAX_FIRED; i++) {
        const struct pollfd *entry = &poller->fds[i];
        int events = 0;

        if (!entry->revents)
            continue;
        ready--;
        if (entry->fd == poller->wakeup_fd) {
            if (wakeup_readable)
                *wakeup_readable = 1;
            continue;
        }
        if (entry->revents & (POLLIN | POLLERR | POLLHUP | POLLNVAL))
            events |= PYLOOP_READABLE;
        if (entry->revents & (POLLOUT | POLLERR | POLLHUP | POLLNVAL))
            events |= PYLOOP_WRITABLE;
        loop->fired[fired++] = (pyloop_fired){entry->fd, events};
    }
    return fired;
}

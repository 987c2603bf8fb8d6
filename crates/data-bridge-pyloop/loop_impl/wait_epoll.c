/*
 * native: block in the poller until the next timer, an fd event or a wakeup.
 * The wakeup is an eventfd (a pipe where there is none) registered in the
 * poller. loop.c calls wake() only when the loop announced it is polling and
 * no wakeup is pending, so an idle loop makes no wakeups and a burst of
 * threadsafe calls costs one write.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>
#ifdef HAVE_SYS_EVENTFD_H
#include <sys/eventfd.h>
#endif

const char pyloop_wait_name[] = "epoll";

struct pyloop_wait {
    int read_fd;
    int write_fd; /* == read_fd for an eventfd */
};

int pyloop_wait_init(pyloop_loop *loop)
{
    struct pyloop_wait *wait = calloc(1, sizeof(*wait));
    int rc;

    if (!wait)
        return -ENOMEM;
#ifdef HAVE_SYS_EVENTFD_H
    wait->read_fd = wait->write_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (wait->read_fd < 0) {
        rc = -errno;
        free(wait);
        return rc;
    }
#else
    int fds[2];
    if (pipe(fds) < 0) {
        rc = -errno;
        free(wait);
        return rc;
    }
    for (int i = 0; i < 2; i++) {
        fcntl(fds[i], F_SETFL, fcntl(fds[i], F_GETFL) | O_NONBLOCK);
        fcntl(fds[i], F_SETFD, FD_CLOEXEC);
    }
    wait->read_fd = fds[0];
    wait->write_fd = fds[1];
#endif
    rc = pyloop_poller_set_wakeup_fd(loop, wait->read_fd);
    if (rc < 0) {
        close(wait->read_fd);
        if (wait->write_fd != wait->read_fd)
            close(wait->write_fd);
        free(wait);
        return rc;
    }
    loop->wait = wait;
    return 0;
}

void pyloop_wait_free(pyloop_loop *loop)
{
    struct pyloop_wait *wait = loop->wait;

    if (!wait)
        return;
    close(wait->read_fd);
    if (wait->write_fd != wait->read_fd)
        close(wait->write_fd);
    free(wait);
    loop->wait = NULL;
}

int pyloop_wait_block(pyloop_loop *loop, int64_t timeout_ns)
{
    int wakeup_readable = 0;
    int events = pyloop_poller_wait(loop, timeout_ns, &wakeup_readable);

    if (wakeup_readable) {
        char buffer[64];
        /* Drain it: an eventfd in one read, a pipe in a few. */
        while (read(loop->wait->read_fd, buffer, sizeof(buffer)) > 0 && loop->wait->read_fd != loop->wait->write_fd)
            ;
        loop->wakeups_consumed++;
    }
    return events < 0 ? events : 0;
}

void pyloop_wait_wake(pyloop_loop *loop)
{
    uint64_t one = 1;
    ssize_t written;

    /* EAGAIN means the counter is already non-zero: the loop will wake. */
    do
        written = write(loop->wait->write_fd, &one, sizeof(one));
    while (written < 0 && errno == EINTR);
    atomic_fetch_add_explicit(&loop->wakeups_written, 1, memory_order_relaxed);
}

/*
 * native: block in the poller until the next timer, an fd event or a wakeup.
 * The wakeup is an eventfd (a pipe where there is none) registered in the
 * poller. loop.c calls wake() only when the loop announced it is polling and
 * no wakeup is pending, so an idle loop makes no wakeups and a burst of
 * threadsafe calls costs one write. The poller is epoll, or poll(2) where
 * there is no epoll: build_info names the poller.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>
#ifdef HAVE_SYS_EVENTFD_H
#include <sys/eventfd.h>
#endif

const char pyloop_wait_name[] = "poller";

struct pyloop_wait {
    int read_fd;
    int write_fd; /* == read_fd for an eventfd */
    /* pyloop__fork_generation() when the fds were made. In a fork() child
     * they are the parent's: writing would wake the parent for nothing,
     * reading would eat the parent's wakeup (and the parent would sleep
     * through a call_soon_threadsafe). The loop thread replaces them before
     * its first wait (block); until then wake() writes nothing. Written
     * after the fds (release), so a thread that sees it current sees them. */
    atomic_uint generation;
};

static void close_wakeup(struct pyloop_wait *wait)
{
    close(wait->read_fd);
    if (wait->write_fd != wait->read_fd)
        close(wait->write_fd);
}

/* A new wakeup fd (pair) in *wait, registered in the poller. */
static int open_wakeup(pyloop_loop *loop, struct pyloop_wait *wait)
{
    int rc;
#ifdef HAVE_SYS_EVENTFD_H
    wait->read_fd = wait->write_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (wait->read_fd < 0)
        return -errno;
#else
    int fds[2];
    if (pipe(fds) < 0)
        return -errno;
    for (int i = 0; i < 2; i++) {
        fcntl(fds[i], F_SETFL, fcntl(fds[i], F_GETFL) | O_NONBLOCK);
        fcntl(fds[i], F_SETFD, FD_CLOEXEC);
    }
    wait->read_fd = fds[0];
    wait->write_fd = fds[1];
#endif
    rc = pyloop__poller_set_wakeup_fd(loop, wait->read_fd);
    if (rc < 0)
        close_wakeup(wait);
    return rc;
}

int pyloop__wait_init(pyloop_loop *loop)
{
    struct pyloop_wait *wait = calloc(1, sizeof(*wait));
    int rc;

    if (!wait)
        return -ENOMEM;
    atomic_init(&wait->generation, pyloop__fork_generation());
    rc = open_wakeup(loop, wait);
    if (rc < 0) {
        free(wait);
        return rc;
    }
    loop->wait = wait;
    return 0;
}

/* Loop thread, in a fork() child: our own wakeup fd instead of the
 * parent's (closing our descriptors of the parent's is harmless). */
static int replace_after_fork(pyloop_loop *loop)
{
    struct pyloop_wait *wait = loop->wait, fresh;
    int rc = open_wakeup(loop, &fresh);

    if (rc < 0)
        return rc;
    close_wakeup(wait);
    wait->read_fd = fresh.read_fd;
    wait->write_fd = fresh.write_fd;
    atomic_store_explicit(&wait->generation, pyloop__fork_generation(), memory_order_release);
    return 0;
}

void pyloop__wait_free(pyloop_loop *loop)
{
    struct pyloop_wait *wait = loop->wait;

    if (!wait)
        return;
    close_wakeup(wait);
    free(wait);
    loop->wait = NULL;
}

int pyloop__wait_block(pyloop_loop *loop, int64_t timeout_ns)
{
    int wakeup_readable = 0, fired;

    if (atomic_load_explicit(&loop->wait->generation, memory_order_relaxed) != pyloop__fork_generation()) {
        fired = replace_after_fork(loop);
        if (fired < 0)
            return fired;
        /* A wake() that saw the parent's fd wrote nothing: look, don't
         * block, this once; the loop then sees what that thread queued. */
        timeout_ns = 0;
    }
    fired = pyloop__poller_wait(loop, timeout_ns, &wakeup_readable);

    if (wakeup_readable) {
        char buffer[64];
        /* Drain it: an eventfd in one read, a pipe in a few. */
        while (read(loop->wait->read_fd, buffer, sizeof(buffer)) > 0 && loop->wait->read_fd != loop->wait->write_fd)
            ;
        loop->wakeups_consumed++;
    }
    return fired;
}

void pyloop__wait_wake(pyloop_loop *loop)
{
    uint64_t one = 1;
    ssize_t written;

    /* Only our own: a fork child's loop has not replaced the parent's yet,
     * and will look without blocking when it does (block). */
    if (atomic_load_explicit(&loop->wait->generation, memory_order_acquire) != pyloop__fork_generation())
        return;
    /* EAGAIN means the counter is already non-zero: the loop will wake. */
    do
        written = write(loop->wait->write_fd, &one, sizeof(one));
    while (written < 0 && errno == EINTR);
    atomic_fetch_add_explicit(&loop->wakeups_written, 1, memory_order_relaxed);
}

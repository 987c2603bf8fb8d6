/*
 * stream: see stream.h for the contract.
 *
 * Readiness never does I/O itself: the fd callbacks only queue one loop task
 * per direction (read_task, write_task), so reads and writes run in asyncio's
 * order, behind the callbacks that were ready before them. Everything that
 * calls into the host (the callbacks, a buffer's release) is made with the
 * stream in a consistent state and is followed by a fresh look at the
 * flags, because the host may have closed the stream, stopped reading or
 * written more meanwhile.
 *
 * The write queue is a power-of-two ring of the host's buffers. queue_offset
 * counts the bytes at its front already sent; it may reach past the head
 * buffer for a moment, between a send and the release of the buffers it
 * finished (reap), so that the queue is right whenever a release runs.
 */
#include "stream.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

/* What alloc is offered for one read (libuv's suggestion too). */
#define STREAM_READ_SIZE 65536
#define STREAM_HIGH_WATER 65536 /* asyncio's write-buffer defaults */
#define STREAM_LOW_WATER 16384
#define STREAM_RING_FIRST 16
/* A drained queue keeps its storage up to this many slots. */
#define STREAM_RING_KEEP 64

/* Buffers per writev: the system's limit, and 16 KiB of stack at most. */
#if defined(IOV_MAX) && IOV_MAX < 1024
#define STREAM_IOV_MAX IOV_MAX
#else
#define STREAM_IOV_MAX 1024
#endif

/* Where MSG_NOSIGNAL does not exist, sockets are like pipes: the host
 * ignores SIGPIPE (stream.h). */
#ifndef MSG_DONTWAIT
#define MSG_DONTWAIT 0
#endif
#ifndef MSG_NOSIGNAL
#define MSG_NOSIGNAL 0
#endif

enum {
    S_READING = 1u << 0,      /* the reader watcher is set */
    S_WRITING = 1u << 1,      /* the writer watcher is set */
    S_READ_QUEUED = 1u << 2,  /* a read_task waits on the loop */
    S_WRITE_QUEUED = 1u << 3, /* a write_task waits on the loop */
    S_PAUSED = 1u << 4,       /* on_write_pause was the last flow callback */
    S_SHUT = 1u << 5,         /* shutdown asked: writes are refused */
    S_SHUT_PENDING = 1u << 6, /* ...and shutdown(2) waits for the queue to drain */
    S_FAILED = 1u << 7,       /* on_error's state: no more I/O */
    S_CLOSED = 1u << 8,
};

struct pyloop_stream_queued {
    pyloop_stream_buffer buffer;
};

/* Closed or failed, or never initialised (a zeroed struct: its fd 0 is
 * not the stream's): the stream does no I/O. */
static int gone(const pyloop_stream *stream)
{
    return !stream->loop || (stream->flags & (S_CLOSED | S_FAILED)) != 0;
}

/* 0 while the host's fd is still stream->fd; -errno once the host's object
 * closed it (stream.h, check_fd): then no system call may use the number. */
static int check_fd(pyloop_stream *stream)
{
    return stream->callbacks->check_fd ? stream->callbacks->check_fd(stream) : 0;
}

/* Errors that only mean "not now": the watcher is level-triggered and the
 * next readiness tries again. */
static int would_block(int error)
{
    return error == EAGAIN || error == EWOULDBLOCK || error == EINTR;
}

static void release_buffer(const pyloop_stream_buffer *buffer)
{
    if (buffer->release)
        buffer->release(buffer->owner);
}

/* ------------------------------------------------------------------ */
/* the write queue                                                     */
/* ------------------------------------------------------------------ */

static pyloop_stream_buffer *queue_at(const pyloop_stream *stream, size_t i)
{
    return &stream->queue[(stream->queue_head + i) & (stream->queue_capacity - 1)].buffer;
}

static void queue_free_storage(pyloop_stream *stream)
{
    free(stream->queue);
    stream->queue = NULL;
    stream->queue_head = stream->queue_capacity = 0;
}

/* Room for `extra` more buffers, so that queuing cannot fail halfway through
 * a write. A new array rather than realloc: the ring has to be unwrapped. */
static int queue_reserve(pyloop_stream *stream, size_t extra)
{
    size_t capacity = stream->queue_capacity ? stream->queue_capacity : STREAM_RING_FIRST;
    struct pyloop_stream_queued *slots;
    size_t i;

    if (extra <= stream->queue_capacity - stream->queue_count)
        return 0;
    if (extra > SIZE_MAX / 2 - stream->queue_count)
        return -ENOMEM;
    while (capacity < stream->queue_count + extra)
        capacity *= 2;
    if (capacity == stream->queue_capacity)
        return 0;
    if (capacity > (size_t)PTRDIFF_MAX / sizeof(*slots))
        return -ENOMEM;
    slots = malloc(capacity * sizeof(*slots));
    if (!slots)
        return -ENOMEM;
    for (i = 0; i < stream->queue_count; i++)
        slots[i].buffer = *queue_at(stream, i);
    free(stream->queue);
    stream->queue = slots;
    stream->queue_capacity = capacity;
    stream->queue_head = 0;
    return 0;
}

/* The caller has reserved the slot. */
static void queue_push(pyloop_stream *stream, const pyloop_stream_buffer *buffer)
{
    stream->queue_count++;
    *queue_at(stream, stream->queue_count - 1) = *buffer;
    stream->queued_bytes += buffer->length;
}

/* Takes the head buffer out, whether it was sent (wholly inside the offset)
 * or not (dropped), and leaves the counts right for what remains. */
static pyloop_stream_buffer queue_pop(pyloop_stream *stream)
{
    pyloop_stream_buffer head = *queue_at(stream, 0);

    if (stream->queue_offset >= head.length) {
        stream->queue_offset -= head.length;
    } else {
        stream->queued_bytes -= head.length - stream->queue_offset;
        stream->queue_offset = 0;
    }
    stream->queue_head = (stream->queue_head + 1) & (stream->queue_capacity - 1);
    stream->queue_count--;
    return head;
}

/* Releases the buffers a send finished, one at a time: each is out of the
 * queue before its release runs, which may call into the stream. */
static void queue_reap(pyloop_stream *stream)
{
    while (stream->queue_count && stream->queue_offset >= queue_at(stream, 0)->length) {
        pyloop_stream_buffer done = queue_pop(stream);
        release_buffer(&done);
    }
    if (!stream->queue_count && stream->queue_capacity > STREAM_RING_KEEP)
        queue_free_storage(stream);
}

/* Drops everything (close, failure): each buffer released exactly once. */
static void queue_drop(pyloop_stream *stream)
{
    while (stream->queue_count) {
        pyloop_stream_buffer dropped = queue_pop(stream);
        release_buffer(&dropped);
    }
    stream->queue_offset = 0;
    queue_free_storage(stream);
}

/* ------------------------------------------------------------------ */
/* watchers and loop tasks                                             */
/* ------------------------------------------------------------------ */

/* The fd's slot in the loop belongs to this stream: another reader or
 * writer there would be silently replaced. */
static int slot_is_ours(pyloop_stream *stream, int event)
{
    void *reader = NULL, *writer = NULL;
    int events = pyloop_fd_events(stream->loop, stream->fd, &reader, &writer);

    if (!(events & event))
        return 1;
    return (event == PYLOOP_READABLE ? reader : writer) == stream;
}

static void on_readable(pyloop_loop *loop, int fd, int events, void *arg);
static void on_writable(pyloop_loop *loop, int fd, int events, void *arg);
static void fail_stream(pyloop_stream *stream, int error, int while_writing, int report);

/* Another stream still watching this fd's number because its host closed
 * the fd behind it (check_fd), while the number went to this stream's fd:
 * its registration died with its file, and it would never work again. It
 * fails as its next system call would (EBADF, its watchers cleared), so
 * the newcomer gets the number instead of -EBUSY. */
static void evict_stale(pyloop_stream *stream)
{
    pyloop_io_callback callbacks[2];
    void *args[2];
    int i, rc;

    if (!pyloop_fd_events(stream->loop, stream->fd, &args[0], &args[1]))
        return;
    pyloop_fd_callbacks(stream->loop, stream->fd, &callbacks[0], &callbacks[1]);
    for (i = 0; i < 2; i++) {
        pyloop_stream *other = args[i];
        if (other && other != stream && callbacks[i] == (i ? on_writable : on_readable) &&
            (rc = check_fd(other)) < 0)
            fail_stream(other, rc, 0, 1);
        if (!i) /* the first failure may have cleared both */
            pyloop_fd_events(stream->loop, stream->fd, &args[0], &args[1]);
    }
}

/* A watcher holds the stream as a queued task does: the loop will call it. */
static int start_watching(pyloop_stream *stream, unsigned flag, pyloop_io_callback callback)
{
    int rc;

    if (stream->flags & flag)
        return 0;
    evict_stale(stream);
    if (!slot_is_ours(stream, flag == S_READING ? PYLOOP_READABLE : PYLOOP_WRITABLE))
        return -EBUSY;
    if ((rc = check_fd(stream)) < 0)
        return rc;
    if (flag == S_READING)
        rc = pyloop_fd_set_reader(stream->loop, stream->fd, callback, stream);
    else
        rc = pyloop_fd_set_writer(stream->loop, stream->fd, callback, stream);
    if (rc == 0) {
        stream->flags |= flag;
        if (stream->callbacks->hold)
            stream->callbacks->hold(stream);
        if (stream->callbacks->on_watch)
            stream->callbacks->on_watch(stream, flag == S_WRITING);
    }
    return rc;
}

/* Stops one watcher without letting go of the stream: returns 1 when one
 * was set (its hold is the caller's to release). Errors are ignored: the
 * table forgets the watcher even when the kernel object is gone, and
 * nothing else can be done about it. */
static int unwatch(pyloop_stream *stream, unsigned flag)
{
    if (!(stream->flags & flag))
        return 0;
    stream->flags &= ~flag;
    if (flag == S_READING)
        (void)pyloop_fd_clear_reader(stream->loop, stream->fd);
    else
        (void)pyloop_fd_clear_writer(stream->loop, stream->fd);
    return 1;
}

/* `holds` releases, the last thing the caller does with the stream. The
 * callbacks are read first: every release but the last leaves the struct
 * alive (each is one of the holds), the last may free it. */
static void release_holds(pyloop_stream *stream, int holds)
{
    const pyloop_stream_callbacks *callbacks = stream->callbacks;

    while (holds-- > 0)
        if (callbacks->release)
            callbacks->release(stream);
}

/* The loop lets go of the stream: a task has run.
 * The last thing its caller does with the stream unless the host holds it
 * otherwise: afterwards the host may free it. */
static void task_done(pyloop_stream *stream)
{
    release_holds(stream, 1);
}

static void stop_reading(pyloop_stream *stream)
{
    release_holds(stream, unwatch(stream, S_READING));
}

static void stop_writing(pyloop_stream *stream)
{
    release_holds(stream, unwatch(stream, S_WRITING));
}

/* At most one task per direction waits on the loop: a readiness seen again
 * before the task ran (level-triggered) adds nothing. If the loop cannot
 * queue it (no memory), the next iteration sees the readiness again. */
static void queue_task(pyloop_stream *stream, unsigned queued_flag, pyloop_callback task)
{
    if (stream->flags & queued_flag)
        return;
    if (pyloop_call_soon(stream->loop, task, stream) < 0)
        return;
    stream->flags |= queued_flag;
    stream->pending_tasks++;
    if (stream->callbacks->hold)
        stream->callbacks->hold(stream);
}

/* Around a task's calls into the host; the task's hold keeps the stream. */
static void *task_enter(pyloop_stream *stream, int writing)
{
    return stream->callbacks->task_enter ? stream->callbacks->task_enter(stream, writing) : NULL;
}

static void task_exit(pyloop_stream *stream, void *entered)
{
    if (stream->callbacks->task_exit)
        stream->callbacks->task_exit(stream, entered);
}

static void task_taken(pyloop_stream *stream, unsigned queued_flag)
{
    stream->flags &= ~queued_flag;
    stream->pending_tasks--;
}

/* The stream stops for good, as asyncio's _force_close: watchers off, the
 * queue dropped, then (report) on_error once. A caller of write, flush or
 * shutdown gets the error returned instead. */
static void fail_stream(pyloop_stream *stream, int error, int while_writing, int report)
{
    int holds;

    if (gone(stream))
        return;
    stream->flags |= S_FAILED;
    holds = unwatch(stream, S_READING) + unwatch(stream, S_WRITING);
    queue_drop(stream);
    /* A buffer's release may have closed the stream: then nobody listens. */
    if (report && !(stream->flags & S_CLOSED) && stream->callbacks->on_error)
        stream->callbacks->on_error(stream, error, while_writing);
    release_holds(stream, holds);
}

/* ------------------------------------------------------------------ */
/* reading                                                             */
/* ------------------------------------------------------------------ */

/* One read per readiness, as asyncio's _read_ready does. */
static void read_once(pyloop_stream *stream)
{
    void *data = NULL;
    size_t length = STREAM_READ_SIZE;
    ssize_t nread;
    int rc = stream->callbacks->alloc(stream, &data, &length);

    if (rc == 1)
        return;
    if (rc < 0) {
        fail_stream(stream, rc, 0, 1);
        return;
    }
    if (!(stream->flags & S_READING)) /* alloc stopped reading, or closed */
        return;
    if (rc != 0 || !data || !length) { /* not what stream.h allows */
        fail_stream(stream, -EINVAL, 0, 1);
        return;
    }
    if ((rc = check_fd(stream)) < 0) {
        fail_stream(stream, rc, 0, 1);
        return;
    }
    nread = stream->is_socket ? recv(stream->fd, data, length, MSG_DONTWAIT) : read(stream->fd, data, length);
    if (nread < 0) {
        int error = errno;
        if (!would_block(error))
            fail_stream(stream, -error, 0, 1);
        return;
    }
    /* End of file stays readable forever (level-triggered): stop first. */
    if (nread == 0)
        stop_reading(stream);
    stream->callbacks->on_read(stream, data, nread);
}

static void read_task(pyloop_loop *loop, void *arg)
{
    pyloop_stream *stream = arg;

    (void)loop;
    task_taken(stream, S_READ_QUEUED);
    /* Closing, failing and read_stop all clear S_READING. */
    if (stream->flags & S_READING) {
        void *entered = task_enter(stream, 0);
        read_once(stream);
        task_exit(stream, entered);
    }
    task_done(stream);
}

static void on_readable(pyloop_loop *loop, int fd, int events, void *arg)
{
    (void)loop;
    (void)fd;
    (void)events;
    queue_task(arg, S_READ_QUEUED, read_task);
}

/* ------------------------------------------------------------------ */
/* writing                                                             */
/* ------------------------------------------------------------------ */

/* The unsent bytes, from the front of the queue, as at most `max` iovecs;
 * *offered is their total. Empty buffers take no slot. */
static int gather(const pyloop_stream *stream, struct iovec *iov, int max, size_t *offered)
{
    size_t skip = stream->queue_offset, i;
    int count = 0;

    *offered = 0;
    for (i = 0; i < stream->queue_count && count < max; i++) {
        const pyloop_stream_buffer *buffer = queue_at(stream, i);
        if (skip >= buffer->length) {
            skip -= buffer->length;
            continue;
        }
        iov[count].iov_base = (char *)(uintptr_t)buffer->data + skip;
        iov[count].iov_len = buffer->length - skip;
        *offered += iov[count].iov_len;
        count++;
        skip = 0;
    }
    return count;
}

/* One system call. Sockets use sendmsg for MSG_NOSIGNAL: a peer that went
 * away gives EPIPE, never SIGPIPE. Pipes rely on the host ignoring SIGPIPE. */
static ssize_t send_some(pyloop_stream *stream, size_t *offered)
{
    struct iovec iov[STREAM_IOV_MAX];
    int count = gather(stream, iov, STREAM_IOV_MAX, offered);
    struct msghdr message;

    if (!stream->is_socket)
        return writev(stream->fd, iov, count);
    memset(&message, 0, sizeof(message));
    message.msg_iov = iov;
    message.msg_iovlen = (size_t)count;
    return sendmsg(stream->fd, &message, MSG_NOSIGNAL | MSG_DONTWAIT);
}

/* Sends from the front of the queue until the kernel refuses (or takes
 * less than offered) or the queue is empty, releasing what was sent.
 * 0, or the -errno of a real failure (the caller fails the stream). */
static int send_queue(pyloop_stream *stream)
{
    for (;;) {
        size_t offered;
        ssize_t sent;

        int rc;

        queue_reap(stream);
        if (!stream->queued_bytes)
            return 0; /* empty, or a release closed the stream */
        if ((rc = check_fd(stream)) < 0)
            return rc;
        sent = send_some(stream, &offered);
        if (sent < 0)
            return would_block(errno) ? 0 : -errno;
        stream->queue_offset += (size_t)sent;
        stream->queued_bytes -= (size_t)sent;
        if ((size_t)sent < offered) {
            queue_reap(stream);
            return 0;
        }
    }
}

static int shutdown_now(pyloop_stream *stream)
{
    int rc;

    stream->flags &= ~(unsigned)S_SHUT_PENDING;
    if ((rc = check_fd(stream)) < 0)
        return rc;
    /* A pipe has no half-close: the host closes its write end instead. */
    if (stream->is_socket && shutdown(stream->fd, SHUT_WR) < 0)
        return -errno;
    return 0;
}

static void on_writable(pyloop_loop *loop, int fd, int events, void *arg);

/* After a send attempt: watch while anything is left; once the queue is
 * empty, stop watching and do a pending shutdown. */
static int settle_writer(pyloop_stream *stream)
{
    if (stream->queue_count)
        return start_watching(stream, S_WRITING, on_writable);
    stop_writing(stream);
    if (stream->flags & S_SHUT_PENDING)
        return shutdown_now(stream);
    return 0;
}

/* asyncio's _maybe_pause_protocol: above `high` after a write. */
static void maybe_pause(pyloop_stream *stream)
{
    if ((stream->flags & S_PAUSED) || stream->queued_bytes <= stream->high_water)
        return;
    stream->flags |= S_PAUSED;
    if (stream->callbacks->on_write_pause)
        stream->callbacks->on_write_pause(stream);
}

/* asyncio's _maybe_resume_protocol: at `low` or below after a send. */
static void maybe_resume(pyloop_stream *stream)
{
    if (!(stream->flags & S_PAUSED) || stream->queued_bytes > stream->low_water)
        return;
    stream->flags &= ~(unsigned)S_PAUSED;
    if (stream->callbacks->on_write_resume)
        stream->callbacks->on_write_resume(stream);
}

/* write/flush/shutdown: try now unless the writer watcher is already on it
 * (then the queue is waiting for writability and asyncio would not try).
 * Errors go back to the caller, not to on_error. */
static int flush_now(pyloop_stream *stream)
{
    if (!(stream->flags & S_WRITING)) {
        int rc = send_queue(stream);
        if (rc == 0 && !gone(stream))
            rc = settle_writer(stream);
        if (rc < 0) {
            fail_stream(stream, rc, 1, 0);
            return rc;
        }
    }
    if (!gone(stream))
        maybe_pause(stream);
    return 0;
}

/* asyncio's _write_ready: send, maybe resume, and once empty stop watching,
 * shut down if asked, and tell the host (on_drain). */
static void write_ready(pyloop_stream *stream)
{
    int rc = send_queue(stream);

    if (rc == 0 && !gone(stream)) {
        maybe_resume(stream);
        if (gone(stream) || stream->queue_count)
            return;
        rc = settle_writer(stream);
    }
    if (rc < 0) {
        fail_stream(stream, rc, 1, 1);
        return;
    }
    if (!gone(stream) && stream->callbacks->on_drain)
        stream->callbacks->on_drain(stream);
}

static void write_task(pyloop_loop *loop, void *arg)
{
    pyloop_stream *stream = arg;

    (void)loop;
    task_taken(stream, S_WRITE_QUEUED);
    if (stream->flags & S_WRITING) { /* cleared by close and failure */
        void *entered = task_enter(stream, 1);
        write_ready(stream);
        task_exit(stream, entered);
    }
    task_done(stream);
}

static void on_writable(pyloop_loop *loop, int fd, int events, void *arg)
{
    (void)loop;
    (void)fd;
    (void)events;
    queue_task(arg, S_WRITE_QUEUED, write_task);
}

/* ------------------------------------------------------------------ */
/* public API                                                          */
/* ------------------------------------------------------------------ */

int pyloop_stream_init(pyloop_stream *stream, pyloop_loop *loop, int fd, const pyloop_stream_callbacks *callbacks,
                       void *context)
{
    struct stat status;
    int fd_flags;

    if (!stream || !loop || fd < 0 || !callbacks)
        return -EINVAL;
    if (fstat(fd, &status) < 0)
        return -errno;
    fd_flags = fcntl(fd, F_GETFL);
    if (fd_flags < 0)
        return -errno;
    /* A blocking fd would block the whole loop in recv or writev. */
    if (!(fd_flags & O_NONBLOCK))
        return -EINVAL;
    memset(stream, 0, sizeof(*stream));
    stream->loop = loop;
    stream->fd = fd;
    /* Decided once: recv/sendmsg for sockets, read/writev for the rest. */
    stream->is_socket = S_ISSOCK(status.st_mode);
    stream->callbacks = callbacks;
    stream->context = context;
    stream->high_water = STREAM_HIGH_WATER;
    stream->low_water = STREAM_LOW_WATER;
    return 0;
}

int pyloop_stream_read_start(pyloop_stream *stream)
{
    if (!stream)
        return -EINVAL;
    if (gone(stream))
        return -EBADF;
    if (!stream->callbacks->alloc || !stream->callbacks->on_read)
        return -EINVAL;
    if (!(stream->flags & S_READING) && check_fd(stream) < 0) {
        /* asyncio's reader would run and its recv fail: a read error. */
        fail_stream(stream, check_fd(stream), 0, 1);
        return 0;
    }
    return start_watching(stream, S_READING, on_readable);
}

int pyloop_stream_read_stop(pyloop_stream *stream)
{
    if (!stream)
        return -EINVAL;
    stop_reading(stream);
    return 0;
}

int pyloop_stream_is_reading(const pyloop_stream *stream)
{
    return stream && (stream->flags & S_READING) != 0;
}

static int check_write(const pyloop_stream *stream, const pyloop_stream_buffer *buffers, size_t count, unsigned flags)
{
    size_t i;

    if (flags & ~(unsigned)PYLOOP_STREAM_DEFER)
        return -EINVAL;
    if (gone(stream) || (stream->flags & S_SHUT))
        return -EPIPE;
    for (i = 0; i < count; i++)
        if (!buffers[i].data && buffers[i].length)
            return -EINVAL;
    return 0;
}

int pyloop_stream_write(pyloop_stream *stream, const pyloop_stream_buffer *buffers, size_t count, unsigned flags)
{
    size_t i;
    int rc;

    if (!stream || (count && !buffers))
        return -EINVAL;
    rc = check_write(stream, buffers, count, flags);
    if (rc == 0)
        rc = queue_reserve(stream, count);
    if (rc < 0) {
        /* Refused: the buffers are dropped, so still released once. */
        for (i = 0; i < count; i++)
            release_buffer(&buffers[i]);
        return rc;
    }
    for (i = 0; i < count; i++)
        queue_push(stream, &buffers[i]);
    if (flags & PYLOOP_STREAM_DEFER)
        return 0;
    return flush_now(stream);
}

int pyloop_stream_flush(pyloop_stream *stream)
{
    if (!stream)
        return -EINVAL;
    if (gone(stream))
        return -EPIPE;
    return flush_now(stream);
}

size_t pyloop_stream_write_queue_size(const pyloop_stream *stream)
{
    return stream ? stream->queued_bytes : 0;
}

int pyloop_stream_is_writing(const pyloop_stream *stream)
{
    return stream && (stream->flags & S_WRITING) != 0;
}

int pyloop_stream_set_write_limits(pyloop_stream *stream, size_t high, size_t low)
{
    if (!stream || high < low)
        return -EINVAL;
    stream->high_water = high;
    stream->low_water = low;
    /* asyncio's set_write_buffer_limits pauses at once if now above high. */
    if (!gone(stream))
        maybe_pause(stream);
    return 0;
}

void pyloop_stream_get_write_limits(const pyloop_stream *stream, size_t *high, size_t *low)
{
    if (high)
        *high = stream ? stream->high_water : 0;
    if (low)
        *low = stream ? stream->low_water : 0;
}

int pyloop_stream_write_paused(const pyloop_stream *stream)
{
    return stream && (stream->flags & S_PAUSED) != 0;
}

int pyloop_stream_shutdown(pyloop_stream *stream)
{
    if (!stream)
        return -EINVAL;
    if (gone(stream))
        return -EPIPE;
    if (stream->flags & S_SHUT)
        return 0;
    stream->flags |= S_SHUT;
    /* Sends what was deferred; what the kernel refuses drains first. */
    if (stream->queue_count) {
        int rc = flush_now(stream);
        if (rc < 0 || gone(stream))
            return rc;
        if (stream->queue_count) {
            stream->flags |= S_SHUT_PENDING;
            return 0;
        }
    }
    /* With the queue empty, shut down now. As asyncio's write_eof, a
     * shutdown(2) that fails (the peer reset) is only returned: the stream
     * reads on, so the reset still reaches the host through the read. */
    return shutdown_now(stream);
}

void pyloop_stream_close(pyloop_stream *stream)
{
    int holds;

    if (!stream || (stream->flags & S_CLOSED))
        return;
    stream->flags |= S_CLOSED;
    holds = unwatch(stream, S_READING) + unwatch(stream, S_WRITING);
    queue_drop(stream);
    release_holds(stream, holds);
}

int pyloop_stream_closed(const pyloop_stream *stream)
{
    return stream && (stream->flags & S_CLOSED) != 0;
}

pyloop_stream *pyloop_stream_of_task(pyloop_callback fn, void *arg)
{
    return fn == read_task || fn == write_task ? arg : NULL;
}

int pyloop_stream_drop_task(pyloop_callback fn, void *arg)
{
    pyloop_stream *stream = pyloop_stream_of_task(fn, arg);

    if (!stream)
        return 0;
    task_taken(stream, fn == read_task ? S_READ_QUEUED : S_WRITE_QUEUED);
    task_done(stream);
    return 1;
}

/*
 * stream: byte streams on loop_impl's fd watchers, in plain C (no Python):
 * the layer under PyLoop's socket transports, shaped after libuv's
 * uv_stream_t. It holds the read policy, the write queue and writev, the
 * flow-control state and half-close; the host (the Python binding, or any C
 * program) decides what to do with the bytes.
 *
 * A pyloop_stream wraps one connected, non-blocking stream fd (TCP or Unix
 * socket, pipe). The host owns the fd (it closes it, after
 * pyloop_stream_close) and the memory of the struct (it embeds it in its own
 * object and keeps it alive while the loop holds it, through a watcher or
 * a queued task: see `hold`/`release`). The stream owns the fd's reader and writer watchers on
 * the loop (the loop allows one of each per fd): the host sets none of its
 * own on that fd.
 *
 *   reading     pyloop_stream_read_start/stop (asyncio's resume_reading /
 *               pause_reading). When the fd is readable, the stream queues one
 *               task on the loop (pyloop_call_soon), so the read happens in
 *               asyncio's order: behind the callbacks ready before it. The
 *               task asks the host for a buffer (`alloc`), makes one recv(2)
 *               (read(2) for a non-socket) into it, and reports (`on_read`):
 *               n > 0 bytes, or 0 for end of file (reading has stopped by
 *               then, since end of file stays readable). A failed read goes
 *               to `on_error`. EAGAIN/EINTR report nothing (the buffer from
 *               alloc goes unused: hand out one the host keeps, as asyncio's
 *               get_buffer does). One read per readiness, as asyncio does;
 *               the watcher is level-triggered, so what is left is read next
 *               iteration. Never two read tasks queued for one stream.
 *   writing     pyloop_stream_write(stream, buffers, count, flags): with
 *               nothing queued, the buffers are sent at once (writev(2) /
 *               sendmsg, MSG_NOSIGNAL), and what the kernel takes needs no
 *               copy. What it refuses is queued by reference: each buffer's
 *               `release(owner)` runs once the buffer is sent or dropped, so
 *               the host keeps ownership without copying. The queue is sent
 *               in order with writev (at most IOV_MAX buffers a call) by a
 *               loop task queued when the fd becomes writable (a writer
 *               watcher exists only while something is queued).
 *               PYLOOP_STREAM_DEFER queues without trying and does not watch
 *               for writability: the host later calls pyloop_stream_flush
 *               (say, once the current callback returns, so that two writes
 *               of one callback leave in one writev).
 *   flow        pyloop_stream_set_write_limits(high, low): `on_write_pause`
 *               when the queued bytes (deferred included) are above `high`
 *               after a write or flush that is not deferred (or after
 *               set_write_limits), `on_write_resume` when a send by the loop
 *               task brings them to `low` or below (asyncio's
 *               _maybe_pause_protocol / _maybe_resume_protocol; defaults
 *               64 KiB / 16 KiB).
 *   drained     `on_drain` when the loop task empties the queue (asyncio's
 *               _write_ready tail: the empty waiter, close after drain,
 *               shutdown after drain). A write or flush that sends
 *               everything at once calls no stream callback (only the
 *               buffers' releases): the host looks at
 *               pyloop_stream_write_queue_size when the call returns.
 *   half-close  pyloop_stream_shutdown: shutdown(SHUT_WR) now if nothing is
 *               queued, else once the queue is empty (before on_drain); it
 *               flushes what was deferred. Writes after it fail with -EPIPE.
 *               A shutdown(2) made at once that fails is returned and fails
 *               nothing else (reading goes on; asyncio's write_eof raises).
 *               A pipe has no half-close: the stream only refuses writes, and
 *               the host closes the fd once the queue is empty.
 *   close       pyloop_stream_close: stops both watchers, drops the queue
 *               (releasing every buffer) and turns tasks already queued on
 *               the loop into no-ops (they still run later, and `release`
 *               the stream). The fd stays open for the host. A stream that
 *               was started must be closed before the host frees it.
 *   errors      a failed send, recv, shutdown or alloc is reported once
 *               through `on_error` (-errno) and the stream stops reading and
 *               writing (its queue is dropped), as asyncio's _fatal_error
 *               does; the host closes it. When write, flush or shutdown made
 *               the failing call, it returns the error instead.
 *   closed fd   the host's check_fd runs before each system call on the fd:
 *               an fd the host's object closed behind the stream fails it
 *               (EBADF), so a reused number is never read, written, shut
 *               down or watched. Sockets are sent to and received from with
 *               MSG_DONTWAIT as well, so even a blocking newcomer under the
 *               number could never block the loop.
 *   SIGPIPE     never raised for sockets (MSG_NOSIGNAL). A write to a pipe
 *               whose reader is gone raises it: the host ignores SIGPIPE, as
 *               CPython does at startup; the write then fails with EPIPE.
 *
 * Every function returns 0 or a negative errno; nothing aborts on bad input.
 * A zeroed struct that pyloop_stream_init never set up is as a closed one
 * (a host object whose constructor did not run): no call touches fd 0.
 * Callbacks run on the loop's thread, never from another thread: from the
 * stream's loop tasks, or (on_write_pause, and buffer releases) from inside
 * pyloop_stream_write/flush/shutdown/set_write_limits, or (buffer releases)
 * from close. Inside any callback the host may call any function here on
 * the same stream, including close; what it may not do is free the struct
 * (only `release` may) or re-initialise it. Per callback:
 *   alloc        may stop reading or close: the read is then skipped,
 *                whatever it returns but -errno (which calls on_error).
 *   on_read      anything above; the data is the host's again on return.
 *   on_write_pause, on_write_resume, on_drain, on_error: anything above.
 *   buffer release  runs with the buffer already out of the queue; may write
 *                (the new buffers go behind those queued) or close.
 *   hold         runs while the loop dispatches I/O: keep the struct alive
 *                (take a reference) and call nothing here.
 *   release      the loop let go of one hold (a task ran, a watcher was
 *                cleared): may free the struct if nothing else holds it (it
 *                is the stream's last access).
 */
#ifndef PYLOOP_STREAM_H
#define PYLOOP_STREAM_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h> /* ssize_t */

#include "loop.h"

typedef struct pyloop_stream pyloop_stream;

/* One buffer to write: the bytes stay valid until release(owner) runs
 * (release may be NULL when the bytes outlive the stream anyway). */
typedef struct pyloop_stream_buffer {
    const void *data;
    size_t length;
    void (*release)(void *owner);
    void *owner;
} pyloop_stream_buffer;

typedef struct pyloop_stream_callbacks {
    /* Reading: a buffer of at least 1 byte for the next read (*length:
     * suggested on entry (64 KiB), actual on return). Return 0 with the
     * buffer; -errno to report an error instead (the stream then calls
     * on_error); or 1 to skip this read (the host stopped reading
     * meanwhile, or read the fd itself). Any other value, or no buffer, is
     * an error (-EINVAL).
     * Required for reading, with on_read. */
    int (*alloc)(pyloop_stream *stream, void **data, size_t *length);
    /* nread > 0 bytes in data, or 0: end of file (reading stopped). */
    void (*on_read)(pyloop_stream *stream, void *data, ssize_t nread);
    void (*on_write_pause)(pyloop_stream *stream);
    void (*on_write_resume)(pyloop_stream *stream);
    void (*on_drain)(pyloop_stream *stream);
    /* error is -errno; while_writing: a send or shutdown failed (else a
     * recv, or alloc). Once per stream; it has stopped by then. */
    void (*on_error)(pyloop_stream *stream, int error, int while_writing);
    /* The loop takes a hold on this stream (hold) / lets one go (release):
     * one per watcher set (reading, or waiting to write) and one per task
     * queued, so the stream is held exactly while the loop may call into
     * it. The host keeps the memory alive in between (a garbage-collected
     * host: the loop references the host's object once per hold). Either
     * may be NULL (then the struct must outlive the loop's use some other
     * way). A call the host makes on a stream it holds itself is safe
     * whatever it releases; close and failure release last. */
    void (*hold)(pyloop_stream *stream);
    void (*release)(pyloop_stream *stream);
    /* asyncio makes a Handle where it sets a reader or writer, and runs
     * that watcher's callbacks in the Handle's context; a host that keeps
     * such per-watcher state sets these (PyLoop: a copy of the contextvars
     * context). on_watch: a watcher was set that was not (writing: the
     * writer, else the reader), from read_start or from inside write,
     * flush or shutdown. task_enter/task_exit bracket each loop task that
     * calls into the host (a read; a send of the queue), before its first
     * callback and after its last: task_exit gets what task_enter returned.
     * Any may be NULL; none may call anything here. */
    void (*on_watch)(pyloop_stream *stream, int writing);
    void *(*task_enter)(pyloop_stream *stream, int writing);
    void (*task_exit)(pyloop_stream *stream, void *entered);
    /* Before every system call on the fd (recv/read, send/writev, shutdown,
     * watching it): 0 when the fd is still the one the host gave, or
     * -errno (-EBADF) when the host's object has closed it since. The
     * stream then fails with that error as if the call had, and never
     * touches the number, which may belong to a newcomer by now (a closed
     * or reused fd number is never touched). Runs often: a field read, no
     * system call. May be NULL (the host never closes the fd first). It
     * may not call into the stream. */
    int (*check_fd)(pyloop_stream *stream);
} pyloop_stream_callbacks;

/* Opaque to the host but for `context`; embedded, not allocated. */
struct pyloop_stream_queued;
struct pyloop_stream {
    pyloop_loop *loop;
    int fd;
    int is_socket;
    const pyloop_stream_callbacks *callbacks;
    void *context; /* the host's, untouched */
    /* private below */
    unsigned flags;
    struct pyloop_stream_queued *queue; /* ring of queued buffers */
    size_t queue_head, queue_count, queue_capacity;
    size_t queue_offset; /* bytes at the front of the queue already sent */
    size_t queued_bytes; /* bytes not yet sent */
    size_t high_water, low_water;
    int pending_tasks;
};

enum { PYLOOP_STREAM_DEFER = 1 };

/* -EINVAL for a NULL argument, a negative or blocking fd; -errno from
 * fstat/fcntl. Decides once whether the fd is a socket. Nothing to free
 * until reading or writing starts. */
int pyloop_stream_init(pyloop_stream *stream, pyloop_loop *loop, int fd, const pyloop_stream_callbacks *callbacks,
                       void *context);
/* -EINVAL without alloc/on_read, -EBADF once closed or failed, -EBUSY when
 * another reader watches the fd, or the loop's watcher error. An fd the
 * host closed behind the stream (check_fd) fails it as a recv would:
 * on_error, and 0 returned. */
int pyloop_stream_read_start(pyloop_stream *stream);
int pyloop_stream_read_stop(pyloop_stream *stream);
int pyloop_stream_is_reading(const pyloop_stream *stream);
/* Every buffer passed here is released exactly once, whatever this returns:
 * once sent, or when dropped (close, failure, or refused by this call).
 * Returns 0 (everything sent or queued), or -errno: -EPIPE after shutdown,
 * close or failure, -EINVAL for an unknown flag or a NULL data with a
 * length, -ENOMEM, or the error of the send or of watching the fd (-EBUSY:
 * another writer watches it): then the stream is failed, its queue and
 * these buffers dropped, and on_error is NOT called for it (the caller has
 * the error). Zero-length buffers are accepted (released in their turn). */
int pyloop_stream_write(pyloop_stream *stream, const pyloop_stream_buffer *buffers, size_t count, unsigned flags);
/* Sends what is queued (deferred) now, unless the writer watcher is already
 * waiting to. -EPIPE once closed or failed; the send error as for write. */
int pyloop_stream_flush(pyloop_stream *stream);
size_t pyloop_stream_write_queue_size(const pyloop_stream *stream); /* bytes not yet sent */
int pyloop_stream_is_writing(const pyloop_stream *stream);          /* a writer watcher is set */
/* -EINVAL unless high >= low (so high 0 means low 0). */
int pyloop_stream_set_write_limits(pyloop_stream *stream, size_t high, size_t low);
void pyloop_stream_get_write_limits(const pyloop_stream *stream, size_t *high, size_t *low);
int pyloop_stream_write_paused(const pyloop_stream *stream);
/* 0 (also when already shut down), -EPIPE once closed or failed, the error
 * of the flush (the stream is then failed), or the error of a shutdown(2)
 * made now: that one only refuses writes, as asyncio's write_eof raises and
 * reads on (a peer's reset then arrives through the read). */
int pyloop_stream_shutdown(pyloop_stream *stream);
/* Drops the queue (releasing every buffer), stops watching. Idempotent. */
void pyloop_stream_close(pyloop_stream *stream);
int pyloop_stream_closed(const pyloop_stream *stream);

/* For a host that walks or clears the loop's queue (pyloop_foreach_pending,
 * pyloop_clear_pending), where a stream's tasks sit among its own: the
 * stream a queued (fn, arg) belongs to, or NULL when it is not a stream's.
 * drop_task, in a pyloop_clear_pending visitor, forgets such a task as if
 * it had run on a closed stream (its `release` runs) and returns 1; 0 for
 * any other task. Without it, a cleared task never releases its hold. */
pyloop_stream *pyloop_stream_of_task(pyloop_callback fn, void *arg);
int pyloop_stream_drop_task(pyloop_callback fn, void *arg);

#endif

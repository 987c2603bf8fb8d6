/*
 * SocketTransport: asyncio's _SelectorSocketTransport in C, on the stream
 * layer (stream.h) and the transport base (transport_base.h), for TCP and
 * Unix stream sockets, with the behaviour, error types and messages of the
 * running interpreter's class (3.9-3.13), plus one thing inside asyncio's
 * contract: writes made during one callback leave together (docs/
 * architecture.md, "The write rule"). write() with nothing waiting defers
 * at most min(high water, 64 KiB) to the end of the running callback, so
 * headers then body cost one writev; get_write_buffer_size() counts them,
 * pause_writing() still fires only when the kernel refuses bytes, order is
 * kept, nothing waits past the callback. Outside a callback (another thread
 * too) and for larger writes, write() sends at once as asyncio does;
 * close(), abort(), write_eof() and set_write_buffer_limits() send the
 * deferred bytes first.
 *
 * The type subclasses _FlowControlMixin (asyncio's sendfile fallback checks
 * isinstance); its __dict__ keeps attributes assignable (test suites patch
 * transport.write).
 */
#include "transport_base.h"

#include <errno.h>
#include <stddef.h>
#include <sys/socket.h>

/* The most a write defers to its callback's end; -DDEFER_LIMIT=0 turns
 * deferral off, for measuring what it buys. */
#ifndef DEFER_LIMIT
#define DEFER_LIMIT (64 * 1024)
#endif

typedef struct TransportData {
    PYLOOP_STREAM_TRANSPORT_HEAD
    PyLoopDeferred flush; /* owner: the transport */
    PyObject *server;
    PyObject *empty_waiter;
    size_t lost_buffer;    /* what asyncio's _buffer still held when connection_lost ran */
    char lost_paused;      /* _protocol_paused set by a write into lost_buffer */
    char eof;
    char buffered;         /* the protocol is an asyncio.BufferedProtocol */
    char read_bulk;        /* the last read filled BULK_READ or more */
    char sock_fd_readable; /* sock is a _socket.socket: check_fd reads its fd */
} TransportData;

/* What this file alone looks up or probes, once. */
static struct {
    PyObject *buffered_protocol; /* asyncio.protocols.BufferedProtocol */
    int server_attach_takes_transport;
    PyObject *minus_one;
} T;

static PyLoopTransportOps socket_ops;

PyTypeObject *PyLoop_SocketTransportType;

PYLOOP_TRANSPORT_ACCESSORS(TransportData, socket_ops)

/* A PyLoop stream's context is the Python object that holds it: loop_object.c
 * visits it for the collector, once per hold the loop takes. */
static inline TransportData *data_of_stream(pyloop_stream *stream) { return data_of(stream->context); }

/* ---- small helpers ---- */

static void call_server(TransportData *t, PyObject *name)
{
    PyObject *result = T.server_attach_takes_transport
                           ? PyObject_CallMethodObjArgs(t->server, name, object_of(t), NULL)
                           : PyObject_CallMethodObjArgs(t->server, name, NULL);
    if (!result)
        PyErr_WriteUnraisable(object_of(t));
    Py_XDECREF(result);
}

/* ---- the state machine (docs/architecture.md, "Transport states") ---- */

/* One state, read from the fields asyncio's own class keeps (_closing,
 * _conn_lost, _loop: None once connection_lost ran), so the two cannot
 * disagree. Every public entry point looks at it first. */
typedef enum {
    T_OPEN,    /* reading (unless paused) and writing */
    T_CLOSING, /* close() with bytes the kernel refused: they drain, then connection_lost */
    T_LOSING,  /* connection_lost is queued (call_soon): writes are counted, dropped */
    T_LOST     /* connection_lost ran (or never initialised): no loop, no socket */
} transport_state;

static inline transport_state state_of(const TransportData *t)
{
    if (!t->loop)
        return T_LOST;
    if (t->conn_lost)
        return T_LOSING;
    return t->closing ? T_CLOSING : T_OPEN;
}

/* T_LOST with _conn_lost still 0 (connection_lost came after the buffer
 * drained): asyncio's method then reaches `self._loop.<name>` with _loop
 * None and raises that AttributeError; so does this. */
static PyObject *lost_attribute_error(const char *name)
{
    PyErr_Format(PyExc_AttributeError, "'NoneType' object has no attribute '%s'", name);
    return NULL;
}

/* ---- closing and errors ---- */

static PyObject *call_connection_lost(TransportData *t, PyObject *exception);

/* _force_close's `self._buffer.clear()`: bytes this callback deferred are
 * bytes asyncio's write() handed to the kernel at once: they leave before
 * the rest is dropped (write() then abort() delivers the write, as on
 * asyncio). A failure here is the one being reported, or moot. */
static void socket_drop_buffer(PyLoopTransport *base)
{
    TransportData *t = (TransportData *)base;

    if (t->flush.queued && !pyloop_stream_closed(&t->stream))
        (void)pyloop_stream_flush(&t->stream);
    if (pyloop_stream_write_queue_size(&t->stream) || pyloop_stream_is_writing(&t->stream))
        pyloop_stream_close(&t->stream);
    t->lost_buffer = 0;
}

/* asyncio's _force_close: the base's, over the hooks above. */
static int force_close(TransportData *t, PyObject *exception) { return PyLoopTransport_ForceClose(base_of(t), exception); }

/* asyncio's _SelectorTransport._fatal_error: an OSError is only logged (in
 * debug mode), anything else goes to the exception handler; then
 * _force_close. The pipes classify apart (their own fatal_error). */
static void fatal_error(TransportData *t, PyObject *exception, const char *message)
{
    PyObject *self = object_of(t);

    if (!t->loop)
        return;
    Py_INCREF(self);
    PyLoopTransport_ReportFatal(t->loop, self, t->protocol, exception, message,
                                PyObject_TypeCheck(exception, (PyTypeObject *)PyExc_OSError));
    if (force_close(t, exception) < 0)
        PyErr_WriteUnraisable(self);
    Py_DECREF(self);
}

/* fatal_error() with the exception that is raised now. Returns -1 when it
 * was KeyboardInterrupt/SystemExit, which is left raised for the caller. */
static int fail_with_raised(TransportData *t, const char *message)
{
    PyObject *exception;

    if (PyLoop_IsFatalToRun())
        return -1;
    exception = PyLoop_FetchException();
    fatal_error(t, exception, message);
    Py_DECREF(exception);
    return 0;
}

/* fatal_error() with OSError(error): the stream's read or write failed. */
static void fail_with_errno(TransportData *t, int error, const char *message)
{
    PyObject *exception = PyLoopTransport_OSError(error);

    fatal_error(t, exception, message);
    Py_XDECREF(exception);
}

/* A protocol callback raised: asyncio lets KeyboardInterrupt/SystemExit
 * out of the transport method; from a loop task that means ending the run. */
static void end_run_or_fail(TransportData *t, const char *message)
{
    if (fail_with_raised(t, message) < 0 && t->loop)
        PyLoopLoop_EndRun(t->loop);
}

/* asyncio's _SelectorTransport._call_connection_lost: connection_lost(exc)
 * if connected, then (finally) the socket closed, loop and protocol
 * forgotten, the server detached; 3.12+ fails a sendfile's empty waiter.
 * Per type: the pipes release other things, and a failing sock.close() is
 * unraisable here where the pipe's propagates. */
static PyObject *call_connection_lost(TransportData *t, PyObject *exception)
{
    PyObject *self = object_of(t), *result = Py_None, *sock = t->sock, *server = t->server, *protocol = t->protocol;
    PyObject *waiter = t->empty_waiter;
    LoopObject *loop = t->loop;

    Py_INCREF(self);
    if (t->protocol_connected && protocol) {
        result = PyObject_CallMethodObjArgs(protocol, PyLoop_str.connection_lost, exception, NULL);
    } else {
        Py_INCREF(result);
    }
    /* finally: what connection_lost wrote and the kernel refused stays in
     * asyncio's _buffer, unsent, and get_write_buffer_size() counts it. */
    t->lost_buffer += pyloop_stream_write_queue_size(&t->stream);
    pyloop_stream_close(&t->stream);
    t->sock = NULL;
    t->protocol = NULL;
    t->loop = NULL;
    t->server = NULL;
    if (sock) {
        PyObject *error = result ? NULL : PyLoop_FetchException();
        PyObject *closed = PyObject_CallMethodObjArgs(sock, PyLoop_str.close, NULL);
        if (!closed)
            PyErr_WriteUnraisable(self);
        Py_XDECREF(closed);
        if (error)
            PyLoop_RestoreException(error);
        Py_DECREF(sock);
    }
    if (server) {
        PyObject *error = result ? NULL : PyLoop_FetchException();
        t->server = server; /* call_server reads it */
        call_server(t, PyLoop_str._detach);
        t->server = NULL;
        if (error)
            PyLoop_RestoreException(error);
        Py_DECREF(server);
    }
    Py_XDECREF(protocol);
#if PY_VERSION_HEX >= 0x030C0000
    if (result && waiter) {
        /* 3.12+: a sendfile waiting for the buffer learns it never drains. */
        PyObject *error = PyObject_CallFunction(PyExc_ConnectionError, "s", "Connection is closed by peer");
        PyObject *set = error ? PyObject_CallMethodObjArgs(waiter, PyLoop_str.set_exception, error, NULL) : NULL;
        Py_XDECREF(error);
        if (!set)
            Py_CLEAR(result);
        Py_XDECREF(set);
    }
#else
    (void)waiter;
#endif
    Py_XDECREF(loop);
    Py_DECREF(self);
    return result;
}

/* ---- the stream's callbacks ---- */

static void eof_received(TransportData *t);

static void deliver_count(TransportData *t, ssize_t nread);
static int on_check_fd(pyloop_stream *stream);

/* get_buffer(-1), checked as asyncio's _read_ready__get_buffer checks it,
 * and exported writable as recv_into() takes it: the buffer object (a new
 * reference, *view filled), or NULL when the read is over (reported). */
static PyObject *protocol_buffer(TransportData *t, Py_buffer *view)
{
    PyObject *buffer = PyObject_CallMethodObjArgs(t->protocol, PyLoop_str.get_buffer, T.minus_one, NULL);
    Py_ssize_t size;

    if (!buffer || (size = PyObject_Size(buffer)) < 0) {
        Py_XDECREF(buffer);
        end_run_or_fail(t, "Fatal error: protocol.get_buffer() call failed.");
        return NULL;
    }
    if (size == 0) {
        Py_DECREF(buffer);
        PyErr_SetString(PyExc_RuntimeError, "get_buffer() returned an empty buffer");
        end_run_or_fail(t, "Fatal error: protocol.get_buffer() call failed.");
        return NULL;
    }
    if (PyObject_GetBuffer(buffer, view, PyBUF_WRITABLE) < 0) {
        /* recv_into()'s own refusal ("w*": a writable C-contiguous
         * buffer), the same on 3.9-3.13: a TypeError, whatever the
         * exporter raised. */
        PyErr_Clear();
        PyErr_Format(PyExc_TypeError, "recv_into() argument 1 must be read-write bytes-like object, not %.50s",
                     buffer == Py_None ? "None" : Py_TYPE(buffer)->tp_name);
        Py_DECREF(buffer);
        end_run_or_fail(t, "Fatal read error on socket transport");
        return NULL;
    }
    if (!t->sock || !t->protocol) { /* the protocol ran connection_lost itself: the fd is closed */
        PyBuffer_Release(view);
        Py_DECREF(buffer);
        return NULL;
    }
    return buffer;
}

/* asyncio's _read_ready__get_buffer, whole: get_buffer(-1), recv_into(),
 * buffer_updated(), made here and not by the stream: get_buffer() may pause,
 * close, abort or set another protocol, and asyncio still fills the buffer
 * and calls buffer_updated() on the protocol set by then (the stream would
 * skip a read its alloc stopped). The buffer is exported only around the
 * recv, as recv_into() does. Returns 1: the stream has nothing to read. */
static int read_for_protocol(TransportData *t)
{
    PyObject *buffer, *exception;
    Py_buffer view;
    ssize_t nread;
    int error;

    if (!(buffer = protocol_buffer(t, &view)))
        return 1;
    /* The stream's read is skipped here, so its check_fd is made here: a
     * socket closed behind the transport is EBADF, its number never read. */
    if (on_check_fd(&t->stream) < 0) {
        nread = -1;
        error = EBADF;
    } else {
        nread = recv(t->fd, view.buf, (size_t)view.len, MSG_DONTWAIT);
        error = errno;
    }
    PyBuffer_Release(&view);
    Py_DECREF(buffer);
    if (!t->protocol) /* releasing the buffer ran connection_lost */
        return 1;
    if (nread < 0) {
        if (error == EAGAIN || error == EWOULDBLOCK || error == EINTR)
            return 1; /* asyncio's BlockingIOError/InterruptedError: nothing */
        exception = PyLoopTransport_OSError(error);
        if (exception) {
            fatal_error(t, exception, "Fatal read error on socket transport");
            Py_DECREF(exception);
        } else {
            PyErr_WriteUnraisable(object_of(t));
        }
    } else if (nread == 0) {
        eof_received(t);
    } else {
        deliver_count(t, nread);
    }
    return 1;
}

/* data_received reads land in the shared read buffer and are copied into
 * bytes of the size read, as uvloop does; once the allocator is warm the
 * copy is what costs, so after a read of BULK_READ or more (an upload) the
 * next one goes straight into its own bytes object, as asyncio's. */
#define BULK_READ (64 * 1024)

static int alloc_bytes(TransportData *t, void **data, size_t *length)
{
    Py_ssize_t size;

    /* The bytes to read, as sock.recv(self.max_size) takes them: an int,
     * or whatever asyncio's recv would raise for anything else. */
    if (PyLoopTransport_ReadSize(object_of(t), t->dict, PyLoop_SocketTransportType, PyLoop_str.max_size, "recv",
                                 &size) < 0) {
        end_run_or_fail(t, "Fatal read error on socket transport");
        return 1;
    }
    if (size == 0) { /* recv(0) returns b'': asyncio's end of file */
        eof_received(t);
        return 1;
    }
    /* A read that found nothing (EAGAIN) left the last buffer unused: the
     * bytes of this one are not there, whichever it was. */
    t->read_shared = 0;
    Py_CLEAR(t->read_bytes);
    if (!t->read_bulk && (size_t)size <= PYLOOP_MAX_SIZE_DEFAULT) {
        size_t room;
        t->read_shared = 1;
        *data = PyLoopTransport_SharedReadBuffer(&room);
        *length = (size_t)size;
        return 0;
    }
    t->read_bytes = PyBytes_FromStringAndSize(NULL, size);
    if (!t->read_bytes) {
        end_run_or_fail(t, "Fatal read error on socket transport");
        return 1;
    }
    *data = PyBytes_AS_STRING(t->read_bytes);
    *length = (size_t)size;
    return 0;
}

static int on_alloc(pyloop_stream *stream, void **data, size_t *length)
{
    TransportData *t = data_of_stream(stream);
    PyObject *self = object_of(t);
    LoopObject *loop = t->loop;
    int rc;

    if (t->conn_lost || !t->protocol || !loop)
        return 1;
    PyLoopTransport_FrameEnter(self, loop);
    rc = t->buffered ? read_for_protocol(t) : alloc_bytes(t, data, length);
    /* No read follows for the stream to report: what the protocol wrote
     * in its callbacks leaves now, as at the end of on_read. */
    PyLoopTransport_FrameLeave(self, loop, rc == 1);
    return rc;
}

/* asyncio's _read_ready__on_eof. */
static void eof_received(TransportData *t)
{
    PyObject *keep_open;
    int truth;

    PyLoopTransport_DebugLog(base_of(t), "%r received EOF");
    keep_open = PyObject_CallMethodObjArgs(t->protocol, PyLoop_str.eof_received, NULL);
    truth = keep_open ? PyObject_IsTrue(keep_open) : -1;
    Py_XDECREF(keep_open);
    if (truth < 0) {
        /* KeyboardInterrupt/SystemExit leave asyncio's reader in place, so
         * the next run reads end of file again: the stream stopped reading
         * at end of file, start it again. */
        if (PyLoop_IsFatalToRun() && !t->closing && !t->paused && t->loop)
            (void)pyloop_stream_read_start(&t->stream);
        end_run_or_fail(t, "Fatal error: protocol.eof_received() call failed.");
        return;
    }
    if (truth) {
        /* The protocol may still write; nothing more can be read. */
        pyloop_stream_read_stop(&t->stream);
        return;
    }
    PyObject *closed = PyObject_CallMethod(object_of(t), "close", NULL);
    if (!closed && PyLoop_IsFatalToRun())
        PyLoopLoop_EndRun(t->loop);
    else if (!closed)
        PyErr_WriteUnraisable(object_of(t));
    Py_XDECREF(closed);
}

static void deliver_bytes(TransportData *t, ssize_t nread)
{
    PyObject *data = t->read_bytes, *result;

    t->read_bytes = NULL;
    t->read_bulk = nread >= BULK_READ;
    if (t->read_shared) {
        t->read_shared = 0;
        size_t room;
        data = PyBytes_FromStringAndSize(PyLoopTransport_SharedReadBuffer(&room), nread);
        if (!data) {
            end_run_or_fail(t, "Fatal read error on socket transport");
            return;
        }
    } else if (nread != PyBytes_GET_SIZE(data) && _PyBytes_Resize(&data, nread) < 0) {
        end_run_or_fail(t, "Fatal read error on socket transport");
        return;
    }
    result = PyObject_CallMethodObjArgs(t->protocol, PyLoop_str.data_received, data, NULL);
    Py_DECREF(data);
    if (!result)
        end_run_or_fail(t, "Fatal error: protocol.data_received() call failed.");
    Py_XDECREF(result);
}

static void deliver_count(TransportData *t, ssize_t nread)
{
    PyObject *count = PyLong_FromSsize_t(nread), *result;

    result = count ? PyObject_CallMethodObjArgs(t->protocol, PyLoop_str.buffer_updated, count, NULL) : NULL;
    Py_XDECREF(count);
    if (!result)
        end_run_or_fail(t, "Fatal error: protocol.buffer_updated() call failed.");
    Py_XDECREF(result);
}

static void on_read(pyloop_stream *stream, void *Py_UNUSED(data), ssize_t nread)
{
    TransportData *t = data_of_stream(stream);
    PyObject *self = object_of(t);
    LoopObject *loop = t->loop;

    PyLoopTransport_FrameEnter(self, loop);
    /* Only alloc_bytes lets the stream read (read_for_protocol reads
     * itself): the bytes are data_received's, whatever protocol is set. */
    if (nread > 0 && t->protocol) {
        deliver_bytes(t, nread);
    } else if (nread > 0) {
        Py_CLEAR(t->read_bytes);
        t->read_shared = 0;
    } else {
        Py_CLEAR(t->read_bytes);
        t->read_shared = 0;
        if (nread == 0) {
            eof_received(t);
        } else {
            fail_with_errno(t, (int)-nread, "Fatal read error on socket transport");
        }
    }
    PyLoopTransport_FrameLeave(self, loop, 1);
}

/* The stream's flow-control callbacks: protocol.pause_writing() and
 * resume_writing(), as _FlowControlMixin calls them. */
static void protocol_flow(pyloop_stream *stream, PyObject *name, const char *failure)
{
    TransportData *t = data_of_stream(stream);
    if (t->protocol && t->loop)
        PyLoopTransport_CallProtocolFlow(t->loop, object_of(t), t->protocol, name, failure);
}
static void on_write_pause(pyloop_stream *s) { protocol_flow(s, PyLoop_str.pause_writing, "protocol.pause_writing() failed"); }
static void on_write_resume(pyloop_stream *s) { protocol_flow(s, PyLoop_str.resume_writing, "protocol.resume_writing() failed"); }

/* asyncio's _write_ready, once the buffer is empty: the empty waiter, and
 * close after drain (the stream does shutdown after drain itself). */
static void drained(TransportData *t)
{
    PyObject *self = object_of(t);

    Py_INCREF(self);
    if (t->empty_waiter) {
        PyObject *set = PyObject_CallMethodObjArgs(t->empty_waiter, PyLoop_str.set_result, Py_None, NULL);
        if (!set)
            PyErr_WriteUnraisable(self);
        Py_XDECREF(set);
    }
    if (t->closing && t->loop && !t->conn_lost) {
        /* asyncio calls it from _write_ready, a Handle: what it raises
         * goes to the exception handler ("Exception in callback ..."). */
        LoopObject *loop = t->loop;
        PyObject *result;

        Py_INCREF(loop);
        /* gh-156512 (socket_support.c): from here on the transport counts
         * and drops writes, and abort() does nothing, as after close(). */
        if (PyLoopSocket_rules.drain_counts_lost)
            t->conn_lost++;
        result = call_connection_lost(t, Py_None);
        if (!result)
            PyLoopTransport_ReportAsCallback(self, loop, PyLoop_str._call_connection_lost);
        Py_XDECREF(result);
        Py_DECREF(loop);
    }
    Py_DECREF(self);
}

static void on_drain(pyloop_stream *stream)
{
    TransportData *t = data_of_stream(stream);
    LoopObject *loop = t->loop;

    Py_XINCREF(loop);
    drained(t);
    if (loop) {
        PyLoopLoop_RunDeferred(loop);
        Py_DECREF(loop);
    }
}

static void on_error(pyloop_stream *stream, int error, int while_writing)
{
    TransportData *t = data_of_stream(stream);
    PyObject *self = object_of(t), *exception = PyLoopTransport_OSError(-error);

    Py_INCREF(self);
    if (while_writing) {
        fatal_error(t, exception, "Fatal write error on socket transport");
        if (t->empty_waiter) {
            PyObject *set = PyObject_CallMethodObjArgs(t->empty_waiter, PyLoop_str.set_exception, exception, NULL);
            if (!set)
                PyErr_WriteUnraisable(self);
            Py_XDECREF(set);
        }
    } else {
        fatal_error(t, exception, "Fatal read error on socket transport");
    }
    Py_XDECREF(exception);
    Py_DECREF(self);
}

/* The stream's check_fd: asyncio's transport goes through self._sock, so
 * once the program closed it its next call fails with EBADF; the number may
 * be a newcomer's by then, which must never see a byte of this connection.
 * One field read per system call, no Python call. */
static int on_check_fd(pyloop_stream *stream)
{
    TransportData *t = data_of_stream(stream);

    if (t->sock_fd_readable && (!t->sock || PyLoopSocket_Fd(t->sock) != t->fd))
        return -EBADF;
    return 0;
}

static const pyloop_stream_callbacks stream_callbacks = {
    .alloc = on_alloc,
    .on_read = on_read,
    .on_write_pause = on_write_pause,
    .on_write_resume = on_write_resume,
    .on_drain = on_drain,
    .on_error = on_error,
    .hold = PyLoopTransport_OnHold,
    .release = PyLoopTransport_OnRelease,
    .on_watch = PyLoopTransport_OnWatch,
    .task_enter = PyLoopTransport_OnTaskEnter,
    .task_exit = PyLoopTransport_OnTaskExit,
    .check_fd = on_check_fd,
};

/* ---- writing ---- */

/* The deferred flush (see the top of the file). */
static void run_flush(PyLoopDeferred *entry)
{
    TransportData *t = (TransportData *)((char *)entry - offsetof(TransportData, flush));
    /* the context of the callback's first deferred write (PyLoopContexts) */
    PyObject *context = t->contexts.deferred;
    int rc, entered;

    t->contexts.deferred = NULL;
    if (!t->loop || t->conn_lost) {
        Py_XDECREF(context);
        return;
    }
    entered = context && PyContext_Enter(context) == 0;
    if (context && !entered)
        PyErr_WriteUnraisable(entry->owner);
    rc = pyloop_stream_flush(&t->stream);
    if (rc < 0) {
        fail_with_errno(t, -rc, "Fatal write error on socket transport");
    } else if (!pyloop_stream_write_queue_size(&t->stream)) {
        drained(t); /* a flush that sent it all: the stream calls nothing */
    }
    if (entered && PyContext_Exit(context) < 0)
        PyErr_WriteUnraisable(entry->owner);
    Py_XDECREF(context);
}

/* Defers the flush to the end of the callback; its first deferred write
 * takes the copy of its context (PyLoopContexts' `deferred`). */
static int defer_flush(TransportData *t)
{
    PyObject *context;

    if (t->flush.queued)
        return 1;
    if (!(context = PyContext_CopyCurrent())) {
        PyErr_Clear(); /* no memory: send now instead */
        return 0;
    }
    if (!PyLoopLoop_Defer(t->loop, &t->flush)) {
        Py_DECREF(context);
        return 0;
    }
    Py_XSETREF(t->contexts.deferred, context);
    return 1;
}

/* Sends now what this callback deferred (close, set_write_buffer_limits).
 * -1 when the send failed, reported as asyncio's write() would (fatal_error). */
static int flush_deferred(TransportData *t)
{
    int rc;

    if (!t->flush.queued || pyloop_stream_is_writing(&t->stream) || !pyloop_stream_write_queue_size(&t->stream))
        return 0;
    rc = pyloop_stream_flush(&t->stream);
    if (rc < 0) {
        fail_with_errno(t, -rc, "Fatal write error on socket transport");
        return -1;
    }
    return 0;
}

static size_t defer_limit(TransportData *t)
{
    size_t high, low, limit = DEFER_LIMIT;
    pyloop_stream_get_write_limits(&t->stream, &high, &low);
    return high < limit ? high : limit;
}

/* Sends or queues `count` bytes objects; the stream takes a reference to
 * each (and releases every one exactly once, whatever it returns). */
static int write_buffers(TransportData *t, PyObject **chunks, Py_ssize_t count)
{
    pyloop_stream_buffer stack[8], *buffers = stack;
    size_t total = 0, queued = pyloop_stream_write_queue_size(&t->stream);
    int refused = pyloop_stream_is_writing(&t->stream); /* the kernel is behind */
    unsigned flags = 0;
    Py_ssize_t i;
    int rc;

    if (count > 8 && !(buffers = PyMem_New(pyloop_stream_buffer, count))) {
        PyErr_NoMemory();
        return -1;
    }
    for (i = 0; i < count; i++) {
        Py_INCREF(chunks[i]);
        buffers[i] = (pyloop_stream_buffer){PyBytes_AS_STRING(chunks[i]), (size_t)PyBytes_GET_SIZE(chunks[i]),
                                            PyLoopTransport_ReleaseOwner, chunks[i]};
        total += buffers[i].length;
    }
    /* Defer while the kernel refused nothing (the queue holds only what this
     * callback deferred) and the lot stays small; else what was deferred goes
     * first, with these. Never once close() ran: that is a write inside the
     * connection_lost after the drain, sent at once by asyncio (deferred, it
     * would be dropped as the socket closes). */
    if (!refused && !t->closing && queued + total <= defer_limit(t) && defer_flush(t))
        flags = PYLOOP_STREAM_DEFER;
    rc = pyloop_stream_write(&t->stream, buffers, (size_t)count, flags);
    if (buffers != stack)
        PyMem_Free(buffers);
    if (rc < 0) {
        fail_with_errno(t, -rc, "Fatal write error on socket transport");
    } else if (queued && !pyloop_stream_write_queue_size(&t->stream)) {
        drained(t); /* what was deferred went out with these */
    }
    return 0;
}

/* write() once the connection is lost: counted, and logged past asyncio's
 * threshold. Returns 1 (nothing to send), 0 (go on) or -1. */
static int count_lost_write(TransportData *t)
{
    if (!t->conn_lost)
        return 0;
    if (t->conn_lost >= PyLoop_asyncio.connlost_threshold) {
        PyObject *result = PyObject_CallMethod(PyLoop_asyncio.logger, "warning", "s", "socket.send() raised exception.");
        if (!result)
            return -1;
        Py_DECREF(result);
    }
    t->conn_lost++;
    return 1;
}

/* write() once connection_lost left bytes unsent (lost_buffer, _conn_lost
 * 0), or inside it after a 3.12.0-3.13.0 writelines() left some: asyncio's
 * write() appends (its buffer is not empty) and runs _maybe_pause_protocol,
 * whose failing pause_writing() (protocol None) is reported through _loop,
 * None. (Inside connection_lost the protocol is still there: not here.) */
static PyObject *lost_buffer_write(TransportData *t, PyObject *data)
{
    size_t high;
    Py_ssize_t size;
#if PY_VERSION_HEX >= 0x030C0000
    size = PyObject_Size(data); /* the buffer holds data itself: len() counts */
#else
    Py_buffer view;

    if (PyObject_GetBuffer(data, &view, PyBUF_FULL_RO) < 0) /* bytearray.extend(data) */
        return NULL;
    size = view.len;
    PyBuffer_Release(&view);
#endif
    if (size < 0)
        return NULL;
    t->lost_buffer += (size_t)size;
    pyloop_stream_get_write_limits(&t->stream, &high, NULL);
    if (t->loop || t->lost_buffer <= high || t->lost_paused || pyloop_stream_write_paused(&t->stream))
        Py_RETURN_NONE;
    t->lost_paused = 1;
    return lost_attribute_error("call_exception_handler");
}

/* What write() and writelines() (3.12+) check first, in asyncio's order:
 * after write_eof(), during a sendfile, then nothing to write (empty: len
 * 0; an error from len() too). 1: go on, 0: return None, -1: raised. */
static int write_allowed(TransportData *t, PyObject *data, const char *method)
{
    if (t->eof) {
        PyErr_Format(PyExc_RuntimeError, "Cannot call %s() after write_eof()", method);
        return -1;
    }
    if (t->empty_waiter) {
        PyErr_Format(PyExc_RuntimeError, "unable to %s; sendfile is in progress", method);
        return -1;
    }
    return PyObject_IsTrue(data);
}

static PyObject *write_data(PyObject *self, PyObject *data)
{
    TransportData *t = data_of(self);
    PyObject *chunk;
    int rc;

    if (!PyBytes_Check(data) && !PyByteArray_Check(data) && !PyMemoryView_Check(data)) {
        PyErr_Format(PyExc_TypeError, "data argument must be a bytes-like object, not '%.200s'",
                     Py_TYPE(data)->tp_name);
        return NULL;
    }
    if ((rc = write_allowed(t, data, "write")) <= 0) {
        if (rc < 0)
            return NULL;
        Py_RETURN_NONE;
    }
    if ((rc = count_lost_write(t)) != 0) {
        if (rc < 0)
            return NULL;
        Py_RETURN_NONE;
    }
    if (t->lost_buffer && state_of(t) != T_OPEN)
        return lost_buffer_write(t, data);
    if (state_of(t) == T_LOST) /* the sock.send(data) on None, reported through _loop None */
        return lost_attribute_error("call_exception_handler");
    chunk = PyLoopTransport_ImmutableBytes(data);
    if (!chunk)
        return NULL;
    rc = write_buffers(t, &chunk, 1);
    Py_DECREF(chunk);
    return rc < 0 ? NULL : Py_NewRef(Py_None);
}

static const PyLoopParams write_params = {"_SelectorSocketTransport.write", {"data"}, 1, 1};

/* write(data): one positional argument takes no binding (the hot path). */
static PyObject *transport_write(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    PyObject *bound[PYLOOP_MAX_PARAMS];

    if (nargs == 1 && !kwnames)
        return write_data(self, args[0]);
    if (PyLoopArgs_Bind(&write_params, args, nargs, kwnames, bound) < 0)
        return NULL;
    return write_data(self, bound[0]);
}

#if PY_VERSION_HEX >= 0x030C0000
static const PyLoopParams writelines_params = {"_SelectorSocketTransport.writelines", {"list_of_data"}, 1, 1};

/* writelines()'s items as bytes objects (new references), the empty ones
 * left out: *kept of them in chunks. -1 raised (chunks released). */
static int collect_chunks(PyObject *sequence, PyObject **chunks, Py_ssize_t *kept)
{
    Py_ssize_t i, count = PySequence_Fast_GET_SIZE(sequence);

    *kept = 0;
    for (i = 0; i < count; i++) {
        PyObject *item = PySequence_Fast_GET_ITEM(sequence, i), *view = PyMemoryView_FromObject(item);
        PyObject *chunk = view ? PyLoopTransport_ImmutableBytes(item) : NULL;
        Py_XDECREF(view);
        if (!chunk) {
            while (*kept)
                Py_DECREF(chunks[--*kept]);
            return -1;
        }
        if (PyBytes_GET_SIZE(chunk) == 0) {
            Py_DECREF(chunk);
            continue;
        }
        chunks[(*kept)++] = chunk;
    }
    return 0;
}

/* The items of writelines() to the buffer, sent at once. */
static int write_sequence(TransportData *t, PyObject *sequence)
{
    Py_ssize_t count = PySequence_Fast_GET_SIZE(sequence), kept, i;
    PyObject **chunks = PyMem_New(PyObject *, count ? count : 1);
    int rc = 0;

    if (!chunks) {
        PyErr_NoMemory();
        return -1;
    }
    if (collect_chunks(sequence, chunks, &kept) < 0) {
        PyMem_Free(chunks);
        return -1;
    }
    if (count && state_of(t) == T_LOST) {
        /* asyncio buffers the items, then calls self._write_ready, which
         * its _call_connection_lost set to None. */
        for (i = 0; i < kept; i++)
            t->lost_buffer += (size_t)PyBytes_GET_SIZE(chunks[i]);
        PyErr_SetString(PyExc_TypeError, "'NoneType' object is not callable");
        rc = -1;
    } else if (count && state_of(t) == T_CLOSING && PyLoopSocket_rules.close_clears_write_ready) {
        /* 3.12.0-3.13.0: close() set _write_ready to None, so asyncio
         * buffers the items and then calls None. The writer registered
         * before still drains them; inside the connection_lost that the
         * drain calls none is left: they stay unsent (lost_buffer). */
        if (kept && pyloop_stream_is_writing(&t->stream)) {
            rc = write_buffers(t, chunks, kept);
        } else {
            for (i = 0; i < kept; i++)
                t->lost_buffer += (size_t)PyBytes_GET_SIZE(chunks[i]);
        }
        if (rc == 0) {
            PyErr_SetString(PyExc_TypeError, "'NoneType' object is not callable");
            rc = -1;
        }
    } else if (kept && !t->conn_lost) {
        rc = write_buffers(t, chunks, kept);
    }
    for (i = 0; i < kept; i++)
        Py_DECREF(chunks[i]);
    PyMem_Free(chunks);
    return rc;
}

/* 3.12+: each item goes to the buffer as is, and the lot is sent at once. */
static PyObject *writelines_data(PyObject *self, PyObject *list_of_data)
{
    TransportData *t = data_of(self);
    PyObject *sequence;
    int rc;

    if ((rc = write_allowed(t, list_of_data, "writelines")) <= 0) {
        if (rc < 0)
            return NULL;
        Py_RETURN_NONE;
    }
    /* The bug-fix releases count and drop as write() does, before looking
     * at the items (socket_support.c). */
    if (PyLoopSocket_rules.writelines_counts_lost && (rc = count_lost_write(t)) != 0) {
        if (rc < 0)
            return NULL;
        Py_RETURN_NONE;
    }
    sequence = PySequence_Fast(list_of_data, "writelines() argument must be iterable");
    if (!sequence)
        return NULL;
    rc = write_sequence(t, sequence);
    Py_DECREF(sequence);
    return rc < 0 ? NULL : Py_NewRef(Py_None);
}
#else
static const PyLoopParams writelines_params = {"WriteTransport.writelines", {"list_of_data"}, 1, 1};

/* 3.9-3.11: WriteTransport.writelines, write(b''.join(list_of_data)). */
static PyObject *writelines_data(PyObject *self, PyObject *list_of_data)
{
    PyObject *empty = PyBytes_FromStringAndSize(NULL, 0), *joined, *result;

    if (!empty)
        return NULL;
    joined = _PyBytes_Join(empty, list_of_data);
    Py_DECREF(empty);
    if (!joined)
        return NULL;
    result = write_data(self, joined);
    Py_DECREF(joined);
    return result;
}
#endif

static PyObject *transport_writelines(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    PyObject *bound[PYLOOP_MAX_PARAMS];

    if (PyLoopArgs_Bind(&writelines_params, args, nargs, kwnames, bound) < 0)
        return NULL;
    return writelines_data(self, bound[0]);
}

static PyObject *transport_write_eof(PyObject *self, PyObject *Py_UNUSED(unused))
{
    TransportData *t = data_of(self);
    int rc;

    if (t->closing || t->eof || state_of(t) == T_LOST)
        Py_RETURN_NONE;
    /* What this callback deferred, asyncio's write() had sent: a failure
     * there is its fatal error, after which write_eof does nothing. */
    if (flush_deferred(t) < 0)
        Py_RETURN_NONE;
    t->eof = 1;
    /* A failing shutdown(2) raises, and reading goes on (stream.h): the
     * peer's reset reaches the protocol through the read, as on asyncio. */
    rc = pyloop_stream_shutdown(&t->stream);
    if (rc < 0) {
        errno = -rc;
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    Py_RETURN_NONE;
}

static PyObject *transport_can_write_eof(PyObject *Py_UNUSED(self), PyObject *Py_UNUSED(unused))
{
    Py_RETURN_TRUE;
}

static PyObject *transport_get_write_buffer_size(PyObject *self, PyObject *Py_UNUSED(unused))
{
    TransportData *t = data_of(self);

    return PyLong_FromSize_t(pyloop_stream_write_queue_size(&t->stream) + t->lost_buffer);
}

/* set_write_buffer_limits once the base stored the limits: asyncio's
 * _maybe_pause_protocol compares the new limit with what the kernel
 * refused; deferred bytes are not that (and once the flush sent them,
 * nothing would resume the protocol): they leave first. */
static int socket_limits_set(PyLoopTransport *base, PyObject *self)
{
    TransportData *t = (TransportData *)base;

    if (state_of(t) != T_LOST)
        (void)flush_deferred(t);
    return PyLoopTransport_StreamLimitsSet(base, self);
}

/* ---- reading state, closing ---- */

/* Scheduled by the constructor after connection_made: asyncio's
 * call_soon(self._add_reader, fd, self._read_ready). */
static PyObject *transport_add_reader_after_connect(PyObject *self, PyObject *Py_UNUSED(unused))
{
    return PyLoopTransport_StartReading(base_of(data_of(self))) < 0 ? NULL : Py_NewRef(Py_None);
}

/* close()'s `if not self._buffer`: deferred bytes are bytes asyncio's
 * write() already handed to the kernel, so they leave now and what the
 * kernel refused decides "connection_lost soon" or "after the drain", as on
 * asyncio. A failed send counts as buffered (fatal_error queued
 * connection_lost); after connection_lost, lost_buffer is the buffer. */
static int socket_has_buffer(PyLoopTransport *base)
{
    TransportData *t = (TransportData *)base;

    if (flush_deferred(t) < 0)
        return 1;
    return pyloop_stream_write_queue_size(&t->stream) != 0 || t->lost_buffer;
}

static PyObject *transport_close(PyObject *self, PyObject *Py_UNUSED(unused))
{
    return PyLoopTransport_Close(base_of(data_of(self))) < 0 ? NULL : Py_NewRef(Py_None);
}

static PyObject *transport_abort(PyObject *self, PyObject *Py_UNUSED(unused))
{
    return force_close(data_of(self), NULL) < 0 ? NULL : Py_NewRef(Py_None);
}

static PyObject *transport_force_close(PyObject *self, PyObject *exception)
{
    return force_close(data_of(self), exception == Py_None ? NULL : exception) < 0 ? NULL : Py_NewRef(Py_None);
}

static PyObject *transport_fatal_error(PyObject *self, PyObject *args, PyObject *keywords)
{
    static char *names[] = {"exc", "message", NULL};
    PyObject *exception;
    const char *message = "Fatal error on transport";

    if (!PyArg_ParseTupleAndKeywords(args, keywords, "O|s:_fatal_error", names, &exception, &message))
        return NULL;
    fatal_error(data_of(self), exception, message);
    Py_RETURN_NONE;
}

static PyObject *transport_call_connection_lost(PyObject *self, PyObject *exception)
{
    return call_connection_lost(data_of(self), exception);
}

static PyObject *transport_make_empty_waiter(PyObject *self, PyObject *Py_UNUSED(unused))
{
    TransportData *t = data_of(self);
    PyObject *set;

    if (t->empty_waiter) {
        PyErr_SetString(PyExc_RuntimeError, "Empty waiter is already set");
        return NULL;
    }
    if (state_of(t) == T_LOST)
        return lost_attribute_error("create_future");
    t->empty_waiter = PyObject_CallMethodObjArgs((PyObject *)t->loop, PyLoop_str.create_future, NULL);
    if (!t->empty_waiter)
        return NULL;
    if (!pyloop_stream_write_queue_size(&t->stream)) {
        set = PyObject_CallMethodObjArgs(t->empty_waiter, PyLoop_str.set_result, Py_None, NULL);
        if (!set)
            return NULL;
        Py_DECREF(set);
    }
    Py_INCREF(t->empty_waiter);
    return t->empty_waiter;
}

static PyObject *transport_reset_empty_waiter(PyObject *self, PyObject *Py_UNUSED(unused))
{
    Py_CLEAR(data_of(self)->empty_waiter);
    Py_RETURN_NONE;
}

/* ---- protocol, extra info, repr ---- */

/* set_protocol: _SelectorSocketTransport's, which also notes whether the
 * protocol is a BufferedProtocol (before it is stored, as asyncio's). */
static int socket_protocol_set(PyLoopTransport *base, PyObject *protocol)
{
    TransportData *t = (TransportData *)base;
    int buffered = PyObject_IsInstance(protocol, T.buffered_protocol);

    if (buffered < 0)
        return -1;
    t->buffered = (char)buffered;
    t->protocol_connected = 1;
    return 0;
}

static int set_protocol(TransportData *t, PyObject *protocol)
{
    if (socket_protocol_set(base_of(t), protocol) < 0)
        return -1;
    Py_INCREF(protocol);
    Py_XSETREF(t->protocol, protocol);
    return 0;
}

/* <SocketTransport fd=7 read=polling write=<idle, bufsize=0>>, as asyncio. */
static PyObject *transport_repr(PyObject *self)
{
    TransportData *t = data_of(self);
    const char *name = PyLoop_TypeName(self), *state = PyLoopTransport_ReprState(base_of(t));

    if (t->loop && !t->loop->closed)
        return PyUnicode_FromFormat("<%s%s fd=%d read=%s write=<%s, bufsize=%zu>>", name, state, t->fd,
                                    pyloop_stream_is_reading(&t->stream) ? "polling" : "idle",
                                    pyloop_stream_is_writing(&t->stream) ? "polling" : "idle",
                                    pyloop_stream_write_queue_size(&t->stream));
    return PyUnicode_FromFormat("<%s%s fd=%d>", name, state, t->fd);
}

/* ---- construction, GC, finalization ---- */

/* _SelectorTransport.__init__'s extra: a copy of the one given, filled. */
static int fill_extra(TransportData *t, PyObject *sock, PyObject *extra)
{
    Py_XSETREF(t->extra, extra && extra != Py_None ? PyDict_Copy(extra) : PyDict_New());
    return t->extra ? PyLoopTransport_FillSocketExtra(t->extra, sock) : -1;
}

/* SocketTransport's arguments, checked: 0, or -1 raised. */
static int init_args(TransportData *t, PyObject *args, PyObject *keywords, PyObject **argv)
{
    static char *names[] = {"loop", "sock", "protocol", "waiter", "extra", "server", "context", NULL};

    argv[3] = argv[4] = argv[5] = argv[6] = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, keywords, "OOO|OOOO:SocketTransport", names, &argv[0], &argv[1],
                                     &argv[2], &argv[3], &argv[4], &argv[5], &argv[6]))
        return -1;
    if (argv[6] != Py_None && !PyContext_CheckExact(argv[6])) {
        PyErr_Format(PyExc_TypeError, "context must be a contextvars.Context or None, got %R", argv[6]);
        return -1;
    }
    if (!PyObject_TypeCheck(argv[0], &PyLoop_LoopType)) {
        PyErr_Format(PyExc_TypeError, "loop must be a data_bridge.pyloop loop, got %R", argv[0]);
        return -1;
    }
    if (t->loop) {
        PyErr_SetString(PyExc_RuntimeError, "SocketTransport is already initialized");
        return -1;
    }
    return 0;
}

/* self._server = server; server._attach(), raised out of __init__ as its
 * assert: a connection for a server closed since is dropped by the accept
 * loop, and the finalizer closes its socket, as asyncio's __del__ does. */
static int attach_server(TransportData *t, PyObject *self, PyObject *server)
{
    PyObject *attached;

    if (server == Py_None)
        return 0;
    Py_INCREF(server);
    t->server = server;
    attached = T.server_attach_takes_transport ? PyObject_CallMethodObjArgs(server, PyLoop_str._attach, self, NULL)
                                               : PyObject_CallMethodObjArgs(server, PyLoop_str._attach, NULL);
    Py_XDECREF(attached);
    return attached ? 0 : -1;
}

/* The stream on the fd, and loop._transports[fd] = self, which
 * _ensure_fd_no_transport reads. */
static int start_stream(TransportData *t, PyObject *self)
{
    PyObject *transports, *key;
    int rc;

    if (PyLoopTransport_StreamInit(base_of(t), t->loop, &stream_callbacks, self) < 0)
        return -1;
    transports = PyObject_GetAttr((PyObject *)t->loop, PyLoop_str._transports);
    if (!transports)
        return -1;
    key = PyLong_FromLong(t->fd);
    rc = key ? PyObject_SetItem(transports, key, self) : -1;
    Py_XDECREF(key);
    Py_DECREF(transports);
    return rc;
}

/* SocketTransport(loop, sock, protocol, waiter=None, extra=None, server=None,
 * context=None). context: 3.15's, the contextvars.Context every callback of
 * the transport runs in (None: copies, as before 3.15). */
static int transport_init(PyObject *self, PyObject *args, PyObject *keywords)
{
    TransportData *t = data_of(self);
    PyObject *argv[7], *fileno; /* loop, sock, protocol, waiter, extra, server, context */
    long fd;

    if (init_args(t, args, keywords, argv) < 0 || fill_extra(t, argv[1], argv[4]) < 0)
        return -1;
    if (argv[6] != Py_None) {
        Py_INCREF(argv[6]);
        Py_XSETREF(t->contexts.given, argv[6]);
    }
    fileno = PyObject_CallMethodNoArgs(argv[1], PyLoop_str.fileno);
    fd = fileno ? PyLong_AsLong(fileno) : -1;
    Py_XDECREF(fileno);
    if (fd == -1 && PyErr_Occurred())
        return -1;
    Py_INCREF(argv[0]);
    t->loop = (LoopObject *)argv[0];
    Py_INCREF(argv[1]);
    t->sock = argv[1];
    t->fd = (int)fd;
    t->sock_fd_readable = PyLoopSocket_rules.socket_type && PyObject_TypeCheck(argv[1], PyLoopSocket_rules.socket_type);
    t->flush.run = run_flush;
    t->flush.owner = self;
    t->protocol_connected = 0;
    if (set_protocol(t, argv[2]) < 0 || attach_server(t, self, argv[5]) < 0 || start_stream(t, self) < 0
        || PyLoopSocket_SetNodelay(argv[1], t->fd) < 0)
        return -1;
    return PyLoopTransport_ScheduleConnected(base_of(t), argv[3], 1);
}

/* The GC skeleton is the base's (PyLoopTransport_Traverse ...); these are
 * the fields past the head. */
static int socket_traverse(PyLoopTransport *base, visitproc visit, void *arg)
{
    TransportData *t = (TransportData *)base;

    Py_VISIT(t->server);
    Py_VISIT(t->empty_waiter);
    return 0;
}

static void socket_clear(PyLoopTransport *base)
{
    TransportData *t = (TransportData *)base;

    Py_CLEAR(t->server);
    Py_CLEAR(t->empty_waiter);
}

/* asyncio's __del__ (after the base's ResourceWarning): the socket is
 * closed (_sock stays set), and from 3.13 the server detached. */
static void socket_close_resource(PyLoopTransport *base, PyObject *self)
{
    TransportData *t = (TransportData *)base;
    PyObject *closed;

    pyloop_stream_close(&t->stream);
    closed = PyObject_CallMethodObjArgs(t->sock, PyLoop_str.close, NULL);
    if (!closed)
        PyErr_WriteUnraisable(self);
    Py_XDECREF(closed);
#if PY_VERSION_HEX >= 0x030D0000
    if (t->server)
        call_server(t, PyLoop_str._detach);
#endif
}

/* ---- attributes asyncio's own code reads ---- */

/* _loop, _protocol, _extra, _closing, _conn_lost, _high_water, _low_water,
 * __dict__: the base's; these are _SelectorSocketTransport's own. */
static PyObject *get_sock(PyObject *self, void *Py_UNUSED(c)) { return PyLoop_NewRefOrNone(data_of(self)->sock); }
static PyObject *get_server(PyObject *self, void *Py_UNUSED(c)) { return PyLoop_NewRefOrNone(data_of(self)->server); }
static PyObject *get_empty_waiter(PyObject *self, void *Py_UNUSED(c)) { return PyLoop_NewRefOrNone(data_of(self)->empty_waiter); }
static PyObject *get_sock_fd(PyObject *self, void *Py_UNUSED(c)) { return PyLong_FromLong(data_of(self)->fd); }
static PyObject *get_eof(PyObject *self, void *Py_UNUSED(c)) { return PyBool_FromLong(data_of(self)->eof); }
static PyObject *get_paused(PyObject *self, void *Py_UNUSED(c)) { return PyBool_FromLong(data_of(self)->paused); }

static PyObject *get_protocol_paused(PyObject *self, void *Py_UNUSED(c))
{
    TransportData *t = data_of(self);

    return PyBool_FromLong(pyloop_stream_write_paused(&t->stream) || t->lost_paused);
}

static PyGetSetDef transport_getset[] = {
    {"_sock", get_sock, NULL, NULL, NULL},
    {"_sock_fd", get_sock_fd, NULL, NULL, NULL},
    {"_server", get_server, NULL, NULL, NULL},
    {"_empty_waiter", get_empty_waiter, NULL, NULL, NULL},
    {"_eof", get_eof, NULL, NULL, NULL},
    {"_paused", get_paused, NULL, NULL, NULL},
    {"_protocol_paused", get_protocol_paused, NULL, NULL, NULL},
    PYLOOP_TRANSPORT_LIMIT_GETSET,
    PYLOOP_TRANSPORT_GETSET,
    {NULL, NULL, NULL, NULL, NULL},
};

static PyMethodDef transport_methods[] = {
    {"write", PYLOOP_FASTCALL_KW(transport_write), "write($self, data)\n--\n\nWrite some data bytes to the transport."},
    {"writelines", (PyCFunction)(void (*)(void))transport_writelines, METH_FASTCALL | METH_KEYWORDS,
     "writelines($self, list_of_data)\n--\n\nWrite a list (or any iterable) of data bytes."},
    PYLOOP_NOARGS_METHOD(write_eof, transport_write_eof, "Close the write end after flushing buffered data."),
    PYLOOP_NOARGS_METHOD(can_write_eof, transport_can_write_eof, "Return True: this transport supports write_eof()."),
    PYLOOP_NOARGS_METHOD(close, transport_close, "Close the transport once the buffer is sent."),
    PYLOOP_NOARGS_METHOD(abort, transport_abort, "Close the transport immediately, dropping buffered data."),
    PYLOOP_STREAM_READING_METHODS,
    PYLOOP_NOARGS_METHOD(get_write_buffer_size, transport_get_write_buffer_size,
                         "Return the current size of the write buffer."),
    PYLOOP_TRANSPORT_LIMIT_METHODS,
    PYLOOP_TRANSPORT_METHODS,
    {"_force_close", transport_force_close, METH_O, NULL},
    {"_fatal_error", (PyCFunction)(void (*)(void))transport_fatal_error, METH_VARARGS | METH_KEYWORDS, NULL},
    {"_call_connection_lost", transport_call_connection_lost, METH_O, NULL},
    {"_make_empty_waiter", transport_make_empty_waiter, METH_NOARGS, NULL},
    {"_reset_empty_waiter", transport_reset_empty_waiter, METH_NOARGS, NULL},
    {"_add_reader_after_connect", transport_add_reader_after_connect, METH_NOARGS, NULL},
    {NULL, NULL, 0, NULL},
};

/* ---- the type ---- */

static int load_names(void)
{
    PyObject *attach = NULL, *code = NULL, *count = NULL;
    int rc = -1;

    if (PyLoop_ImportInto(&T.buffered_protocol, "asyncio.protocols", "BufferedProtocol") < 0
        || PyLoop_ImportInto(&attach, "asyncio.base_events", "Server") < 0 || PyLoopSocket_Load() < 0)
        goto done;
    /* Server._attach() took the transport from 3.13 (Server._attach(self,
     * transport)); ask the code rather than the version. */
    Py_SETREF(attach, PyObject_GetAttrString(attach, "_attach"));
    code = attach ? PyObject_GetAttrString(attach, "__code__") : NULL;
    count = code ? PyObject_GetAttrString(code, "co_argcount") : NULL;
    if (!count)
        goto done;
    T.server_attach_takes_transport = PyLong_AsLong(count) >= 2;
    if (!(T.minus_one = PyLong_FromLong(-1)))
        goto done;
    rc = 0;
done:
    Py_XDECREF(attach);
    Py_XDECREF(code);
    Py_XDECREF(count);
    return rc;
}

/* Class attributes asyncio's own code looks for: _sendfile_compatible,
 * _start_tls_compatible (max_size: PyLoopTransport_AddType). */
static int set_class_attributes(PyObject *type)
{
    PyObject *sendfile_mode = NULL, *try_native;
    int rc;

    if (PyLoop_ImportInto(&sendfile_mode, "asyncio.constants", "_SendfileMode") < 0)
        return -1;
    try_native = PyObject_GetAttrString(sendfile_mode, "TRY_NATIVE");
    Py_DECREF(sendfile_mode);
    rc = try_native ? PyObject_SetAttrString(type, "_sendfile_compatible", try_native) : -1;
    Py_XDECREF(try_native);
    return rc < 0 ? -1 : PyObject_SetAttrString(type, "_start_tls_compatible", Py_True);
}

static PyLoopTransportOps socket_ops = {
    .name = "_SelectorSocketTransport",
    .set_protocol_qualname = "_SelectorSocketTransport.set_protocol",
    .stream = 1,
    .stop_reading = PyLoopTransport_StopReading,
    .has_buffer = socket_has_buffer,
    .drop_buffer = socket_drop_buffer,
    .protocol_set = socket_protocol_set,
    .limits_set = socket_limits_set,
    .close_resource = socket_close_resource,
    .traverse = socket_traverse,
    .clear = socket_clear,
};

int PyLoopSocketTransport_Add(PyObject *module)
{
    if (load_names() < 0)
        return -1;
    PyLoop_SocketTransportType = PyLoopTransport_AddType(
        module, "data_bridge.pyloop._pyloop.SocketTransport",
        "asyncio's socket transport (TCP, Unix), in C on PyLoop's stream layer.",
        PyTuple_Pack(1, PyLoop_asyncio.flow_control_mixin), transport_init, transport_repr, transport_methods,
        transport_getset, sizeof(TransportData), &socket_ops, 1);
    return PyLoop_SocketTransportType ? set_class_attributes((PyObject *)PyLoop_SocketTransportType) : -1;
}

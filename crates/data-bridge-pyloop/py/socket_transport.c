/*
 * SocketTransport: asyncio's _SelectorSocketTransport in C, on the stream
 * layer (stream.h), for TCP and Unix stream sockets. Every method keeps the
 * behaviour, the error types and the messages of the Python class of the
 * running interpreter (3.9-3.13), with one addition that stays inside
 * asyncio's contract:
 *
 *   Writes made during one callback leave together. write() with nothing
 *   waiting to be sent defers the bytes (at most min(high water, 64 KiB) of
 *   them) to the end of the running callback, so a response written as
 *   headers then body costs one writev, not two sends. The bytes are in the
 *   write buffer meanwhile: get_write_buffer_size() counts them, which is
 *   the real buffered amount; pause_writing() still fires only when the
 *   kernel refuses bytes, at asyncio's thresholds; order is kept; nothing
 *   waits past the callback. Outside a running callback (from another
 *   thread too), and for larger writes, write() sends at once as asyncio
 *   does; close(), abort(), write_eof() and set_write_buffer_limits() send
 *   the deferred bytes first (the state table in docs/architecture.md).
 *
 * The type subclasses asyncio.transports._FlowControlMixin (so isinstance()
 * against asyncio's transport classes holds, as asyncio's own sendfile
 * fallback requires); its instances have a __dict__, so attributes stay
 * assignable (test suites patch transport.write). The base's __slots__
 * (_extra, _loop, _protocol_paused, _high_water, _low_water) are shadowed by
 * properties that read this type's C state.
 */
#include "pyloop_module.h"

#include <errno.h>
#include <netinet/in.h>
#include <stddef.h>
#include <netinet/tcp.h>
#include <structmember.h>
#include <sys/socket.h>

#include "stream.h"

#define MAX_SIZE_DEFAULT (256 * 1024)
/* The most a write inside a callback defers to the callback's end (see the
 * top of this file). -DDEFER_LIMIT=0 turns deferral off, for measuring
 * what it buys (docs/architecture.md, "The write rule"). */
#ifndef DEFER_LIMIT
#define DEFER_LIMIT (64 * 1024)
#endif

typedef struct TransportData {
    pyloop_stream stream;
    PyLoopDeferred flush; /* owner: the transport */
    LoopObject *loop;     /* NULL once connection_lost ran */
    PyObject *sock;       /* NULL once the socket is closed */
    PyObject *protocol;
    PyObject *extra; /* a dict */
    PyObject *server;
    PyObject *empty_waiter;
    PyObject *dict;
    PyObject *weakreflist;
    PyLoopContexts contexts; /* what the protocol's callbacks run in */
    PyObject *read_bytes; /* data_received: the bytes object being read into */
    Py_ssize_t conn_lost;
    int fd;
    char closing;
    char eof;
    char paused; /* pause_reading() */
    char protocol_connected;
    char buffered; /* the protocol is an asyncio.BufferedProtocol */
    char read_shared; /* data_received: the bytes are in shared_read_buffer */
    char read_bulk;   /* the last read filled BULK_READ or more */
    char sock_fd_readable; /* sock is a _socket.socket: check_fd reads its fd */
} TransportData;

/* Python objects and names used here, looked up once. */
static struct {
    PyObject *flow_control_mixin;  /* asyncio.transports._FlowControlMixin */
    PyObject *buffered_protocol;   /* asyncio.protocols.BufferedProtocol */
    PyObject *transport_socket;    /* asyncio.trsock.TransportSocket */
    PyObject *set_result_unless_cancelled;
    PyObject *logger;
    Py_ssize_t connlost_threshold; /* constants.LOG_THRESHOLD_FOR_CONNLOST_WRITES */
    int server_attach_takes_transport;
    int accept_aborted_continues; /* asyncio's accept loop goes on past ConnectionAbortedError */
    int writelines_counts_lost;   /* writelines() once _conn_lost: counted and dropped, as write() */
    int drain_counts_lost;        /* close after the drain sets _conn_lost before connection_lost */
    Py_ssize_t data_offset; /* where TransportData starts in an instance */
    PyTypeObject *socket_type;     /* _socket.socket; NULL: its layout is not SocketHead */
    PyObject *minus_one;
    PyObject *str_call_soon, *str_call_exception_handler, *str_get_debug, *str_connection_made,
        *str_connection_lost, *str_data_received, *str_eof_received, *str_get_buffer, *str_buffer_updated,
        *str_pause_writing, *str_resume_writing, *str_close, *str_attach, *str_detach, *str_transports,
        *str_create_future, *str_set_result, *str_set_exception, *str_max_size, *str_debug,
        *str_add_reader_after_connect, *str_call_connection_lost, *str_accept, *str_setblocking, *str_errno,
        *str_peername;
    PyObject *kw_context; /* ("context",): call_soon's and SocketTransport's keyword */
} T;

PyTypeObject *PyLoop_SocketTransportType;

static inline TransportData *data_of(PyObject *self)
{
    return (TransportData *)((char *)self + T.data_offset);
}

static inline PyObject *object_of(TransportData *t)
{
    return (PyObject *)((char *)t - T.data_offset);
}

/* A PyLoop stream's context is the Python object that holds it: loop_object.c
 * visits it for the collector, once per hold the loop takes. */
static inline TransportData *data_of_stream(pyloop_stream *stream)
{
    return data_of(stream->context);
}

/* ------------------------------------------------------------------ */
/* small helpers                                                       */
/* ------------------------------------------------------------------ */

/* loop.call_soon(callable, *args) from C, for the rare calls (set-up,
 * tear-down) where asyncio schedules one; the handle is dropped. */
int PyLoopTransport_CallSoon(LoopObject *loop, PyObject *callable, PyObject *first, PyObject *second)
{
    PyObject *handle = PyObject_CallMethodObjArgs((PyObject *)loop, T.str_call_soon, callable, first, second, NULL);
    Py_XDECREF(handle);
    return handle ? 0 : -1;
}

static int call_soon(TransportData *t, PyObject *callable, PyObject *first, PyObject *second)
{
    PyObject *args[5], *handle;
    size_t n = 0;

    if (!t->contexts.given)
        return PyLoopTransport_CallSoon(t->loop, callable, first, second);
    /* 3.15's _SelectorTransport._call_soon: call_soon(..., context=
     * self._context), the transport's own context rather than a copy. */
    args[n++] = (PyObject *)t->loop;
    args[n++] = callable;
    if (first)
        args[n++] = first;
    if (first && second)
        args[n++] = second;
    args[n] = t->contexts.given;
    handle = PyObject_VectorcallMethod(T.str_call_soon, args, n, T.kw_context);
    Py_XDECREF(handle);
    return handle ? 0 : -1;
}

static int loop_debug(TransportData *t)
{
    return t->loop && t->loop->debug;
}

/* logger.debug(message, self) in debug mode, as asyncio logs transitions. */
void PyLoopTransport_Log(PyObject *transport, const char *level, const char *message)
{
    /* The transport is the argument of a message that formats it ("%r"). */
    PyObject *result = strstr(message, "%r") ? PyObject_CallMethod(T.logger, level, "sO", message, transport)
                                             : PyObject_CallMethod(T.logger, level, "s", message);
    if (!result)
        PyErr_WriteUnraisable(transport);
    Py_XDECREF(result);
}

static void debug_log(TransportData *t, const char *message)
{
    if (loop_debug(t))
        PyLoopTransport_Log(object_of(t), "debug", message);
}

/* KeyboardInterrupt and SystemExit pass through asyncio's transports: here
 * they end the loop's run (the protocol call that raised them came from a
 * loop task, not from Python). */
static int is_fatal_to_run(void)
{
    return PyErr_ExceptionMatches(PyExc_KeyboardInterrupt) || PyErr_ExceptionMatches(PyExc_SystemExit);
}

PyObject *PyLoopTransport_OSError(int error)
{
    PyObject *exception;
    errno = error;
    PyErr_SetFromErrno(PyExc_OSError);
    exception = PyLoop_FetchException();
    return exception;
}

#define os_error PyLoopTransport_OSError

/* The exception raised now, from a protocol call asyncio makes inside its
 * reader or writer callback (`callback`, a method of self's: the pipes'
 * _read_ready or _write_ready; the socket transport's _call_connection_lost): the
 * loop's exception handler gets it as Handle._run would report it, or, for
 * KeyboardInterrupt/SystemExit, the run ends. */
void PyLoopTransport_ReportAsCallback(PyObject *self, LoopObject *loop, PyObject *callback)
{
    PyObject *method = NULL, *args = NULL, *context = NULL;
    HandleObject *handle = NULL;
    PyObject *exception;

    if (is_fatal_to_run() || !loop) {
        if (loop)
            PyLoopLoop_EndRun(loop);
        else
            PyErr_WriteUnraisable(self);
        return;
    }
    exception = PyLoop_FetchException();
    method = PyObject_GetAttr(self, callback);
    args = PyTuple_New(0);
    context = PyContext_CopyCurrent();
    if (method && args && context)
        handle = PyLoopHandle_New(method, args, loop, context);
    Py_XDECREF(method);
    Py_XDECREF(args);
    Py_XDECREF(context);
    if (!handle) {
        PyErr_WriteUnraisable(self);
        Py_XDECREF(exception);
        return;
    }
    PyLoop_RestoreException(exception);
    if (PyLoopHandle_ReportError(handle) < 0)
        PyLoopLoop_EndRun(loop);
    Py_DECREF(handle);
}


static void call_server(TransportData *t, PyObject *name)
{
    PyObject *result = T.server_attach_takes_transport
                           ? PyObject_CallMethodObjArgs(t->server, name, object_of(t), NULL)
                           : PyObject_CallMethodObjArgs(t->server, name, NULL);
    if (!result)
        PyErr_WriteUnraisable(object_of(t));
    Py_XDECREF(result);
}

/* ------------------------------------------------------------------ */
/* the state machine (docs/architecture.md, "Transport states")        */
/* ------------------------------------------------------------------ */

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

/* ------------------------------------------------------------------ */
/* closing and errors                                                  */
/* ------------------------------------------------------------------ */

static PyObject *call_connection_lost(TransportData *t, PyObject *exception);

/* asyncio's _force_close: drop what is buffered, stop reading, and have
 * connection_lost called soon. */
static int force_close(TransportData *t, PyObject *exception)
{
    PyObject *method;
    int rc;

    if (t->conn_lost)
        return 0;
    if (state_of(t) == T_LOST) {
        lost_attribute_error("call_soon");
        return -1;
    }
    /* Bytes this callback deferred are bytes asyncio's write() handed to the
     * kernel at once: they leave before the rest is dropped (write() then
     * abort() delivers the write, as on asyncio). A failure here is the
     * one being reported, or moot. */
    if (t->flush.queued && !pyloop_stream_closed(&t->stream))
        (void)pyloop_stream_flush(&t->stream);
    if (pyloop_stream_write_queue_size(&t->stream) || pyloop_stream_is_writing(&t->stream))
        pyloop_stream_close(&t->stream);
    if (!t->closing) {
        t->closing = 1;
        pyloop_stream_read_stop(&t->stream);
    }
    t->conn_lost++;
    method = PyObject_GetAttr(object_of(t), T.str_call_connection_lost);
    if (!method)
        return -1;
    rc = call_soon(t, method, exception ? exception : Py_None, NULL);
    Py_DECREF(method);
    return rc;
}

/* asyncio's _fatal_error: an OSError is logged in debug mode only, anything
 * else goes to the exception handler; then _force_close. Steals nothing. */
void PyLoopTransport_ReportFatal(LoopObject *loop, PyObject *self, PyObject *protocol, PyObject *exception,
                                 const char *message, int log_only)
{
    PyObject *result = NULL;

    if (log_only) {
        if (loop->debug) {
            PyObject *keywords = Py_BuildValue("{sO}", "exc_info", exception);
            PyObject *arguments = Py_BuildValue("(sOs)", "%r: %s", self, message);
            PyObject *debug = PyObject_GetAttr(T.logger, T.str_debug);
            result = keywords && arguments && debug ? PyObject_Call(debug, arguments, keywords) : NULL;
            Py_XDECREF(keywords);
            Py_XDECREF(arguments);
            Py_XDECREF(debug);
        } else {
            result = Py_None;
            Py_INCREF(result);
        }
    } else {
        PyObject *context = Py_BuildValue("{sssOsOsO}", "message", message, "exception", exception, "transport", self,
                                          "protocol", protocol ? protocol : Py_None);
        result = context ? PyObject_CallMethodObjArgs((PyObject *)loop, T.str_call_exception_handler, context, NULL)
                         : NULL;
        Py_XDECREF(context);
    }
    if (!result) {
        if (is_fatal_to_run())
            PyLoopLoop_EndRun(loop);
        else
            PyErr_WriteUnraisable(self);
    }
    Py_XDECREF(result);
}

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

    if (is_fatal_to_run())
        return -1;
    exception = PyLoop_FetchException();
    fatal_error(t, exception, message);
    Py_DECREF(exception);
    return 0;
}

/* A protocol callback raised: asyncio lets KeyboardInterrupt/SystemExit
 * out of the transport method; from a loop task that means ending the run. */
static void end_run_or_fail(TransportData *t, const char *message)
{
    if (fail_with_raised(t, message) < 0 && t->loop)
        PyLoopLoop_EndRun(t->loop);
}

static PyObject *call_connection_lost(TransportData *t, PyObject *exception)
{
    PyObject *self = object_of(t), *result = Py_None, *sock = t->sock, *server = t->server, *protocol = t->protocol;
    PyObject *waiter = t->empty_waiter;
    LoopObject *loop = t->loop;

    Py_INCREF(self);
    if (t->protocol_connected && protocol) {
        result = PyObject_CallMethodObjArgs(protocol, T.str_connection_lost, exception, NULL);
    } else {
        Py_INCREF(result);
    }
    /* finally: */
    pyloop_stream_close(&t->stream);
    t->sock = NULL;
    t->protocol = NULL;
    t->loop = NULL;
    t->server = NULL;
    if (sock) {
        PyObject *error = result ? NULL : PyLoop_FetchException();
        PyObject *closed = PyObject_CallMethodObjArgs(sock, T.str_close, NULL);
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
        call_server(t, T.str_detach);
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
        PyObject *set = error ? PyObject_CallMethodObjArgs(waiter, T.str_set_exception, error, NULL) : NULL;
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

/* ------------------------------------------------------------------ */
/* the stream's callbacks                                              */
/* ------------------------------------------------------------------ */

int PyLoopTransport_ReadSize(PyObject *self, PyObject *dict, PyTypeObject *own_type, PyObject *name,
                             const char *call, Py_ssize_t *size)
{
    PyObject *value, *index;
    char message[64];

    if (!dict || !PyDict_GetItemWithError(dict, name)) {
        if (PyErr_Occurred())
            return -1;
        if (Py_TYPE(self) == own_type) {
            *size = MAX_SIZE_DEFAULT;
            return 0;
        }
    }
    value = PyObject_GetAttr(self, name);
    if (!value)
        return -1;
    /* As recv's "n" and os.read's Py_ssize_t convert it: __index__, then
     * PyLong_AsSsize_t's own OverflowError past ssize_t. */
    index = PyNumber_Index(value);
    Py_DECREF(value);
    if (!index)
        return -1;
    *size = PyLong_AsSsize_t(index);
    Py_DECREF(index);
    if (*size == -1 && PyErr_Occurred())
        return -1;
    if (*size < 0) {
        if (!call) {
            errno = EINVAL; /* os.read(fd, -1) */
            PyErr_SetFromErrno(PyExc_OSError);
            return -1;
        }
        PyOS_snprintf(message, sizeof(message), "negative buffersize in %s", call);
        PyErr_SetString(PyExc_ValueError, message);
        return -1;
    }
    return 0;
}

/* The bytes to read, as sock.recv(self.max_size) takes them: an int, or
 * whatever asyncio's recv would raise for anything else. */
static int read_size(TransportData *t, Py_ssize_t *size)
{
    return PyLoopTransport_ReadSize(object_of(t), t->dict, PyLoop_SocketTransportType, T.str_max_size, "recv", size);
}

static void eof_received(TransportData *t);

static void deliver_count(TransportData *t, ssize_t nread);
static int on_check_fd(pyloop_stream *stream);

/* asyncio's _read_ready__get_buffer, whole: get_buffer(-1), recv_into(),
 * buffer_updated(). The transport makes this read itself instead of the
 * stream, so that it happens exactly where asyncio's does: get_buffer() may
 * pause reading, close or abort the transport, or set another protocol, and
 * asyncio still fills the buffer and calls buffer_updated() on whatever
 * protocol is set by then (the stream would skip a read its alloc stopped).
 * The protocol's buffer is exported only around the recv, as recv_into()
 * does, so the protocol can resize it whatever the read found (nothing,
 * end of file, an error). Returns 1: the stream has nothing to read. */
static int read_for_protocol(TransportData *t)
{
    PyObject *buffer, *exception;
    Py_buffer view;
    Py_ssize_t size;
    ssize_t nread;
    int error;

    buffer = PyObject_CallMethodObjArgs(t->protocol, T.str_get_buffer, T.minus_one, NULL);
    if (!buffer || (size = PyObject_Size(buffer)) < 0) {
        Py_XDECREF(buffer);
        end_run_or_fail(t, "Fatal error: protocol.get_buffer() call failed.");
        return 1;
    }
    if (size == 0) {
        Py_DECREF(buffer);
        PyErr_SetString(PyExc_RuntimeError, "get_buffer() returned an empty buffer");
        end_run_or_fail(t, "Fatal error: protocol.get_buffer() call failed.");
        return 1;
    }
    if (PyObject_GetBuffer(buffer, &view, PyBUF_WRITABLE) < 0) {
        /* recv_into()'s own refusal ("w*": a writable C-contiguous
         * buffer), the same on 3.9-3.13: a TypeError, whatever the
         * exporter raised. */
        PyErr_Clear();
        PyErr_Format(PyExc_TypeError, "recv_into() argument 1 must be read-write bytes-like object, not %.50s",
                     buffer == Py_None ? "None" : Py_TYPE(buffer)->tp_name);
        Py_DECREF(buffer);
        end_run_or_fail(t, "Fatal read error on socket transport");
        return 1;
    }
    if (!t->sock || !t->protocol) { /* the protocol ran connection_lost itself: the fd is closed */
        PyBuffer_Release(&view);
        Py_DECREF(buffer);
        return 1;
    }
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
        exception = os_error(error);
        if (exception) {
            fatal_error(t, exception, "Fatal read error on socket transport");
            Py_DECREF(exception);
        } else {
            PyErr_WriteUnraisable(object_of(t));
        }
        return 1;
    }
    if (nread == 0) {
        eof_received(t);
        return 1;
    }
    deliver_count(t, nread);
    return 1;
}

/* Reads for data_received land here and are copied into a bytes object of
 * the size read, as uvloop does. A fresh bytes object of max_size per read
 * (asyncio's recv(max_size)) is a 256 KiB allocation: in a process whose
 * allocator has not yet raised its mmap threshold, mmap, mremap and munmap
 * on every read (an echo server's system calls per round trip went from 6
 * to 3 with the buffer). Once the allocator is warm that allocation is
 * cheap and the copy is what costs: a transport whose last read brought
 * BULK_READ or more (an upload, a bulk stream) reads straight into its own
 * bytes object again, as asyncio does. One buffer serves every transport of
 * the process: it is filled and copied out with the GIL held and no Python
 * code in between. */
static char shared_read_buffer[MAX_SIZE_DEFAULT];

char *PyLoopTransport_SharedReadBuffer(size_t *size)
{
    *size = sizeof shared_read_buffer;
    return shared_read_buffer;
}
#define BULK_READ (64 * 1024)

static int alloc_bytes(TransportData *t, void **data, size_t *length)
{
    Py_ssize_t size;

    if (read_size(t, &size) < 0) {
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
    if (!t->read_bulk && (size_t)size <= sizeof shared_read_buffer) {
        t->read_shared = 1;
        *data = shared_read_buffer;
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
    Py_INCREF(self);
    Py_INCREF(loop);
    rc = t->buffered ? read_for_protocol(t) : alloc_bytes(t, data, length);
    /* No read follows for the stream to report: what the protocol wrote
     * in its callbacks leaves now, as at the end of on_read. */
    if (rc == 1)
        PyLoopLoop_RunDeferred(loop);
    Py_DECREF(loop);
    Py_DECREF(self);
    return rc;
}

/* asyncio's _read_ready__on_eof. */
static void eof_received(TransportData *t)
{
    PyObject *keep_open;
    int truth;

    debug_log(t, "%r received EOF");
    keep_open = PyObject_CallMethodObjArgs(t->protocol, T.str_eof_received, NULL);
    truth = keep_open ? PyObject_IsTrue(keep_open) : -1;
    Py_XDECREF(keep_open);
    if (truth < 0) {
        /* KeyboardInterrupt/SystemExit leave asyncio's reader in place, so
         * the next run reads end of file again: the stream stopped reading
         * at end of file, start it again. */
        if (is_fatal_to_run() && !t->closing && !t->paused && t->loop)
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
    if (!closed && is_fatal_to_run())
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
        data = PyBytes_FromStringAndSize(shared_read_buffer, nread);
        if (!data) {
            end_run_or_fail(t, "Fatal read error on socket transport");
            return;
        }
    } else if (nread != PyBytes_GET_SIZE(data) && _PyBytes_Resize(&data, nread) < 0) {
        end_run_or_fail(t, "Fatal read error on socket transport");
        return;
    }
    result = PyObject_CallMethodObjArgs(t->protocol, T.str_data_received, data, NULL);
    Py_DECREF(data);
    if (!result)
        end_run_or_fail(t, "Fatal error: protocol.data_received() call failed.");
    Py_XDECREF(result);
}

static void deliver_count(TransportData *t, ssize_t nread)
{
    PyObject *count = PyLong_FromSsize_t(nread), *result;

    result = count ? PyObject_CallMethodObjArgs(t->protocol, T.str_buffer_updated, count, NULL) : NULL;
    Py_XDECREF(count);
    if (!result)
        end_run_or_fail(t, "Fatal error: protocol.buffer_updated() call failed.");
    Py_XDECREF(result);
}

static void on_read(pyloop_stream *stream, void *data, ssize_t nread)
{
    TransportData *t = data_of_stream(stream);
    PyObject *self = object_of(t);
    LoopObject *loop = t->loop;
    (void)data;

    Py_INCREF(self);
    Py_XINCREF(loop);
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
            PyObject *exception = os_error((int)-nread);
            fatal_error(t, exception, "Fatal read error on socket transport");
            Py_XDECREF(exception);
        }
    }
    if (loop) {
        PyLoopLoop_RunDeferred(loop);
        Py_DECREF(loop);
    }
    Py_DECREF(self);
}

void PyLoopTransport_CallProtocolFlow(LoopObject *loop, PyObject *self, PyObject *protocol, PyObject *name,
                                      const char *failure)
{
    PyObject *result = PyObject_CallMethodObjArgs(protocol, name, NULL);

    if (!result) {
        PyObject *exception, *context, *handled;
        if (is_fatal_to_run()) {
            PyLoopLoop_EndRun(loop);
            return;
        }
        exception = PyLoop_FetchException();
        context = Py_BuildValue("{sssOsOsO}", "message", failure, "exception", exception, "transport", self,
                                "protocol", protocol);
        handled = context ? PyObject_CallMethodObjArgs((PyObject *)loop, T.str_call_exception_handler, context, NULL)
                          : NULL;
        if (!handled)
            PyErr_WriteUnraisable(self);
        Py_XDECREF(handled);
        Py_XDECREF(context);
        Py_XDECREF(exception);
    }
    Py_XDECREF(result);
}

static void call_protocol_flow(TransportData *t, PyObject *name, const char *failure)
{
    PyLoopTransport_CallProtocolFlow(t->loop, object_of(t), t->protocol, name, failure);
}

static void on_write_pause(pyloop_stream *stream)
{
    TransportData *t = data_of_stream(stream);
    if (t->protocol && t->loop)
        call_protocol_flow(t, T.str_pause_writing, "protocol.pause_writing() failed");
}

static void on_write_resume(pyloop_stream *stream)
{
    TransportData *t = data_of_stream(stream);
    if (t->protocol && t->loop)
        call_protocol_flow(t, T.str_resume_writing, "protocol.resume_writing() failed");
}

/* asyncio's _write_ready, once the buffer is empty: the empty waiter, and
 * close after drain (the stream does shutdown after drain itself). */
static void drained(TransportData *t)
{
    PyObject *self = object_of(t);

    Py_INCREF(self);
    if (t->empty_waiter) {
        PyObject *set = PyObject_CallMethodObjArgs(t->empty_waiter, T.str_set_result, Py_None, NULL);
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
        /* gh-156512 (probe_lost_rules): from here on the transport counts
         * and drops writes, and abort() does nothing, as after close(). */
        if (T.drain_counts_lost)
            t->conn_lost++;
        result = call_connection_lost(t, Py_None);
        if (!result)
            PyLoopTransport_ReportAsCallback(self, loop, T.str_call_connection_lost);
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
    PyObject *self = object_of(t), *exception = os_error(-error);

    Py_INCREF(self);
    if (while_writing) {
        fatal_error(t, exception, "Fatal write error on socket transport");
        if (t->empty_waiter) {
            PyObject *set = PyObject_CallMethodObjArgs(t->empty_waiter, T.str_set_exception, exception, NULL);
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

/* The head of CPython's socket object (Modules/socketmodule.h,
 * PySocketSockObject: PyObject_HEAD; SOCKET_T sock_fd; ..., the same in
 * 3.9-3.15; load_names checks it on a real socket before trusting it). */
typedef struct SocketHead {
    PyObject_HEAD
    int sock_fd; /* -1 once close() or detach() ran */
} SocketHead;

/* The stream's check_fd: asyncio's transport sends and receives through
 * self._sock, so once the program closed that socket (sock.close(), or
 * the TransportSocket's close()) its next call fails with EBADF and the
 * transport reports connection_lost; the number itself may belong to a
 * newcomer by then, which must never see a byte of this connection, nor
 * give it one. One field read per system call, no Python call. */
static int on_check_fd(pyloop_stream *stream)
{
    TransportData *t = data_of_stream(stream);

    if (t->sock_fd_readable && (!t->sock || ((SocketHead *)t->sock)->sock_fd != t->fd))
        return -EBADF;
    return 0;
}

/* While the loop holds the stream (a watcher or a queued task), it owns a
 * reference to the transport, as asyncio's selector owns the reader handle
 * and through it the transport. */
static void on_hold(pyloop_stream *stream)
{
    Py_INCREF((PyObject *)stream->context);
}

static void on_release(pyloop_stream *stream)
{
    Py_DECREF((PyObject *)stream->context);
}

/* The contexts of asyncio's reader and writer Handles (pyloop_module.h). */
void PyLoopContexts_Watch(PyLoopContexts *contexts, int writing, PyObject *owner)
{
    PyObject *context = contexts->given;

    if (context)
        Py_INCREF(context);
    else if (!(context = PyContext_CopyCurrent())) {
        PyErr_WriteUnraisable(owner); /* no memory: the last one stays */
        return;
    }
    if (writing)
        Py_XSETREF(contexts->writer, context);
    else
        Py_XSETREF(contexts->reader, context);
}

void *PyLoopContexts_Enter(PyLoopContexts *contexts, int writing, PyObject *owner)
{
    PyObject *context = writing ? contexts->writer : contexts->reader;

    if (!context)
        return NULL;
    /* Owned while entered: the task's callbacks may replace the field. */
    Py_INCREF(context);
    if (PyContext_Enter(context) < 0) {
        PyErr_WriteUnraisable(owner);
        Py_DECREF(context);
        return NULL;
    }
    return context;
}

void PyLoopContexts_Exit(void *entered, PyObject *owner)
{
    if (!entered)
        return;
    if (PyContext_Exit((PyObject *)entered) < 0)
        PyErr_WriteUnraisable(owner);
    Py_DECREF((PyObject *)entered);
}

int PyLoopContexts_Traverse(PyLoopContexts *contexts, visitproc visit, void *arg)
{
    Py_VISIT(contexts->given);
    Py_VISIT(contexts->reader);
    Py_VISIT(contexts->writer);
    Py_VISIT(contexts->deferred);
    return 0;
}

void PyLoopContexts_Clear(PyLoopContexts *contexts)
{
    Py_CLEAR(contexts->given);
    Py_CLEAR(contexts->reader);
    Py_CLEAR(contexts->writer);
    Py_CLEAR(contexts->deferred);
}

static void on_watch(pyloop_stream *stream, int writing)
{
    PyLoopContexts_Watch(&data_of_stream(stream)->contexts, writing, stream->context);
}

static void *on_task_enter(pyloop_stream *stream, int writing)
{
    return PyLoopContexts_Enter(&data_of_stream(stream)->contexts, writing, stream->context);
}

static void on_task_exit(pyloop_stream *stream, void *entered)
{
    PyLoopContexts_Exit(entered, stream->context);
}

static const pyloop_stream_callbacks stream_callbacks = {
    .alloc = on_alloc,
    .on_read = on_read,
    .on_write_pause = on_write_pause,
    .on_write_resume = on_write_resume,
    .on_drain = on_drain,
    .on_error = on_error,
    .hold = on_hold,
    .release = on_release,
    .on_watch = on_watch,
    .task_enter = on_task_enter,
    .task_exit = on_task_exit,
    .check_fd = on_check_fd,
};

/* ------------------------------------------------------------------ */
/* writing                                                             */
/* ------------------------------------------------------------------ */

void PyLoopTransport_ReleaseOwner(void *owner)
{
    Py_DECREF((PyObject *)owner);
}

/* The bytes of `data` to hand to the stream: a bytes object is referenced,
 * anything else is copied (what is queued must not change under it). */
PyObject *PyLoopTransport_ImmutableBytes(PyObject *data)
{
    if (PyBytes_CheckExact(data)) {
        Py_INCREF(data);
        return data;
    }
    return PyBytes_FromObject(data);
}

/* The deferred flush (see the top of the file). */
static void run_flush(PyLoopDeferred *entry)
{
    TransportData *t = (TransportData *)((char *)entry - offsetof(TransportData, flush));
    /* What asyncio does inside write() (set a writer, fail, or later call
     * connection_lost from that writer) runs in the copy of the context of
     * the callback's first deferred write. */
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
        PyObject *exception = os_error(-rc);
        fatal_error(t, exception, "Fatal write error on socket transport");
        Py_XDECREF(exception);
    } else if (!pyloop_stream_write_queue_size(&t->stream)) {
        drained(t); /* a flush that sent it all: the stream calls nothing */
    }
    if (entered && PyContext_Exit(context) < 0)
        PyErr_WriteUnraisable(entry->owner);
    Py_XDECREF(context);
}

/* Defers the flush to the end of the callback. asyncio would set its writer
 * (for what the kernel refuses) inside write(), in a copy of the caller's
 * context: the first deferred write of the callback takes that copy. */
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

/* Sends now what this callback deferred, where asyncio's write() would
 * already have sent it (close, set_write_buffer_limits). -1 when the send
 * failed: reported as asyncio's write() would have (fatal_error). */
static int flush_deferred(TransportData *t)
{
    int rc;

    if (!t->flush.queued || pyloop_stream_is_writing(&t->stream) || !pyloop_stream_write_queue_size(&t->stream))
        return 0;
    rc = pyloop_stream_flush(&t->stream);
    if (rc < 0) {
        PyObject *exception = os_error(-rc);
        fatal_error(t, exception, "Fatal write error on socket transport");
        Py_XDECREF(exception);
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
    /* Defer while the kernel refused nothing yet (the queue is empty, or
     * holds only what this callback deferred) and the lot stays small;
     * otherwise what was deferred goes first, with these. */
    if (!refused && queued + total <= defer_limit(t) && defer_flush(t))
        flags = PYLOOP_STREAM_DEFER;
    rc = pyloop_stream_write(&t->stream, buffers, (size_t)count, flags);
    if (buffers != stack)
        PyMem_Free(buffers);
    if (rc < 0) {
        PyObject *exception = os_error(-rc);
        fatal_error(t, exception, "Fatal write error on socket transport");
        Py_XDECREF(exception);
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
    if (t->conn_lost >= T.connlost_threshold) {
        PyObject *result = PyObject_CallMethod(T.logger, "warning", "s", "socket.send() raised exception.");
        if (!result)
            return -1;
        Py_DECREF(result);
    }
    t->conn_lost++;
    return 1;
}

static PyObject *transport_write(PyObject *self, PyObject *data)
{
    TransportData *t = data_of(self);
    PyObject *chunk;
    int rc;

    if (!PyBytes_Check(data) && !PyByteArray_Check(data) && !PyMemoryView_Check(data)) {
        PyErr_Format(PyExc_TypeError, "data argument must be a bytes-like object, not '%.200s'",
                     Py_TYPE(data)->tp_name);
        return NULL;
    }
    if (t->eof) {
        PyErr_SetString(PyExc_RuntimeError, "Cannot call write() after write_eof()");
        return NULL;
    }
    if (t->empty_waiter) {
        PyErr_SetString(PyExc_RuntimeError, "unable to write; sendfile is in progress");
        return NULL;
    }
    if (PyObject_IsTrue(data) <= 0) { /* empty (len 0); errors from len() too */
        if (PyErr_Occurred())
            return NULL;
        Py_RETURN_NONE;
    }
    if ((rc = count_lost_write(t)) != 0) {
        if (rc < 0)
            return NULL;
        Py_RETURN_NONE;
    }
    if (state_of(t) == T_LOST) /* the sock.send(data) on None, reported through _loop None */
        return lost_attribute_error("call_exception_handler");
    chunk = PyLoopTransport_ImmutableBytes(data);
    if (!chunk)
        return NULL;
    rc = write_buffers(t, &chunk, 1);
    Py_DECREF(chunk);
    if (rc < 0)
        return NULL;
    Py_RETURN_NONE;
}

#if PY_VERSION_HEX >= 0x030C0000
/* 3.12+: each item goes to the buffer as is, and the lot is sent at once. */
static PyObject *transport_writelines(PyObject *self, PyObject *list_of_data)
{
    TransportData *t = data_of(self);
    PyObject *sequence, **chunks;
    Py_ssize_t count, i, kept = 0;
    int rc;

    if (t->eof) {
        PyErr_SetString(PyExc_RuntimeError, "Cannot call writelines() after write_eof()");
        return NULL;
    }
    if (t->empty_waiter) {
        PyErr_SetString(PyExc_RuntimeError, "unable to writelines; sendfile is in progress");
        return NULL;
    }
    rc = PyObject_IsTrue(list_of_data);
    if (rc <= 0) {
        if (rc < 0)
            return NULL;
        Py_RETURN_NONE;
    }
    /* The bug-fix releases count and drop as write() does, before looking
     * at the items (probe_lost_rules). */
    if (T.writelines_counts_lost && (rc = count_lost_write(t)) != 0) {
        if (rc < 0)
            return NULL;
        Py_RETURN_NONE;
    }
    sequence = PySequence_Fast(list_of_data, "writelines() argument must be iterable");
    if (!sequence)
        return NULL;
    count = PySequence_Fast_GET_SIZE(sequence);
    chunks = PyMem_New(PyObject *, count ? count : 1);
    if (!chunks) {
        Py_DECREF(sequence);
        return PyErr_NoMemory();
    }
    for (i = 0; i < count; i++) {
        PyObject *item = PySequence_Fast_GET_ITEM(sequence, i), *view = PyMemoryView_FromObject(item);
        PyObject *chunk = view ? PyLoopTransport_ImmutableBytes(item) : NULL;
        Py_XDECREF(view);
        if (!chunk)
            goto fail;
        if (PyBytes_GET_SIZE(chunk) == 0) {
            Py_DECREF(chunk);
            continue;
        }
        chunks[kept++] = chunk;
    }
    rc = 0;
    if (count && state_of(t) == T_LOST) {
        /* asyncio buffers the items, then calls self._write_ready, which
         * its _call_connection_lost set to None. */
        PyErr_SetString(PyExc_TypeError, "'NoneType' object is not callable");
        rc = -1;
    } else if (kept && !t->conn_lost) {
        rc = write_buffers(t, chunks, kept);
    }
    for (i = 0; i < kept; i++)
        Py_DECREF(chunks[i]);
    PyMem_Free(chunks);
    Py_DECREF(sequence);
    if (rc < 0)
        return NULL;
    Py_RETURN_NONE;
fail:
    for (i = 0; i < kept; i++)
        Py_DECREF(chunks[i]);
    PyMem_Free(chunks);
    Py_DECREF(sequence);
    return NULL;
}
#else
/* 3.9-3.11: WriteTransport.writelines, write(b''.join(list_of_data)). */
static PyObject *transport_writelines(PyObject *self, PyObject *list_of_data)
{
    PyObject *empty = PyBytes_FromStringAndSize(NULL, 0), *joined, *result;

    if (!empty)
        return NULL;
    joined = _PyBytes_Join(empty, list_of_data);
    Py_DECREF(empty);
    if (!joined)
        return NULL;
    result = transport_write(self, joined);
    Py_DECREF(joined);
    return result;
}
#endif

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
    return PyLong_FromSize_t(pyloop_stream_write_queue_size(&data_of(self)->stream));
}

/* asyncio's _set_write_buffer_limits, then _maybe_pause_protocol. */
int PyLoopTransport_ParseWriteLimits(PyObject *args, PyObject *keywords, size_t *high_limit, size_t *low_limit)
{
    static char *names[] = {"high", "low", NULL};
    static PyObject *four; /* kept for the process, as the module's names are */
    PyObject *high_object = Py_None, *low_object = Py_None, *high = NULL, *low = NULL;
    Py_ssize_t high_value, low_value;
    int ok, rc = -1;

    if (!PyArg_ParseTupleAndKeywords(args, keywords, "|OO:set_write_buffer_limits", names, &high_object,
                                     &low_object))
        return -1;
    if (!four && !(four = PyLong_FromLong(4)))
        return -1;
    if (high_object == Py_None)
        high = low_object == Py_None ? PyLong_FromLong(64 * 1024) : PyNumber_Multiply(four, low_object);
    else
        high = (Py_INCREF(high_object), high_object);
    if (!high)
        return -1;
    if (low_object == Py_None)
        low = PyNumber_FloorDivide(high, four);
    else
        low = (Py_INCREF(low_object), low_object);
    if (!low)
        goto done;
    {
        PyObject *zero = PyLong_FromLong(0);
        int high_ge_low = PyObject_RichCompareBool(high, low, Py_GE);
        int low_ge_zero = high_ge_low > 0 ? PyObject_RichCompareBool(low, zero, Py_GE) : 0;
        Py_DECREF(zero);
        if (high_ge_low < 0 || low_ge_zero < 0)
            goto done;
        ok = high_ge_low && low_ge_zero;
    }
    if (!ok) {
        PyErr_Format(PyExc_ValueError, "high (%R) must be >= low (%R) must be >= 0", high, low);
        goto done;
    }
    high_value = PyNumber_AsSsize_t(high, PyExc_OverflowError);
    low_value = high_value == -1 && PyErr_Occurred() ? -1 : PyNumber_AsSsize_t(low, PyExc_OverflowError);
    if (low_value == -1 && PyErr_Occurred())
        goto done;
    *high_limit = (size_t)high_value;
    *low_limit = (size_t)low_value;
    rc = 0;
done:
    Py_XDECREF(high);
    Py_XDECREF(low);
    return rc;
}

static PyObject *transport_set_write_buffer_limits(PyObject *self, PyObject *args, PyObject *keywords)
{
    size_t high, low;

    if (PyLoopTransport_ParseWriteLimits(args, keywords, &high, &low) < 0)
        return NULL;
    /* asyncio's _maybe_pause_protocol compares the new limit with what the
     * kernel refused; deferred bytes are not that (and once the flush sent
     * them, nothing would resume the protocol): they leave first. */
    if (state_of(data_of(self)) != T_LOST)
        (void)flush_deferred(data_of(self));
    pyloop_stream_set_write_limits(&data_of(self)->stream, high, low);
    Py_RETURN_NONE;
}

static PyObject *transport_get_write_buffer_limits(PyObject *self, PyObject *Py_UNUSED(unused))
{
    size_t high, low;
    pyloop_stream_get_write_limits(&data_of(self)->stream, &high, &low);
    return Py_BuildValue("(nn)", (Py_ssize_t)low, (Py_ssize_t)high);
}

/* ------------------------------------------------------------------ */
/* reading state, closing                                              */
/* ------------------------------------------------------------------ */

static int is_reading(TransportData *t)
{
    return !t->closing && !t->paused;
}

static PyObject *transport_is_reading(PyObject *self, PyObject *Py_UNUSED(unused))
{
    return PyBool_FromLong(is_reading(data_of(self)));
}

static PyObject *transport_is_closing(PyObject *self, PyObject *Py_UNUSED(unused))
{
    return PyBool_FromLong(data_of(self)->closing);
}

static PyObject *transport_pause_reading(PyObject *self, PyObject *Py_UNUSED(unused))
{
    TransportData *t = data_of(self);

    if (!is_reading(t))
        Py_RETURN_NONE;
    t->paused = 1;
    pyloop_stream_read_stop(&t->stream);
    debug_log(t, "%r pauses reading");
    Py_RETURN_NONE;
}

static int start_reading(TransportData *t)
{
    int rc;

    if (!is_reading(t) || !t->loop)
        return 0;
    rc = pyloop_stream_read_start(&t->stream);
    if (rc < 0) {
        errno = -rc;
        PyErr_SetFromErrno(PyExc_OSError);
        return -1;
    }
    return 0;
}

static PyObject *transport_resume_reading(PyObject *self, PyObject *Py_UNUSED(unused))
{
    TransportData *t = data_of(self);

    if (t->closing || !t->paused)
        Py_RETURN_NONE;
    t->paused = 0;
    if (start_reading(t) < 0)
        return NULL;
    debug_log(t, "%r resumes reading");
    Py_RETURN_NONE;
}

/* Scheduled by the constructor after connection_made: asyncio's
 * call_soon(self._add_reader, fd, self._read_ready). */
static PyObject *transport_add_reader_after_connect(PyObject *self, PyObject *Py_UNUSED(unused))
{
    if (start_reading(data_of(self)) < 0)
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *transport_close(PyObject *self, PyObject *Py_UNUSED(unused))
{
    TransportData *t = data_of(self);
    PyObject *method;
    int rc;

    if (t->closing) /* T_CLOSING, T_LOSING, T_LOST */
        Py_RETURN_NONE;
    if (state_of(t) == T_LOST) /* never initialised: no loop to call soon */
        return lost_attribute_error("call_soon");
    t->closing = 1;
    pyloop_stream_read_stop(&t->stream);
    /* Bytes this callback deferred are bytes asyncio's write() already
     * handed to the kernel: they leave now, so that what decides between
     * "connection_lost soon" and "after the drain" is what the kernel
     * refused, as on asyncio (a write after close() is then dropped, and
     * connection_lost runs after the callbacks queued before it). */
    if (flush_deferred(t) < 0)
        Py_RETURN_NONE; /* failed: fatal_error queued connection_lost */
    if (pyloop_stream_write_queue_size(&t->stream))
        Py_RETURN_NONE; /* T_CLOSING: connection_lost comes once the buffer is sent */
    t->conn_lost++;
    method = PyObject_GetAttr(self, T.str_call_connection_lost);
    if (!method)
        return NULL;
    rc = call_soon(t, method, Py_None, NULL);
    Py_DECREF(method);
    if (rc < 0)
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *transport_abort(PyObject *self, PyObject *Py_UNUSED(unused))
{
    if (force_close(data_of(self), NULL) < 0)
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *transport_force_close(PyObject *self, PyObject *exception)
{
    if (force_close(data_of(self), exception == Py_None ? NULL : exception) < 0)
        return NULL;
    Py_RETURN_NONE;
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
    t->empty_waiter = PyObject_CallMethodObjArgs((PyObject *)t->loop, T.str_create_future, NULL);
    if (!t->empty_waiter)
        return NULL;
    if (!pyloop_stream_write_queue_size(&t->stream)) {
        set = PyObject_CallMethodObjArgs(t->empty_waiter, T.str_set_result, Py_None, NULL);
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

/* ------------------------------------------------------------------ */
/* protocol, extra info, repr                                          */
/* ------------------------------------------------------------------ */

static int set_protocol(TransportData *t, PyObject *protocol)
{
    int buffered = PyObject_IsInstance(protocol, T.buffered_protocol);

    if (buffered < 0)
        return -1;
    Py_INCREF(protocol);
    Py_XSETREF(t->protocol, protocol);
    t->buffered = (char)buffered;
    t->protocol_connected = 1;
    return 0;
}

static PyObject *transport_set_protocol(PyObject *self, PyObject *protocol)
{
    if (set_protocol(data_of(self), protocol) < 0)
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *transport_get_protocol(PyObject *self, PyObject *Py_UNUSED(unused))
{
    PyObject *protocol = data_of(self)->protocol;
    protocol = protocol ? protocol : Py_None;
    Py_INCREF(protocol);
    return protocol;
}

PyObject *PyLoopTransport_GetExtraInfo(PyObject *extra, PyObject *args, PyObject *keywords)
{
    static char *names[] = {"name", "default", NULL};
    PyObject *name, *fallback = Py_None, *value;

    if (!PyArg_ParseTupleAndKeywords(args, keywords, "O|O:get_extra_info", names, &name, &fallback))
        return NULL;
    if (extra && !PyDict_Check(extra)) /* BaseTransport's self._extra.get(name, default) */
        return PyObject_CallMethod(extra, "get", "OO", name, fallback);
    value = extra ? PyDict_GetItemWithError(extra, name) : NULL;
    if (!value && PyErr_Occurred())
        return NULL;
    value = value ? value : fallback;
    Py_INCREF(value);
    return value;
}

static PyObject *transport_get_extra_info(PyObject *self, PyObject *args, PyObject *keywords)
{
    return PyLoopTransport_GetExtraInfo(data_of(self)->extra, args, keywords);
}

/* <SocketTransport fd=7 read=polling write=<idle, bufsize=0>>, as asyncio. */
static PyObject *transport_repr(PyObject *self)
{
    TransportData *t = data_of(self);
    const char *name = strrchr(Py_TYPE(self)->tp_name, '.');
    const char *state = !t->sock ? " closed" : t->closing ? " closing" : "";

    name = name ? name + 1 : Py_TYPE(self)->tp_name;
    if (t->loop && !t->loop->closed)
        return PyUnicode_FromFormat("<%s%s fd=%d read=%s write=<%s, bufsize=%zu>>", name, state, t->fd,
                                    pyloop_stream_is_reading(&t->stream) ? "polling" : "idle",
                                    pyloop_stream_is_writing(&t->stream) ? "polling" : "idle",
                                    pyloop_stream_write_queue_size(&t->stream));
    return PyUnicode_FromFormat("<%s%s fd=%d>", name, state, t->fd);
}

/* ------------------------------------------------------------------ */
/* construction, GC, finalization                                      */
/* ------------------------------------------------------------------ */

/* base_events._set_nodelay, exactly: TCP_NODELAY only for a socket object
 * whose family is AF_INET/AF_INET6, type SOCK_STREAM and proto IPPROTO_TCP
 * (read in that order, each only if the one before matched). A socket made
 * with proto 0 (socket.socket(), and what accept() returns from such a
 * listener) keeps Nagle on, as on asyncio: the option is something a
 * program can read back. -1 with an exception set, where asyncio raises. */
static int set_nodelay(PyObject *sock, int fd)
{
    static const char *const names[] = {"family", "type", "proto"};
    int i, one = 1;

    for (i = 0; i < 3; i++) {
        PyObject *value = PyObject_GetAttrString(sock, names[i]);
        long number;
        int match;

        if (!value)
            return -1;
        number = PyLong_Check(value) ? PyLong_AsLong(value) : -1;
        Py_DECREF(value);
        if (number == -1 && PyErr_Occurred())
            PyErr_Clear(); /* too large: matches nothing */
        match = i == 0 ? number == AF_INET || number == AF_INET6 : number == (i == 1 ? SOCK_STREAM : IPPROTO_TCP);
        if (!match)
            return 0;
    }
    if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0) {
        PyErr_SetFromErrno(PyExc_OSError);
        return -1;
    }
    return 0;
}

static int fill_extra(TransportData *t, PyObject *sock, PyObject *extra)
{
    PyObject *value;

    t->extra = extra && extra != Py_None ? PyDict_Copy(extra) : PyDict_New();
    if (!t->extra)
        return -1;
    value = PyObject_CallOneArg(T.transport_socket, sock);
    if (!value || PyDict_SetItemString(t->extra, "socket", value) < 0)
        goto fail;
    Py_DECREF(value);
    value = PyObject_CallMethod(sock, "getsockname", NULL);
    if (!value) {
        if (!PyErr_ExceptionMatches(PyExc_OSError))
            return -1;
        PyErr_Clear();
        value = (Py_INCREF(Py_None), Py_None);
    }
    if (PyDict_SetItemString(t->extra, "sockname", value) < 0)
        goto fail;
    Py_DECREF(value);
    value = NULL;
    if (!PyDict_GetItemString(t->extra, "peername")) {
        value = PyObject_CallMethod(sock, "getpeername", NULL);
        if (!value) {
            if (!PyErr_ExceptionMatches(PyExc_OSError))
                return -1;
            PyErr_Clear();
            value = (Py_INCREF(Py_None), Py_None);
        }
        if (PyDict_SetItemString(t->extra, "peername", value) < 0)
            goto fail;
        Py_DECREF(value);
    }
    return 0;
fail:
    Py_XDECREF(value);
    return -1;
}

/* SocketTransport(loop, sock, protocol, waiter=None, extra=None, server=None,
 * context=None). context: 3.15's, the contextvars.Context every callback of
 * the transport runs in (None: copies, as before 3.15). */
static int transport_init(PyObject *self, PyObject *args, PyObject *keywords)
{
    static char *names[] = {"loop", "sock", "protocol", "waiter", "extra", "server", "context", NULL};
    TransportData *t = data_of(self);
    PyObject *loop, *sock, *protocol, *waiter = Py_None, *extra = Py_None, *server = Py_None, *fileno, *transports;
    PyObject *context = Py_None, *method;
    long fd;
    int rc;

    if (!PyArg_ParseTupleAndKeywords(args, keywords, "OOO|OOOO:SocketTransport", names, &loop, &sock, &protocol,
                                     &waiter, &extra, &server, &context))
        return -1;
    if (context != Py_None && !PyContext_CheckExact(context)) {
        PyErr_Format(PyExc_TypeError, "context must be a contextvars.Context or None, got %R", context);
        return -1;
    }
    if (!PyObject_TypeCheck(loop, &PyLoop_LoopType)) {
        PyErr_Format(PyExc_TypeError, "loop must be a data_bridge.pyloop loop, got %R", loop);
        return -1;
    }
    if (t->loop) {
        PyErr_SetString(PyExc_RuntimeError, "SocketTransport is already initialized");
        return -1;
    }
    if (fill_extra(t, sock, extra) < 0)
        return -1;
    if (context != Py_None) {
        Py_INCREF(context);
        Py_XSETREF(t->contexts.given, context);
    }
    fileno = PyObject_CallMethod(sock, "fileno", NULL);
    fd = fileno ? PyLong_AsLong(fileno) : -1;
    Py_XDECREF(fileno);
    if (fd == -1 && PyErr_Occurred())
        return -1;
    Py_INCREF(loop);
    t->loop = (LoopObject *)loop;
    Py_INCREF(sock);
    t->sock = sock;
    t->fd = (int)fd;
    t->sock_fd_readable = T.socket_type && PyObject_TypeCheck(sock, T.socket_type);
    t->flush.run = run_flush;
    t->flush.owner = self;
    t->protocol_connected = 0;
    if (set_protocol(t, protocol) < 0)
        return -1;
    if (server != Py_None) {
        PyObject *attached;

        Py_INCREF(server);
        t->server = server;
        /* Raised out of __init__, as asyncio's _attach() asserts: a
         * connection accepted for a server closed since (its protocol
         * factory closed it) is dropped by the accept loop, and the
         * finalizer closes its socket, as asyncio's __del__ does. */
        attached = T.server_attach_takes_transport ? PyObject_CallMethodObjArgs(server, T.str_attach, self, NULL)
                                                   : PyObject_CallMethodObjArgs(server, T.str_attach, NULL);
        if (!attached)
            return -1;
        Py_DECREF(attached);
    }
    rc = pyloop_stream_init(&t->stream, t->loop->core, t->fd, &stream_callbacks, self);
    if (rc < 0) {
        errno = -rc;
        PyErr_SetFromErrno(PyExc_OSError);
        return -1;
    }
    /* loop._transports[fd] = self, which _ensure_fd_no_transport reads. */
    transports = PyObject_GetAttr(loop, T.str_transports);
    if (!transports)
        return -1;
    {
        PyObject *key = PyLong_FromLong(fd);
        rc = key ? PyObject_SetItem(transports, key, self) : -1;
        Py_XDECREF(key);
    }
    Py_DECREF(transports);
    if (rc < 0)
        return -1;
    if (set_nodelay(sock, t->fd) < 0)
        return -1;
    /* connection_made, then reading, then the waiter: asyncio's order. */
    method = PyObject_GetAttr(protocol, T.str_connection_made);
    rc = method ? call_soon(t, method, self, NULL) : -1;
    Py_XDECREF(method);
    if (rc < 0)
        return -1;
    method = PyObject_GetAttr(self, T.str_add_reader_after_connect);
    rc = method ? call_soon(t, method, NULL, NULL) : -1;
    Py_XDECREF(method);
    if (rc < 0)
        return -1;
    if (waiter != Py_None && call_soon(t, T.set_result_unless_cancelled, waiter, Py_None) < 0)
        return -1;
    return 0;
}

static int transport_traverse(PyObject *self, visitproc visit, void *arg)
{
    TransportData *t = data_of(self);

    Py_VISIT(Py_TYPE(self));
    Py_VISIT(t->loop);
    Py_VISIT(t->sock);
    Py_VISIT(t->protocol);
    Py_VISIT(t->extra);
    Py_VISIT(t->server);
    Py_VISIT(t->empty_waiter);
    Py_VISIT(t->dict);
    return PyLoopContexts_Traverse(&t->contexts, visit, arg);
}

static int transport_clear(PyObject *self)
{
    TransportData *t = data_of(self);

    Py_CLEAR(t->protocol);
    Py_CLEAR(t->extra);
    Py_CLEAR(t->server);
    Py_CLEAR(t->empty_waiter);
    Py_CLEAR(t->dict);
    PyLoopContexts_Clear(&t->contexts);
    return 0;
}

/* asyncio's __del__: an unclosed transport warns and closes its socket. */
static void transport_finalize(PyObject *self)
{
    TransportData *t = data_of(self);
    PyObject *error = PyLoop_FetchException(), *closed;

    if (t->sock) {
        if (PyErr_ResourceWarning(self, 1, "unclosed transport %R", self) < 0)
            PyErr_WriteUnraisable(self);
        pyloop_stream_close(&t->stream);
        closed = PyObject_CallMethodObjArgs(t->sock, T.str_close, NULL);
        if (!closed)
            PyErr_WriteUnraisable(self);
        Py_XDECREF(closed);
#if PY_VERSION_HEX >= 0x030D0000
        if (t->server)
            call_server(t, T.str_detach);
#endif
    }
    if (error)
        PyLoop_RestoreException(error);
}

static void transport_dealloc(PyObject *self)
{
    PyTypeObject *type = Py_TYPE(self);
    TransportData *t = data_of(self);

    if (PyObject_CallFinalizerFromDealloc(self) < 0)
        return; /* resurrected */
    PyObject_GC_UnTrack(self);
    if (t->weakreflist)
        PyObject_ClearWeakRefs(self);
    pyloop_stream_close(&t->stream);
    Py_CLEAR(t->read_bytes);
    transport_clear(self);
    Py_CLEAR(t->sock);
    Py_CLEAR(t->loop);
    type->tp_free(self);
    Py_DECREF(type);
}

/* ------------------------------------------------------------------ */
/* attributes asyncio's own code reads                                 */
/* ------------------------------------------------------------------ */

static PyObject *object_or_none(PyObject *value)
{
    value = value ? value : Py_None;
    Py_INCREF(value);
    return value;
}

static PyObject *get_sock(PyObject *self, void *Py_UNUSED(c)) { return object_or_none(data_of(self)->sock); }
static PyObject *get_loop(PyObject *self, void *Py_UNUSED(c)) { return object_or_none((PyObject *)data_of(self)->loop); }
static PyObject *get_protocol(PyObject *self, void *Py_UNUSED(c)) { return object_or_none(data_of(self)->protocol); }
static PyObject *get_extra(PyObject *self, void *Py_UNUSED(c)) { return object_or_none(data_of(self)->extra); }
static PyObject *get_server(PyObject *self, void *Py_UNUSED(c)) { return object_or_none(data_of(self)->server); }
static PyObject *get_empty_waiter(PyObject *self, void *Py_UNUSED(c)) { return object_or_none(data_of(self)->empty_waiter); }
static PyObject *get_sock_fd(PyObject *self, void *Py_UNUSED(c)) { return PyLong_FromLong(data_of(self)->fd); }
static PyObject *get_closing(PyObject *self, void *Py_UNUSED(c)) { return PyBool_FromLong(data_of(self)->closing); }
static PyObject *get_eof(PyObject *self, void *Py_UNUSED(c)) { return PyBool_FromLong(data_of(self)->eof); }
static PyObject *get_paused(PyObject *self, void *Py_UNUSED(c)) { return PyBool_FromLong(data_of(self)->paused); }
static PyObject *get_conn_lost(PyObject *self, void *Py_UNUSED(c)) { return PyLong_FromSsize_t(data_of(self)->conn_lost); }

static PyObject *get_protocol_paused(PyObject *self, void *Py_UNUSED(c))
{
    return PyBool_FromLong(pyloop_stream_write_paused(&data_of(self)->stream));
}

static PyObject *get_high_water(PyObject *self, void *Py_UNUSED(c))
{
    size_t high, low;
    pyloop_stream_get_write_limits(&data_of(self)->stream, &high, &low);
    return PyLong_FromSize_t(high);
}

static PyObject *get_low_water(PyObject *self, void *Py_UNUSED(c))
{
    size_t high, low;
    pyloop_stream_get_write_limits(&data_of(self)->stream, &high, &low);
    return PyLong_FromSize_t(low);
}

static PyGetSetDef transport_getset[] = {
    {"_sock", get_sock, NULL, NULL, NULL},
    {"_sock_fd", get_sock_fd, NULL, NULL, NULL},
    {"_loop", get_loop, NULL, NULL, NULL},
    {"_protocol", get_protocol, NULL, NULL, NULL},
    {"_extra", get_extra, NULL, NULL, NULL},
    {"_server", get_server, NULL, NULL, NULL},
    {"_empty_waiter", get_empty_waiter, NULL, NULL, NULL},
    {"_closing", get_closing, NULL, NULL, NULL},
    {"_eof", get_eof, NULL, NULL, NULL},
    {"_paused", get_paused, NULL, NULL, NULL},
    {"_conn_lost", get_conn_lost, NULL, NULL, NULL},
    {"_protocol_paused", get_protocol_paused, NULL, NULL, NULL},
    {"_high_water", get_high_water, NULL, NULL, NULL},
    {"_low_water", get_low_water, NULL, NULL, NULL},
    {"__dict__", PyObject_GenericGetDict, PyObject_GenericSetDict, NULL, NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyMethodDef transport_methods[] = {
    {"write", transport_write, METH_O, "Write some data bytes to the transport."},
    {"writelines", transport_writelines, METH_O, "Write a list (or any iterable) of data bytes."},
    {"write_eof", transport_write_eof, METH_NOARGS, "Close the write end after flushing buffered data."},
    {"can_write_eof", transport_can_write_eof, METH_NOARGS, "Return True: this transport supports write_eof()."},
    {"close", transport_close, METH_NOARGS, "Close the transport once the buffer is sent."},
    {"abort", transport_abort, METH_NOARGS, "Close the transport immediately, dropping buffered data."},
    {"is_closing", transport_is_closing, METH_NOARGS, "Return True if the transport is closing or closed."},
    {"is_reading", transport_is_reading, METH_NOARGS, "Return True if the transport is receiving."},
    {"pause_reading", transport_pause_reading, METH_NOARGS, "Pause the receiving end."},
    {"resume_reading", transport_resume_reading, METH_NOARGS, "Resume the receiving end."},
    {"get_write_buffer_size", transport_get_write_buffer_size, METH_NOARGS, "Return the current size of the write buffer."},
    {"get_write_buffer_limits", transport_get_write_buffer_limits, METH_NOARGS, "Return (low, high)."},
    {"set_write_buffer_limits", (PyCFunction)(void (*)(void))transport_set_write_buffer_limits,
     METH_VARARGS | METH_KEYWORDS, "Set the high- and low-water limits for write flow control."},
    {"get_extra_info", (PyCFunction)(void (*)(void))transport_get_extra_info, METH_VARARGS | METH_KEYWORDS,
     "Get optional transport information."},
    {"get_protocol", transport_get_protocol, METH_NOARGS, "Return the current protocol."},
    {"set_protocol", transport_set_protocol, METH_O, "Set a new protocol."},
    {"_force_close", transport_force_close, METH_O, NULL},
    {"_fatal_error", (PyCFunction)(void (*)(void))transport_fatal_error, METH_VARARGS | METH_KEYWORDS, NULL},
    {"_call_connection_lost", transport_call_connection_lost, METH_O, NULL},
    {"_make_empty_waiter", transport_make_empty_waiter, METH_NOARGS, NULL},
    {"_reset_empty_waiter", transport_reset_empty_waiter, METH_NOARGS, NULL},
    {"_add_reader_after_connect", transport_add_reader_after_connect, METH_NOARGS, NULL},
    {NULL, NULL, 0, NULL},
};

/* ------------------------------------------------------------------ */
/* the accept loop                                                     */
/* ------------------------------------------------------------------ */

/* One accepted connection: asyncio's _accept_connection2 without TLS, done
 * at once rather than in a task one iteration later (docs/usage.md lists
 * the difference). Returns -1 only for KeyboardInterrupt/SystemExit; any
 * other failure is dropped, as asyncio drops it outside debug mode (the
 * caller takes debug mode to asyncio's own path). */
static int accept_one(PyObject *loop, PyObject *factory, PyObject *conn, PyObject *addr, PyObject *server,
                      PyObject *server_context)
{
    PyObject *protocol = NULL, *extra = NULL, *transport = NULL;
    /* asyncio runs _accept_connection2 as a task, in its own copy of the
     * accept Handle's context: the factory's context changes stay with its
     * connection (its callbacks see them), and the next one starts afresh.
     * 3.15 passes the server's context (Server._context): each connection
     * gets a copy of it, its task runs in it and so does every callback of
     * its transport (context=). */
    int given = server_context != Py_None;
    PyObject *context = given ? PyContext_Copy(server_context) : PyContext_CopyCurrent();

    if (context && PyContext_Enter(context) == 0) {
        protocol = PyObject_CallNoArgs(factory);
        if (protocol && (extra = PyDict_New()) && PyDict_SetItem(extra, T.str_peername, addr) == 0) {
            PyObject *args[] = {loop, conn, protocol, Py_None, extra, server, context};
            transport = PyObject_Vectorcall((PyObject *)PyLoop_SocketTransportType, args, 6,
                                            given ? T.kw_context : NULL);
        }
        if (PyContext_Exit(context) < 0)
            Py_CLEAR(transport);
    }
    Py_XDECREF(context);
    Py_XDECREF(protocol);
    Py_XDECREF(extra);
    if (transport) {
        Py_DECREF(transport); /* the loop holds it while it reads */
        return 0;
    }
    if (is_fatal_to_run())
        return -1;
    PyErr_Clear();
    return 0;
}

static PyObject *accept_rest_function; /* accept_rest, as a callable for call_soon */

/* Gives each accepted connection of `accepted` (accept()'s (conn, addr)
 * pairs) its protocol and transport, in accept order. asyncio calls every
 * protocol factory of a readiness after its accept loop (each in a task):
 * a factory that closes the server then finds the others accepted, and
 * their transports fail Server._attach and are dropped. Returns -1 only
 * for KeyboardInterrupt/SystemExit, which end the run where asyncio's task
 * raised it; the connections after it are left for the next iteration,
 * as asyncio's tasks are. */
static int make_accepted(PyObject *loop, PyObject *factory, PyObject *server, PyObject *accepted,
                         PyObject *context)
{
    Py_ssize_t i;

    for (i = 0; i < PyList_GET_SIZE(accepted); i++) {
        PyObject *pair = PyList_GET_ITEM(accepted, i);
        int rc;

        /* The list lets go of it: a dropped connection closes now. */
        Py_INCREF(Py_None);
        PyList_SET_ITEM(accepted, i, Py_None);
        /* Only accept()'s pairs are made (a caller's list may hold else). */
        rc = PyTuple_CheckExact(pair) && PyTuple_GET_SIZE(pair) == 2
                 ? accept_one(loop, factory, PyTuple_GET_ITEM(pair, 0), PyTuple_GET_ITEM(pair, 1), server, context)
                 : 0;
        Py_DECREF(pair);
        if (rc < 0) {
            PyObject *interrupt = PyLoop_FetchException(), *handle = NULL,
                     *rest = PyList_GetSlice(accepted, i + 1, PyList_GET_SIZE(accepted));

            if (rest && PyList_GET_SIZE(rest))
                handle = PyObject_CallMethodObjArgs(loop, T.str_call_soon, accept_rest_function, loop, factory,
                                                    server, rest, context, NULL);
            if (!handle)
                PyErr_Clear(); /* the interrupt is what the run reports */
            Py_XDECREF(handle);
            Py_XDECREF(rest);
            PyLoop_RestoreException(interrupt);
            return -1;
        }
    }
    return 0;
}

/* accept_rest(loop, protocol_factory, server, accepted, context):
 * make_accepted() for the connections an interrupt left behind. */
static PyObject *accept_rest(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    (void)module;
    if (nargs != 5 || !PyList_CheckExact(args[3]) || (args[4] != Py_None && !PyContext_CheckExact(args[4]))) {
        PyErr_SetString(PyExc_TypeError, "accept_rest(loop, protocol_factory, server, accepted: list, context)");
        return NULL;
    }
    if (make_accepted(args[0], args[1], args[2], args[3], args[4]) < 0)
        return NULL;
    Py_RETURN_NONE;
}

static PyMethodDef accept_rest_def = {"accept_rest", (PyCFunction)(void (*)(void))accept_rest, METH_FASTCALL, NULL};

/* asyncio's _accept_connection for a listening socket without TLS, in C:
 * at most `backlog` accepts per readiness (_loop.py passes asyncio's count:
 * backlog + 1 in the bug-fix releases that make one more), then each
 * connection given its protocol and transport at once, in accept order, in
 * a copy of `context` when one is given (3.15's Server._context). Returns
 * None, or
 * (OSError, accepts left of the backlog, the connections accepted so far)
 * on a resource shortage (EMFILE, ENFILE, ENOBUFS, ENOMEM) for _loop.py to
 * handle as asyncio does (report it, stop watching, retry later, and go on
 * through the backlog, passing those connections back as `accepted`); any
 * other error is raised, to the loop's exception handler, after the
 * connections accepted before it are made, as asyncio's tasks still make
 * them. The socket's own accept() and setblocking() are called, as asyncio
 * calls them. */
static PyObject *accept_connections(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    PyObject *loop, *factory, *sock, *server, *accepted, *context, *result = NULL, *raised;
    Py_ssize_t backlog, i;

    (void)module;
    if (nargs < 5 || nargs > 7) {
        PyErr_Format(PyExc_TypeError, "accept_connections() takes 5 to 7 arguments (%zd given)", nargs);
        return NULL;
    }
    loop = args[0], factory = args[1], sock = args[2], server = args[3];
    context = nargs == 7 ? args[6] : Py_None;
    if (context != Py_None && !PyContext_CheckExact(context)) {
        PyErr_SetString(PyExc_TypeError, "accept_connections(): context must be a contextvars.Context or None");
        return NULL;
    }
    backlog = PyLong_AsSsize_t(args[4]);
    if (backlog == -1 && PyErr_Occurred())
        return NULL;
    if (nargs >= 6 && args[5] != Py_None) {
        if (!PyList_CheckExact(args[5])) {
            PyErr_SetString(PyExc_TypeError, "accept_connections(): accepted must be a list");
            return NULL;
        }
        accepted = args[5];
        Py_INCREF(accepted);
    } else if (!(accepted = PyList_New(0))) {
        return NULL;
    }
    for (i = 0; i < backlog; i++) {
        PyObject *pair = PyObject_CallMethodNoArgs(sock, T.str_accept), *items = NULL, *done = NULL;

        if (pair) {
            items = PySequence_Tuple(pair);
            Py_DECREF(pair);
            if (!items)
                goto raise;
            if (PyTuple_GET_SIZE(items) != 2) {
                PyErr_Format(PyExc_ValueError, "expected 2 values to unpack from accept() (got %zd)",
                             PyTuple_GET_SIZE(items));
                Py_DECREF(items);
                goto raise;
            }
            done = PyObject_CallMethodOneArg(PyTuple_GET_ITEM(items, 0), T.str_setblocking, Py_False);
        }
        if (!done) {
            PyObject *exception, *number;
            long error;

            Py_XDECREF(items);
            if (T.accept_aborted_continues && PyErr_ExceptionMatches(PyExc_ConnectionAbortedError)) {
                PyErr_Clear(); /* discarded, as asyncio's `continue` */
                continue;
            }
            if (PyErr_ExceptionMatches(PyExc_BlockingIOError) || PyErr_ExceptionMatches(PyExc_InterruptedError)
                || PyErr_ExceptionMatches(PyExc_ConnectionAbortedError)) {
                PyErr_Clear(); /* the backlog is empty */
                break;
            }
            if (!PyErr_ExceptionMatches(PyExc_OSError))
                goto raise;
            exception = PyLoop_FetchException();
            number = exception ? PyObject_GetAttr(exception, T.str_errno) : NULL;
            error = number && PyLong_Check(number) ? PyLong_AsLong(number) : 0;
            Py_XDECREF(number);
            PyErr_Clear();
            if (error == EMFILE || error == ENFILE || error == ENOBUFS || error == ENOMEM) {
                result = Py_BuildValue("(NnO)", exception, backlog - i - 1, accepted);
                goto done;
            }
            PyLoop_RestoreException(exception);
            goto raise;
        }
        Py_DECREF(done);
        if (PyList_Append(accepted, items) < 0) {
            Py_DECREF(items);
            goto raise;
        }
        Py_DECREF(items);
    }
    if (make_accepted(loop, factory, server, accepted, context) == 0)
        result = (Py_INCREF(Py_None), Py_None);
    goto done;
raise:
    raised = PyLoop_FetchException();
    if (make_accepted(loop, factory, server, accepted, context) == 0)
        PyLoop_RestoreException(raised);
    else
        Py_XDECREF(raised); /* the interrupt goes first */
done:
    Py_DECREF(accepted);
    return result;
}

static PyMethodDef accept_functions[] = {
    {"accept_connections", (PyCFunction)(void (*)(void))accept_connections, METH_FASTCALL,
     "accept_connections(loop, protocol_factory, sock, server, backlog, accepted=None, context=None): asyncio's "
     "accept loop, without TLS."},
    {NULL, NULL, 0, NULL},
};

/* ------------------------------------------------------------------ */
/* the type                                                            */
/* ------------------------------------------------------------------ */

/* T.socket_type = _socket.socket once a real socket shows its fd where
 * SocketHead says, and -1 there after close(); otherwise NULL, and the
 * transports trust their fd as before. */
static int load_socket_type(void)
{
    PyObject *type = NULL, *probe = NULL, *number = NULL, *closed = NULL;
    int rc = -1, fd;

    if (PyLoop_ImportInto(&type, "_socket", "socket") < 0)
        return -1;
    if (!PyType_Check(type) || ((PyTypeObject *)type)->tp_basicsize < (Py_ssize_t)sizeof(SocketHead)) {
        rc = 0;
        goto done;
    }
    probe = PyObject_CallFunction(type, "ii", AF_UNIX, SOCK_STREAM);
    number = probe ? PyObject_CallMethod(probe, "fileno", NULL) : NULL;
    if (!number)
        goto done;
    fd = ((SocketHead *)probe)->sock_fd;
    if (!(closed = PyObject_CallMethod(probe, "close", NULL)))
        goto done;
    if (fd >= 0 && PyLong_AsLong(number) == fd && ((SocketHead *)probe)->sock_fd == -1) {
        Py_INCREF(type);
        T.socket_type = (PyTypeObject *)type;
    }
    rc = PyErr_Occurred() ? -1 : 0;
done:
    Py_XDECREF(closed);
    Py_XDECREF(number);
    Py_XDECREF(probe);
    Py_XDECREF(type);
    return rc;
}

/* What asyncio's accept loop does on ConnectionAbortedError: returns, as the
 * buffer were empty (3.10 to 3.13.0), or discards that connection and goes
 * on (the bug-fix releases since: 3.13.x, 3.14+). Asked of asyncio's own
 * _accept_connection, with a backlog of 2 and a stand-in socket whose every
 * accept() is aborted, as datagram_transport.c asks its datagram transport. */
static const char accept_probe_source[] =
    "from asyncio import selector_events\n"
    "class Sock:\n"
    "    accepts = 0\n"
    "    def accept(self):\n"
    "        self.accepts += 1\n"
    "        raise ConnectionAbortedError\n"
    "sock = Sock()\n"
    "selector_events.BaseSelectorEventLoop._accept_connection(None, None, sock, None, None, 2)\n"
    "result = sock.accepts > 1\n";

static int probe_accept_loop(void)
{
    T.accept_aborted_continues = PyLoop_ProbeFlag(accept_probe_source, "asyncio's accept loop");
    return T.accept_aborted_continues < 0 ? -1 : 0;
}

/* What asyncio's transport does with calls after connection_lost, which its
 * bug-fix releases changed (3.13.x, 3.14.x): writelines() once _conn_lost
 * counts and drops as write() does (before: it buffered and called the
 * _write_ready that _call_connection_lost set to None, a TypeError), and
 * the close after a drain sets _conn_lost before it calls connection_lost
 * (gh-156512; before: _conn_lost stayed 0, and a later write() or abort()
 * reached _loop None, an AttributeError). Asked of asyncio's own methods on
 * a stand-in transport, as probe_accept_loop asks its accept loop. */
static const char lost_probe_source[] =
    "import collections\n"
    "from asyncio import selector_events\n"
    "cls = selector_events._SelectorSocketTransport\n"
    "class Sock:\n"
    "    def send(self, data):\n"
    "        return len(data)\n"
    "class Loop:\n"
    "    def _remove_writer(self, fd):\n"
    "        pass\n"
    "def stand_in(conn_lost, buffer):\n"
    "    t = object.__new__(cls)\n"
    "    t._sock, t._sock_fd, t._loop, t._buffer, t._buffer_size = None, -1, Loop(), buffer, len(buffer)\n"
    "    t._conn_lost, t._closing, t._eof, t._empty_waiter = conn_lost, True, False, None\n"
    "    t._maybe_resume_protocol = lambda: None\n"
    "    return t\n"
    "t = stand_in(1, collections.deque())\n"
    "try:\n"
    "    t.writelines([b'x'])\n"
    "    writelines_counts = t._conn_lost == 2\n"
    "except (TypeError, AttributeError):\n"
    "    writelines_counts = False\n"
    "write_send = getattr(cls, '_write_send', None)\n"
    "t = stand_in(0, collections.deque([memoryview(b'x')]) if write_send else bytearray(b'x'))\n"
    "lost = []\n"
    "t._call_connection_lost = lambda exc: lost.append(t._conn_lost)\n"
    "t._sock = Sock()\n"
    "try:\n"
    "    (write_send or cls._write_ready)(t)\n"
    "finally:\n"
    "    t._sock = None\n"
    "drain_counts = lost == [1]\n"
    "result = (writelines_counts, drain_counts)\n";

static int probe_lost_rules(void)
{
    PyObject *rules = PyLoop_Probe(lost_probe_source, "asyncio's transport after connection_lost");
    int writelines, drain, ok = rules && PyArg_ParseTuple(rules, "pp", &writelines, &drain);

    Py_XDECREF(rules);
    if (!ok)
        return -1;
    T.writelines_counts_lost = writelines;
    T.drain_counts_lost = drain;
    return 0;
}

static int load_names(void)
{
    PyObject *threshold = NULL, *attach = NULL, *code = NULL, *count = NULL;
    int rc = -1;

    if (PyLoop_ImportInto(&T.flow_control_mixin, "asyncio.transports", "_FlowControlMixin") < 0
        || PyLoop_ImportInto(&T.buffered_protocol, "asyncio.protocols", "BufferedProtocol") < 0
        || PyLoop_ImportInto(&T.transport_socket, "asyncio.trsock", "TransportSocket") < 0
        || PyLoop_ImportInto(&T.set_result_unless_cancelled, "asyncio.futures", "_set_result_unless_cancelled") < 0
        || PyLoop_ImportInto(&T.logger, "asyncio.log", "logger") < 0
        || PyLoop_ImportInto(&threshold, "asyncio.constants", "LOG_THRESHOLD_FOR_CONNLOST_WRITES") < 0
        || PyLoop_ImportInto(&attach, "asyncio.base_events", "Server") < 0 || load_socket_type() < 0
        || probe_accept_loop() < 0 || probe_lost_rules() < 0)
        goto done;
    T.connlost_threshold = PyLong_AsSsize_t(threshold);
    if (T.connlost_threshold == -1 && PyErr_Occurred())
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
    if (PyLoop_InternInto(&T.str_call_soon, "call_soon") < 0 || PyLoop_InternInto(&T.str_call_exception_handler, "call_exception_handler") < 0
        || PyLoop_InternInto(&T.str_get_debug, "get_debug") < 0 || PyLoop_InternInto(&T.str_connection_made, "connection_made") < 0
        || PyLoop_InternInto(&T.str_connection_lost, "connection_lost") < 0 || PyLoop_InternInto(&T.str_data_received, "data_received") < 0
        || PyLoop_InternInto(&T.str_eof_received, "eof_received") < 0 || PyLoop_InternInto(&T.str_get_buffer, "get_buffer") < 0
        || PyLoop_InternInto(&T.str_buffer_updated, "buffer_updated") < 0 || PyLoop_InternInto(&T.str_pause_writing, "pause_writing") < 0
        || PyLoop_InternInto(&T.str_resume_writing, "resume_writing") < 0 || PyLoop_InternInto(&T.str_close, "close") < 0
        || PyLoop_InternInto(&T.str_attach, "_attach") < 0 || PyLoop_InternInto(&T.str_detach, "_detach") < 0
        || PyLoop_InternInto(&T.str_transports, "_transports") < 0 || PyLoop_InternInto(&T.str_create_future, "create_future") < 0
        || PyLoop_InternInto(&T.str_set_result, "set_result") < 0 || PyLoop_InternInto(&T.str_set_exception, "set_exception") < 0
        || PyLoop_InternInto(&T.str_max_size, "max_size") < 0 || PyLoop_InternInto(&T.str_debug, "debug") < 0
        || PyLoop_InternInto(&T.str_add_reader_after_connect, "_add_reader_after_connect") < 0
        || PyLoop_InternInto(&T.str_call_connection_lost, "_call_connection_lost") < 0 || PyLoop_InternInto(&T.str_accept, "accept") < 0
        || PyLoop_InternInto(&T.str_setblocking, "setblocking") < 0 || PyLoop_InternInto(&T.str_errno, "errno") < 0
        || PyLoop_InternInto(&T.str_peername, "peername") < 0 || !(T.kw_context = Py_BuildValue("(s)", "context")))
        goto done;
    rc = 0;
done:
    Py_XDECREF(threshold);
    Py_XDECREF(attach);
    Py_XDECREF(code);
    Py_XDECREF(count);
    return rc;
}

PyTypeObject *PyLoopTransport_TypeFromSpec(PyType_Spec *spec, PyObject *bases, size_t data_size, size_t dict_at,
                                           size_t weaklist_at, struct PyMemberDef *members, Py_ssize_t *data_offset)
{
    PyTypeObject *base = (PyTypeObject *)PyTuple_GET_ITEM(bases, 0);
    Py_ssize_t align = (Py_ssize_t)_Alignof(max_align_t);

    *data_offset = (base->tp_basicsize + align - 1) & ~(align - 1);
    spec->basicsize = (int)(*data_offset + (Py_ssize_t)data_size);
    members[0] = (PyMemberDef){"__weaklistoffset__", T_PYSSIZET, *data_offset + (Py_ssize_t)weaklist_at, READONLY, NULL};
    members[1] = (PyMemberDef){"__dictoffset__", T_PYSSIZET, *data_offset + (Py_ssize_t)dict_at, READONLY, NULL};
    members[2] = (PyMemberDef){NULL, 0, 0, 0, NULL};
    return (PyTypeObject *)PyType_FromSpecWithBases(spec, bases);
}

/* Built at run time: the layout starts where _FlowControlMixin's ends. */
static PyMemberDef transport_members[3];

int PyLoopSocketTransport_Add(PyObject *module)
{
    PyObject *bases, *sendfile_mode = NULL, *try_native = NULL;
    PyType_Slot slots[] = {
        {Py_tp_init, transport_init},
        {Py_tp_dealloc, transport_dealloc},
        {Py_tp_traverse, transport_traverse},
        {Py_tp_clear, transport_clear},
        {Py_tp_finalize, transport_finalize},
        {Py_tp_repr, transport_repr},
        {Py_tp_methods, transport_methods},
        {Py_tp_getset, transport_getset},
        {Py_tp_members, transport_members},
        {Py_tp_doc, "asyncio's socket transport (TCP, Unix), in C on PyLoop's stream layer."},
        {0, NULL},
    };
    PyType_Spec spec = {
        .name = "data_bridge.pyloop._pyloop.SocketTransport",
        .itemsize = 0,
        .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
        .slots = slots,
    };

    if (load_names() < 0)
        return -1;
    bases = PyTuple_Pack(1, T.flow_control_mixin);
    if (!bases)
        return -1;
    PyLoop_SocketTransportType = PyLoopTransport_TypeFromSpec(
        &spec, bases, sizeof(TransportData), offsetof(TransportData, dict), offsetof(TransportData, weakreflist),
        transport_members, &T.data_offset);
    Py_DECREF(bases);
    if (!PyLoop_SocketTransportType)
        return -1;
    /* Class attributes asyncio's own code looks for. */
    if (PyLoop_ImportInto(&sendfile_mode, "asyncio.constants", "_SendfileMode") < 0)
        return -1;
    try_native = PyObject_GetAttrString(sendfile_mode, "TRY_NATIVE");
    Py_DECREF(sendfile_mode);
    if (!try_native || PyObject_SetAttrString((PyObject *)PyLoop_SocketTransportType, "_sendfile_compatible", try_native) < 0
        || PyObject_SetAttrString((PyObject *)PyLoop_SocketTransportType, "_start_tls_compatible", Py_True) < 0) {
        Py_XDECREF(try_native);
        return -1;
    }
    Py_DECREF(try_native);
    {
        PyObject *max_size = PyLong_FromLong(MAX_SIZE_DEFAULT);
        int rc = max_size ? PyObject_SetAttrString((PyObject *)PyLoop_SocketTransportType, "max_size", max_size) : -1;
        Py_XDECREF(max_size);
        if (rc < 0)
            return -1;
    }
    Py_INCREF(PyLoop_SocketTransportType);
    if (PyModule_AddObject(module, "SocketTransport", (PyObject *)PyLoop_SocketTransportType) < 0) {
        Py_DECREF(PyLoop_SocketTransportType);
        return -1;
    }
    if (!(accept_rest_function = PyCFunction_New(&accept_rest_def, NULL)))
        return -1;
    return PyModule_AddFunctions(module, accept_functions);
}

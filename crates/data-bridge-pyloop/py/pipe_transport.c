/*
 * ReadPipeTransport and WritePipeTransport: asyncio's _UnixReadPipeTransport
 * and _UnixWritePipeTransport in C, on the stream layer and the transport
 * base, for connect_read_pipe/connect_write_pipe and so for subprocess
 * pipes. Behaviour, error types and messages are unix_events.py's
 * (3.11-3.13; 3.9 and 3.10 differ as docs/usage.md lists): one read of
 * max_size per readiness, EOF as eof_received() then connection_lost(None)
 * through call_soon, write() tried at once with nothing buffered, resume_
 * writing only once the buffer is empty, the write end watched for reading
 * (sockets and FIFOs) so that the peer closing is noticed.
 *
 * One difference inside the contract: an exception from a protocol call
 * asyncio makes inside _read_ready/_write_ready reaches the exception
 * handler as "Exception in callback <Type>._read_ready()" through a Handle
 * made for the report, as asyncio's Handle._run reports it.
 */
#include "transport_base.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The stream head, then what only the pipes have. */
typedef struct PipeData {
    PYLOOP_STREAM_TRANSPORT_HEAD
    char protocol_paused; /* pause_writing() was called, resume_writing() not yet */
    char watch_peer;      /* writer on a socket or FIFO: readable means the peer closed */
} PipeData;

/* One ops table per type. Neither uses the base's selector-shaped close
 * path: asyncio's pipes close their own way (pipe_close_with). */
static PyLoopTransportOps rpipe_ops, wpipe_ops;

/* asyncio.transports.ReadTransport, the read pipe's Python base. */
static PyObject *rpipe_base;

PyTypeObject *PyLoop_ReadPipeTransportType;
PyTypeObject *PyLoop_WritePipeTransportType;

static inline PipeData *pipe_data_of(PyObject *self)
{
    PyLoopTransportOps *ops = PyObject_TypeCheck(self, PyLoop_WritePipeTransportType) ? &wpipe_ops : &rpipe_ops;
    PipeData *t = (PipeData *)((char *)self + ops->data_offset);

    t->ops = ops;
    return t;
}

static inline PyObject *pipe_object_of(PipeData *t) { return PyLoopTransport_Object((PyLoopTransport *)t); }
static inline PipeData *pipe_of_stream(pyloop_stream *stream) { return pipe_data_of(stream->context); }

/* A WritePipeTransport (or subclass) instance, initialised or not. */
static inline int pipe_is_writer(const PipeData *t) { return t->ops == &wpipe_ops; }
static int pipe_loop_debug(PipeData *t) { return t->loop && t->loop->debug; }

/* A protocol call's exception, reported as asyncio's reader or writer
 * callback `callback` (_read_ready or _write_ready) would be. */
static void pipe_report_as_callback(PipeData *t, LoopObject *loop, PyObject *callback)
{
    PyLoopTransport_ReportAsCallback(pipe_object_of(t), loop, callback);
}

/* ---- closing and errors ---- */

/* asyncio's pipe _close: closing, the buffer dropped, no watchers,
 * connection_lost(exception) soon. Not the base's _force_close: no
 * _conn_lost count, and a second call schedules again (it runs once). */
static int pipe_close_with(PipeData *t, PyObject *exception)
{
    t->closing = 1;
    pyloop_stream_close(&t->stream);
    if (!t->loop)
        return 0; /* connection_lost already ran */
    return PyLoopTransport_ScheduleConnectionLost((PyLoopTransport *)t, exception);
}

/* asyncio's _fatal_error, then _close: the read end only logs EIO (a pty
 * whose other side closed), the write end any OSError; the rest goes to the
 * exception handler. Per type: the selector classes and the two pipe
 * classes each classify their own way. */
static void pipe_fatal_error(PipeData *t, PyObject *exception, const char *message)
{
    PyObject *self = pipe_object_of(t);
    int log_only = PyObject_TypeCheck(exception, (PyTypeObject *)PyExc_OSError);

    if (!t->loop)
        return;
    if (log_only && !pipe_is_writer(t)) {
        PyObject *number = PyObject_GetAttr(exception, PyLoop_str.errno_);
        long error = number && PyLong_Check(number) ? PyLong_AsLong(number) : -1;
        Py_XDECREF(number);
        PyErr_Clear();
        log_only = error == EIO;
    }
    Py_INCREF(self);
    PyLoopTransport_ReportFatal(t->loop, self, t->protocol, exception, message, log_only);
    if (pipe_close_with(t, exception) < 0)
        PyErr_WriteUnraisable(self);
    Py_DECREF(self);
}

/* asyncio's _call_connection_lost: connection_lost(exc), then (finally)
 * the pipe closed, loop and protocol forgotten; once only (abort() after
 * write_eof() does nothing). Per type: a failing pipe close propagates
 * when connection_lost succeeded. */
static PyObject *pipe_call_connection_lost(PipeData *t, PyObject *exception)
{
    PyObject *self = pipe_object_of(t), *result, *pipe = t->pipe, *protocol = t->protocol;
    LoopObject *loop = t->loop;

    if (!loop)
        Py_RETURN_NONE;
    Py_INCREF(self);
    result = protocol ? PyObject_CallMethodObjArgs(protocol, PyLoop_str.connection_lost, exception, NULL)
                      : (Py_INCREF(Py_None), Py_None);
    pyloop_stream_close(&t->stream);
    t->pipe = NULL;
    t->protocol = NULL;
    t->loop = NULL;
    if (pipe) {
        PyObject *error = result ? NULL : PyLoop_FetchException();
        PyObject *closed = PyObject_CallMethodObjArgs(pipe, PyLoop_str.close, NULL);
        if (!closed) {
            if (error)
                PyErr_WriteUnraisable(self);
            else
                Py_CLEAR(result); /* asyncio's finally raises it */
        }
        Py_XDECREF(closed);
        if (error)
            PyLoop_RestoreException(error);
        Py_DECREF(pipe);
    }
    Py_XDECREF(protocol);
    Py_DECREF(loop);
    Py_DECREF(self);
    return result;
}

/* ---- reading (ReadPipeTransport) ---- */

/* asyncio's _read_ready once os.read returned: data, or end of file. */
static void rpipe_read_result(PipeData *t, const char *data, ssize_t nread)
{
    LoopObject *loop = t->loop;
    PyObject *bytes = t->read_bytes, *result;

    t->read_bytes = NULL;
    if (nread > 0) {
        if (t->read_shared) {
            Py_CLEAR(bytes);
            bytes = PyBytes_FromStringAndSize(data, nread);
        } else if (bytes && nread != PyBytes_GET_SIZE(bytes) && _PyBytes_Resize(&bytes, nread) < 0) {
            bytes = NULL;
        }
        t->read_shared = 0;
        result = bytes ? PyObject_CallMethodObjArgs(t->protocol, PyLoop_str.data_received, bytes, NULL) : NULL;
        Py_XDECREF(bytes);
        if (!result)
            pipe_report_as_callback(t, loop, PyLoop_str._read_ready);
        Py_XDECREF(result);
        return;
    }
    Py_XDECREF(bytes);
    t->read_shared = 0;
    if (pipe_loop_debug(t))
        PyLoopTransport_Log(pipe_object_of(t), "info", "%r was closed by peer");
    t->closing = 1;
    pyloop_stream_read_stop(&t->stream);
    result = PyObject_GetAttr(t->protocol, PyLoop_str.eof_received);
    if (!result || PyLoopTransport_CallSoon(loop, result, NULL, NULL) < 0
        || PyLoopTransport_ScheduleConnectionLost((PyLoopTransport *)t, NULL) < 0)
        pipe_report_as_callback(t, loop, PyLoop_str._read_ready);
    Py_XDECREF(result);
}

/* The buffer for one read of max_size: the shared one when it fits. 1: no
 * read (end of file for max_size 0, or an error already reported). */
static int rpipe_read_buffer(PipeData *t, void **data, size_t *length)
{
    Py_ssize_t size;
    size_t shared_size;
    char *shared = PyLoopTransport_SharedReadBuffer(&shared_size);

    if (PyLoopTransport_ReadSize(pipe_object_of(t), t->dict, PyLoop_ReadPipeTransportType, PyLoop_str.max_size, NULL,
                                 &size) < 0) {
        /* os.read's OSError is asyncio's fatal read error; anything else
         * escapes _read_ready, as there. */
        if (PyErr_ExceptionMatches(PyExc_OSError)) {
            PyObject *exception = PyLoop_FetchException();
            pipe_fatal_error(t, exception, "Fatal read error on pipe transport");
            Py_DECREF(exception);
        } else {
            pipe_report_as_callback(t, t->loop, PyLoop_str._read_ready);
        }
        return 1;
    }
    if (size == 0) { /* os.read(fd, 0) is b'': asyncio's end of file */
        rpipe_read_result(t, NULL, 0);
        return 1;
    }
    if ((size_t)size <= shared_size) {
        t->read_shared = 1;
        *data = shared;
        *length = (size_t)size;
        return 0;
    }
    Py_CLEAR(t->read_bytes);
    t->read_bytes = PyBytes_FromStringAndSize(NULL, size);
    if (!t->read_bytes) {
        pipe_report_as_callback(t, t->loop, PyLoop_str._read_ready);
        return 1;
    }
    *data = PyBytes_AS_STRING(t->read_bytes);
    *length = (size_t)size;
    return 0;
}

/* ---- the write end's reader: the peer closed ---- */

/* asyncio's _UnixWritePipeTransport._read_ready. */
static int wpipe_peer_closed(PipeData *t)
{
    int rc;

    if (pipe_loop_debug(t))
        PyLoopTransport_Log(pipe_object_of(t), "info", "%r was closed by peer");
    if (pyloop_stream_write_queue_size(&t->stream)) {
        PyObject *error = PyObject_CallNoArgs(PyExc_BrokenPipeError);
        if (!error)
            return -1;
        rc = pipe_close_with(t, error);
        Py_DECREF(error);
        return rc;
    }
    return pipe_close_with(t, NULL);
}

/* ---- the stream's callbacks ---- */

static int pipe_on_alloc(pyloop_stream *stream, void **data, size_t *length)
{
    PipeData *t = pipe_of_stream(stream);
    PyObject *self = pipe_object_of(t);
    LoopObject *loop = t->loop;
    int rc;

    if (!loop || !t->protocol)
        return 1;
    PyLoopTransport_FrameEnter(self, loop);
    if (pipe_is_writer(t)) {
        if (wpipe_peer_closed(t) < 0)
            pipe_report_as_callback(t, loop, PyLoop_str._read_ready);
        rc = 1;
    } else {
        rc = rpipe_read_buffer(t, data, length);
    }
    PyLoopTransport_FrameLeave(self, loop, rc == 1);
    return rc;
}

static void rpipe_on_read(pyloop_stream *stream, void *data, ssize_t nread)
{
    PipeData *t = pipe_of_stream(stream);
    PyObject *self = pipe_object_of(t);
    LoopObject *loop = t->loop;

    if (!loop || !t->protocol) {
        Py_CLEAR(t->read_bytes);
        t->read_shared = 0;
        return;
    }
    PyLoopTransport_FrameEnter(self, loop);
    rpipe_read_result(t, data, nread);
    PyLoopTransport_FrameLeave(self, loop, 1);
}

/* asyncio's _maybe_pause_protocol: the stream saw the buffer above high. */
static void wpipe_on_write_pause(pyloop_stream *stream)
{
    PipeData *t = pipe_of_stream(stream);

    if (t->protocol_paused || !t->protocol || !t->loop)
        return;
    t->protocol_paused = 1;
    PyLoopTransport_CallProtocolFlow(t->loop, pipe_object_of(t), t->protocol, PyLoop_str.pause_writing,
                                     "protocol.pause_writing() failed");
}

/* asyncio's _write_ready once the buffer is empty: resume_writing (a pipe
 * resumes only then, not at each send), and close after drain. */
static void wpipe_on_drain(pyloop_stream *stream)
{
    PipeData *t = pipe_of_stream(stream);
    PyObject *self = pipe_object_of(t);
    LoopObject *loop = t->loop;
    size_t high, low;

    if (!loop)
        return;
    PyLoopTransport_FrameEnter(self, loop);
    pyloop_stream_get_write_limits(&t->stream, &high, &low);
    if (t->protocol_paused && t->protocol && pyloop_stream_write_queue_size(&t->stream) <= low) {
        t->protocol_paused = 0;
        PyLoopTransport_CallProtocolFlow(loop, self, t->protocol, PyLoop_str.resume_writing,
                                         "protocol.resume_writing() failed");
    }
    if (t->closing && t->loop) {
        PyObject *result;
        pyloop_stream_read_stop(&t->stream);
        result = pipe_call_connection_lost(t, Py_None);
        if (!result)
            pipe_report_as_callback(t, loop, PyLoop_str._write_ready);
        Py_XDECREF(result);
    }
    PyLoopTransport_FrameLeave(self, loop, 1);
}

static void pipe_on_error(pyloop_stream *stream, int error, int while_writing)
{
    PipeData *t = pipe_of_stream(stream);
    PyObject *self = pipe_object_of(t), *exception = PyLoopTransport_OSError(-error);
    LoopObject *loop = t->loop;

    if (!exception || !loop) {
        Py_XDECREF(exception);
        return;
    }
    PyLoopTransport_FrameEnter(self, loop);
    if (while_writing)
        t->conn_lost++;
    pipe_fatal_error(t, exception,
                     while_writing ? "Fatal write error on pipe transport" : "Fatal read error on pipe transport");
    Py_DECREF(exception);
    PyLoopTransport_FrameLeave(self, loop, 1);
}

static const pyloop_stream_callbacks pipe_stream_callbacks = {
    .alloc = pipe_on_alloc,
    .on_read = rpipe_on_read,
    .on_write_pause = wpipe_on_write_pause,
    .on_write_resume = NULL, /* asyncio's pipe resumes at drain only */
    .on_drain = wpipe_on_drain,
    .on_error = pipe_on_error,
    /* the base's: the loop owns the transport while it holds the stream,
     * and the contexts of asyncio's reader and writer Handles */
    .hold = PyLoopTransport_OnHold,
    .release = PyLoopTransport_OnRelease,
    .on_watch = PyLoopTransport_OnWatch,
    .task_enter = PyLoopTransport_OnTaskEnter,
    .task_exit = PyLoopTransport_OnTaskExit,
};

/* ---- methods shared by both types ---- */

/* The signatures of what each pipe class defines itself, [0] the read
 * pipe's, [1] the write pipe's: the read pipe's _close takes exc without a
 * default, the write pipe's defaults it to None, as in unix_events.py. */
static const PyLoopParams pipe_fatal_error_params[2] = {
    {"_UnixReadPipeTransport._fatal_error", {"exc", "message"}, 1, 2},
    {"_UnixWritePipeTransport._fatal_error", {"exc", "message"}, 1, 2},
};
static const PyLoopParams pipe_close_params[2] = {
    {"_UnixReadPipeTransport._close", {"exc"}, 1, 1},
    {"_UnixWritePipeTransport._close", {"exc"}, 0, 1},
};
static const PyLoopParams pipe_call_connection_lost_params[2] = {
    {"_UnixReadPipeTransport._call_connection_lost", {"exc"}, 1, 1},
    {"_UnixWritePipeTransport._call_connection_lost", {"exc"}, 1, 1},
};

/* The argument of a method of one required parameter: args[0] at once for
 * the usual call, PyLoopArgs_Bind's checks and errors otherwise. NULL with
 * the TypeError. */
static PyObject *pipe_one_arg(const PyLoopParams *params, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    PyObject *bound[PYLOOP_MAX_PARAMS];

    if (nargs == 1 && !kwnames)
        return args[0];
    return PyLoopArgs_Bind(params, args, nargs, kwnames, bound) < 0 ? NULL : bound[0];
}

/* _fatal_error's message as the C report takes it: a str without NUL, the
 * checks (and texts) of PyArg_Parse's "s" that this method used. */
static int pipe_message(PyObject *object, const char **message)
{
    Py_ssize_t size;

    if (!PyUnicode_Check(object)) {
        PyErr_Format(PyExc_TypeError, "_fatal_error() argument 2 must be str, not %.50s", Py_TYPE(object)->tp_name);
        return -1;
    }
    if (!(*message = PyUnicode_AsUTF8AndSize(object, &size)))
        return -1;
    if ((size_t)size != strlen(*message)) {
        PyErr_SetString(PyExc_ValueError, "embedded null character");
        return -1;
    }
    return 0;
}

static PyObject *pipe_fatal_error_method(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    PipeData *t = pipe_data_of(self);
    PyObject *bound[PYLOOP_MAX_PARAMS];
    const char *message = "Fatal error on pipe transport";

    if (PyLoopArgs_Bind(&pipe_fatal_error_params[pipe_is_writer(t)], args, nargs, kwnames, bound) < 0)
        return NULL;
    if (bound[1] && pipe_message(bound[1], &message) < 0)
        return NULL;
    pipe_fatal_error(t, bound[0], message);
    Py_RETURN_NONE;
}

static PyObject *pipe_close_method(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    PipeData *t = pipe_data_of(self);
    PyObject *bound[PYLOOP_MAX_PARAMS], *exception;

    if (PyLoopArgs_Bind(&pipe_close_params[pipe_is_writer(t)], args, nargs, kwnames, bound) < 0)
        return NULL;
    exception = bound[0] == Py_None ? NULL : bound[0];
    return pipe_close_with(t, exception) < 0 ? NULL : Py_NewRef(Py_None);
}

static PyObject *pipe_call_connection_lost_method(PyObject *self, PyObject *const *args, Py_ssize_t nargs,
                                                  PyObject *kwnames)
{
    PipeData *t = pipe_data_of(self);
    PyObject *exception = pipe_one_arg(&pipe_call_connection_lost_params[pipe_is_writer(t)], args, nargs, kwnames);

    return exception ? pipe_call_connection_lost(t, exception) : NULL;
}

/* <ReadPipeTransport fd=7 polling>, <WritePipeTransport fd=8 idle
 * bufsize=0>, as asyncio's __repr__ (with this type's name). */
static PyObject *pipe_repr(PyObject *self)
{
    PipeData *t = pipe_data_of(self);
    const char *name = PyLoop_TypeName(self), *state = PyLoopTransport_ReprState((PyLoopTransport *)t);

    if (t->pipe && t->loop && !t->loop->closed) {
        if (pipe_is_writer(t))
            return PyUnicode_FromFormat("<%s%s fd=%d %s bufsize=%zu>", name, state, t->fd,
                                        pyloop_stream_is_writing(&t->stream) ? "polling" : "idle",
                                        pyloop_stream_write_queue_size(&t->stream));
        return PyUnicode_FromFormat("<%s%s fd=%d %s>", name, state, t->fd,
                                    pyloop_stream_is_reading(&t->stream) ? "polling" : "idle");
    }
    return PyUnicode_FromFormat("<%s%s fd=%d %s>", name, state, t->fd, t->pipe ? "open" : "closed");
}

/* ---- ReadPipeTransport's methods ---- */

static PyObject *rpipe_close(PyObject *self, PyObject *Py_UNUSED(unused))
{
    PipeData *t = pipe_data_of(self);

    return !t->closing && pipe_close_with(t, NULL) < 0 ? NULL : Py_NewRef(Py_None);
}

/* One os.read(fd, max_size) now, as asyncio's _read_ready (callable from
 * Python; the loop reads through the stream). */
static PyObject *rpipe_read_ready(PyObject *self, PyObject *Py_UNUSED(unused))
{
    PipeData *t = pipe_data_of(self);
    void *data = NULL;
    size_t length = 0;
    ssize_t nread;

    if (!t->loop || !t->protocol || rpipe_read_buffer(t, &data, &length) == 1)
        Py_RETURN_NONE;
    nread = read(t->fd, data, length);
    if (nread < 0) {
        int error = errno;
        Py_CLEAR(t->read_bytes);
        t->read_shared = 0;
        if (error != EAGAIN && error != EWOULDBLOCK && error != EINTR) {
            PyObject *exception = PyLoopTransport_OSError(error);
            if (!exception)
                return NULL;
            pipe_fatal_error(t, exception, "Fatal read error on pipe transport");
            Py_DECREF(exception);
        }
        Py_RETURN_NONE;
    }
    Py_INCREF(self);
    rpipe_read_result(t, data, nread);
    Py_DECREF(self);
    Py_RETURN_NONE;
}

/* Scheduled after connection_made: asyncio 3.11+'s _add_reader, which does
 * nothing once reading was paused or the transport closed. The write end
 * watches for the peer closing (sockets and FIFOs). */
static PyObject *pipe_add_reader_after_connect(PyObject *self, PyObject *Py_UNUSED(unused))
{
    PipeData *t = pipe_data_of(self);

    if (!t->loop || pyloop_stream_closed(&t->stream))
        Py_RETURN_NONE;
    /* The base starts it unless paused or closing (a write pipe is never
     * paused). */
    if ((!pipe_is_writer(t) || t->watch_peer) && PyLoopTransport_StartReading((PyLoopTransport *)t) < 0)
        return NULL;
    Py_RETURN_NONE;
}

/* ---- WritePipeTransport's methods ---- */

/* os.write failed (write, _write_ready): asyncio's `self._conn_lost += 1`,
 * then _fatal_error. */
static void wpipe_write_failed(PipeData *t, int error)
{
    PyObject *exception = PyLoopTransport_OSError(error);

    t->conn_lost++;
    if (exception) {
        pipe_fatal_error(t, exception, "Fatal write error on pipe transport");
        Py_DECREF(exception);
    }
}

static const PyLoopParams wpipe_write_params = {"_UnixWritePipeTransport.write", {"data"}, 1, 1};

static PyObject *wpipe_write(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    PipeData *t = pipe_data_of(self);
    PyObject *chunk, *data = pipe_one_arg(&wpipe_write_params, args, nargs, kwnames);
    pyloop_stream_buffer buffer;
    int rc;

    if (!data)
        return NULL;
    /* asyncio: assert isinstance(data, (bytes, bytearray, memoryview)), repr(data) */
    if (!PyBytes_Check(data) && !PyByteArray_Check(data) && !PyMemoryView_Check(data)) {
        PyObject *text = PyObject_Repr(data);
        if (text) {
            PyErr_SetObject(PyExc_AssertionError, text);
            Py_DECREF(text);
        }
        return NULL;
    }
    rc = PyObject_IsTrue(data);
    if (rc <= 0) {
        if (rc < 0)
            return NULL;
        Py_RETURN_NONE;
    }
    if (t->conn_lost || t->closing) {
        if (t->conn_lost >= PyLoop_asyncio.connlost_threshold)
            PyLoopTransport_Log(self, "warning", "pipe closed by peer or os.write(pipe, data) raised exception.");
        t->conn_lost++;
        Py_RETURN_NONE;
    }
    chunk = PyLoopTransport_ImmutableBytes(data);
    if (!chunk)
        return NULL;
    buffer = (pyloop_stream_buffer){PyBytes_AS_STRING(chunk), (size_t)PyBytes_GET_SIZE(chunk),
                                    PyLoopTransport_ReleaseOwner, chunk};
    Py_INCREF(self);
    rc = pyloop_stream_write(&t->stream, &buffer, 1, 0); /* the stream owns `chunk` now */
    if (rc < 0)
        wpipe_write_failed(t, -rc);
    Py_DECREF(self);
    return PyErr_Occurred() ? NULL : Py_NewRef(Py_None);
}

static PyObject *wpipe_write_eof(PyObject *self, PyObject *Py_UNUSED(unused))
{
    PipeData *t = pipe_data_of(self);

    /* Closing or lost (asyncio's _closing); no loop: never initialised. */
    if (t->closing || !t->loop)
        Py_RETURN_NONE;
    t->closing = 1;
    if (!pyloop_stream_write_queue_size(&t->stream)) {
        pyloop_stream_read_stop(&t->stream);
        if (PyLoopTransport_ScheduleConnectionLost((PyLoopTransport *)t, NULL) < 0)
            return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *wpipe_can_write_eof(PyObject *Py_UNUSED(self), PyObject *Py_UNUSED(unused))
{
    Py_RETURN_TRUE;
}

static PyObject *wpipe_close(PyObject *self, PyObject *unused)
{
    PipeData *t = pipe_data_of(self);

    if (t->pipe && !t->closing)
        return wpipe_write_eof(self, unused);
    Py_RETURN_NONE;
}

static PyObject *wpipe_abort(PyObject *self, PyObject *Py_UNUSED(unused))
{
    /* Lost (or never initialised): asyncio's _close reaches
     * self._loop._remove_reader with _loop None. */
    if (!pipe_data_of(self)->loop) {
        PyErr_SetString(PyExc_AttributeError, "'NoneType' object has no attribute '_remove_reader'");
        return NULL;
    }
    return pipe_close_with(pipe_data_of(self), NULL) < 0 ? NULL : Py_NewRef(Py_None);
}

static PyObject *wpipe_get_write_buffer_size(PyObject *self, PyObject *Py_UNUSED(unused))
{
    return PyLong_FromSize_t(pyloop_stream_write_queue_size(&pipe_data_of(self)->stream));
}

/* asyncio's write end _read_ready: the peer closed (callable from Python). */
static PyObject *wpipe_read_ready(PyObject *self, PyObject *Py_UNUSED(unused))
{
    PipeData *t = pipe_data_of(self);

    return t->loop && wpipe_peer_closed(t) < 0 ? NULL : Py_NewRef(Py_None);
}

/* Sends what is buffered now if the fd takes it (the loop does this by
 * itself when the fd is writable). */
static PyObject *wpipe_write_ready(PyObject *self, PyObject *Py_UNUSED(unused))
{
    PipeData *t = pipe_data_of(self);
    int rc;

    if (!t->loop || pyloop_stream_closed(&t->stream) || !pyloop_stream_write_queue_size(&t->stream))
        Py_RETURN_NONE;
    Py_INCREF(self);
    rc = pyloop_stream_flush(&t->stream);
    if (rc < 0) {
        wpipe_write_failed(t, -rc);
    } else if (!pyloop_stream_write_queue_size(&t->stream)) {
        wpipe_on_drain(&t->stream);
    }
    Py_DECREF(self);
    return PyErr_Occurred() ? NULL : Py_NewRef(Py_None);
}

/* ---- construction, GC, finalization ---- */

/* The pipe's fd, checked and made non-blocking as asyncio's __init__ does
 * (os.fstat's mode, then os.set_blocking(fd, False)). *watch_peer: a
 * socket or FIFO, whose write end notices the peer closing by reading. */
static int pipe_open_fd(PipeData *t, PyObject *pipe, char *watch_peer)
{
    PyObject *fileno = PyObject_CallMethodNoArgs(pipe, PyLoop_str.fileno);
    long fd = fileno ? PyLong_AsLong(fileno) : -1;
    struct stat status;
    int flags;

    Py_XDECREF(fileno);
    if (fd == -1 && PyErr_Occurred())
        return -1;
    t->fd = (int)fd;
    if (fstat(t->fd, &status) < 0) {
        PyErr_SetFromErrno(PyExc_OSError);
        return -1;
    }
    *watch_peer = (char)(S_ISFIFO(status.st_mode) || S_ISSOCK(status.st_mode));
    if (!(*watch_peer || S_ISCHR(status.st_mode))) {
        PyErr_SetString(PyExc_ValueError, pipe_is_writer(t)
                                              ? "Pipe transport is only for pipes, sockets and character devices"
                                              : "Pipe transport is for pipes/sockets only.");
        return -1;
    }
    flags = fcntl(t->fd, F_GETFL);
    if (flags < 0 || (!(flags & O_NONBLOCK) && fcntl(t->fd, F_SETFL, flags | O_NONBLOCK) < 0)) {
        PyErr_SetFromErrno(PyExc_OSError);
        return -1;
    }
    return 0;
}

/* (loop, pipe, protocol, waiter=None, extra=None), asyncio's order of work. */
static int pipe_init(PyObject *self, PyObject *args, PyObject *keywords)
{
    static char *names[] = {"loop", "pipe", "protocol", "waiter", "extra", NULL};
    PipeData *t = pipe_data_of(self);
    PyObject *loop, *pipe, *protocol, *waiter = Py_None, *extra = Py_None;
    char watch_peer;

    if (!PyArg_ParseTupleAndKeywords(args, keywords,
                                     pipe_is_writer(t) ? "OOO|OO:WritePipeTransport" : "OOO|OO:ReadPipeTransport",
                                     names, &loop, &pipe, &protocol, &waiter, &extra))
        return -1;
    if (!PyObject_TypeCheck(loop, &PyLoop_LoopType)) {
        PyErr_Format(PyExc_TypeError, "loop must be a data_bridge.pyloop loop, got %R", loop);
        return -1;
    }
    if (t->loop || t->pipe) {
        PyErr_SetString(PyExc_RuntimeError, "pipe transport is already initialized");
        return -1;
    }
    /* BaseTransport.__init__: the caller's mapping itself, or a new dict. */
    extra = extra == Py_None ? PyDict_New() : (Py_INCREF(extra), extra);
    if (!extra)
        return -1;
    Py_XSETREF(t->extra, extra);
    if (PyObject_SetItem(extra, PyLoop_str.pipe, pipe) < 0 || pipe_open_fd(t, pipe, &watch_peer) < 0)
        return -1;
    if (PyLoopTransport_StreamInit((PyLoopTransport *)t, (LoopObject *)loop, &pipe_stream_callbacks, self) < 0)
        return -1;
    Py_INCREF(loop);
    t->loop = (LoopObject *)loop;
    Py_INCREF(pipe);
    t->pipe = pipe;
    Py_INCREF(protocol);
    Py_XSETREF(t->protocol, protocol);
    t->watch_peer = watch_peer;
    /* connection_made, then the reader (the write end's only to notice the
     * peer closing), then the waiter: asyncio's order. */
    return PyLoopTransport_ScheduleConnected((PyLoopTransport *)t, waiter, !pipe_is_writer(t) || watch_peer);
}

/* The base's finalizer (asyncio's __del__: an unclosed transport warns)
 * closes the pipe here. */
static void pipe_close_resource(PyLoopTransport *base, PyObject *self)
{
    PipeData *t = (PipeData *)base;
    PyObject *closed, *pipe = t->pipe;

    pyloop_stream_close(&t->stream);
    t->pipe = NULL; /* asyncio leaves _pipe set; its repr would say "closed" either way */
    closed = PyObject_CallMethodObjArgs(pipe, PyLoop_str.close, NULL);
    if (!closed)
        PyErr_WriteUnraisable(self);
    Py_XDECREF(closed);
    Py_DECREF(pipe);
}

/* ---- attributes asyncio's code and tests read ---- */

static PyObject *pipe_attr_pipe(PyObject *self, void *Py_UNUSED(c)) { return PyLoop_NewRefOrNone(pipe_data_of(self)->pipe); }

/* Assignable, as asyncio's attribute (CPython's tests set _pipe = None to
 * keep __del__ quiet about a pipe they closed themselves). */
static int pipe_set_attr_pipe(PyObject *self, PyObject *value, void *Py_UNUSED(c))
{
    PipeData *t = pipe_data_of(self);

    if (!value) {
        PyErr_SetString(PyExc_AttributeError, "_pipe cannot be deleted");
        return -1;
    }
    if (value == Py_None) {
        Py_CLEAR(t->pipe);
    } else {
        Py_INCREF(value);
        Py_XSETREF(t->pipe, value);
    }
    return 0;
}
static PyObject *pipe_attr_fileno(PyObject *self, void *Py_UNUSED(c)) { return PyLong_FromLong(pipe_data_of(self)->fd); }
static PyObject *rpipe_attr_paused(PyObject *self, void *Py_UNUSED(c)) { return PyBool_FromLong(pipe_data_of(self)->paused); }

static PyObject *wpipe_attr_protocol_paused(PyObject *self, void *Py_UNUSED(c))
{
    return PyBool_FromLong(pipe_data_of(self)->protocol_paused);
}

/* The base's getters, but for _conn_lost: asyncio's read pipe has none. */
static PyGetSetDef rpipe_getset[] = {
    {"_pipe", pipe_attr_pipe, pipe_set_attr_pipe, NULL, NULL},
    {"_fileno", pipe_attr_fileno, NULL, NULL, NULL},
    {"_loop", PyLoopTransport_GetLoop, NULL, NULL, NULL},
    {"_protocol", PyLoopTransport_GetProtocolAttr, NULL, NULL, NULL},
    {"_extra", PyLoopTransport_GetExtra, NULL, NULL, NULL},
    {"_closing", PyLoopTransport_GetClosing, NULL, NULL, NULL},
    {"_paused", rpipe_attr_paused, NULL, NULL, NULL},
    {"__dict__", PyObject_GenericGetDict, PyObject_GenericSetDict, NULL, NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyGetSetDef wpipe_getset[] = {
    {"_pipe", pipe_attr_pipe, pipe_set_attr_pipe, NULL, NULL},
    {"_fileno", pipe_attr_fileno, NULL, NULL, NULL},
    {"_protocol_paused", wpipe_attr_protocol_paused, NULL, NULL, NULL},
    PYLOOP_TRANSPORT_LIMIT_GETSET,
    PYLOOP_TRANSPORT_GETSET,
    {NULL, NULL, NULL, NULL, NULL},
};

/* Both pipe classes: the base's methods, then those each pipe class
 * defines for itself. */
#define PIPE_METHODS                                                                                                   \
    PYLOOP_TRANSPORT_METHODS, {"_fatal_error", PYLOOP_FASTCALL_KW(pipe_fatal_error_method), NULL},                     \
        {"_close", PYLOOP_FASTCALL_KW(pipe_close_method), NULL},                                                       \
        {"_call_connection_lost", PYLOOP_FASTCALL_KW(pipe_call_connection_lost_method), NULL},                         \
        {"_add_reader_after_connect", pipe_add_reader_after_connect, METH_NOARGS, NULL}

static PyMethodDef rpipe_methods[] = {
    PIPE_METHODS,
    PYLOOP_STREAM_READING_METHODS,
    PYLOOP_NOARGS_METHOD(close, rpipe_close, "Close the transport."),
    {"_read_ready", rpipe_read_ready, METH_NOARGS, NULL},
    {NULL, NULL, 0, NULL},
};

static PyMethodDef wpipe_methods[] = {
    PIPE_METHODS,
    PYLOOP_TRANSPORT_LIMIT_METHODS,
    {"write", PYLOOP_FASTCALL_KW(wpipe_write),
     "write($self, data)\n--\n\nWrite some data bytes to the transport."},
    PYLOOP_NOARGS_METHOD(write_eof, wpipe_write_eof, "Close the pipe once the buffer is sent."),
    PYLOOP_NOARGS_METHOD(can_write_eof, wpipe_can_write_eof, "Return True: this transport supports write_eof()."),
    PYLOOP_NOARGS_METHOD(close, wpipe_close, "Close the transport once the buffer is sent."),
    PYLOOP_NOARGS_METHOD(abort, wpipe_abort, "Close the transport immediately, dropping buffered data."),
    PYLOOP_NOARGS_METHOD(get_write_buffer_size, wpipe_get_write_buffer_size,
                         "Return the current size of the write buffer."),
    {"_read_ready", wpipe_read_ready, METH_NOARGS, NULL},
    {"_write_ready", wpipe_write_ready, METH_NOARGS, NULL},
    {NULL, NULL, 0, NULL},
};

/* ---- the types ---- */

static PyLoopTransportOps rpipe_ops = {
    .name = "_UnixReadPipeTransport",
    .set_protocol_qualname = "_UnixReadPipeTransport.set_protocol",
    .stream = 1,
    .close_resource = pipe_close_resource,
};

static PyLoopTransportOps wpipe_ops = {
    .name = "_UnixWritePipeTransport",
    .set_protocol_qualname = "_UnixWritePipeTransport.set_protocol",
    .stream = 1,
    .limits_set = PyLoopTransport_StreamLimitsSet, /* then _maybe_pause_protocol: on_write_pause if above high */
    .close_resource = pipe_close_resource,
};

int PyLoopPipe_Add(PyObject *module)
{
    if (PyLoop_ImportInto(&rpipe_base, "asyncio.transports", "ReadTransport") < 0)
        return -1;
    PyLoop_ReadPipeTransportType = PyLoopTransport_AddType(
        module, "data_bridge.pyloop._pyloop.ReadPipeTransport",
        "asyncio's read pipe transport (_UnixReadPipeTransport), in C on PyLoop's stream layer.",
        PyTuple_Pack(1, rpipe_base), pipe_init, pipe_repr, rpipe_methods, rpipe_getset, sizeof(PipeData), &rpipe_ops,
        1);
    PyLoop_WritePipeTransportType = !PyLoop_ReadPipeTransportType ? NULL : PyLoopTransport_AddType(
        module, "data_bridge.pyloop._pyloop.WritePipeTransport",
        "asyncio's write pipe transport (_UnixWritePipeTransport), in C on PyLoop's stream layer.",
        PyTuple_Pack(1, PyLoop_asyncio.flow_control_mixin), pipe_init, pipe_repr, wpipe_methods, wpipe_getset,
        sizeof(PipeData), &wpipe_ops, 0);
    return PyLoop_WritePipeTransportType ? 0 : -1;
}

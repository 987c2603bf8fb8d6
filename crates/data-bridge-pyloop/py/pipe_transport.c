/*
 * ReadPipeTransport and WritePipeTransport: asyncio's _UnixReadPipeTransport
 * and _UnixWritePipeTransport in C, on the stream layer (stream.h), for
 * loop.connect_read_pipe / connect_write_pipe and so for subprocess pipes
 * (asyncio's base_subprocess sits on them unchanged). Behaviour, error types
 * and messages are those of asyncio/unix_events.py (3.11-3.13; 3.9 and 3.10
 * differ as docs/usage.md lists): one read of max_size per readiness, EOF
 * as eof_received() then connection_lost(None) through call_soon, write()
 * tried at once with nothing buffered and the rest buffered, resume_writing
 * only once the buffer is empty, the write end watched for reading (sockets
 * and FIFOs) so that the peer closing is noticed, _fatal_error's messages.
 *
 * One difference inside the contract: an exception from a protocol call that
 * asyncio makes inside its _read_ready/_write_ready callback reaches the
 * exception handler as "Exception in callback <Type>._read_ready()" through
 * a Handle made for the report, as asyncio's Handle._run reports it.
 *
 * Both types keep a __dict__ (attributes assignable, as on SocketTransport).
 * ReadPipeTransport subclasses asyncio.ReadTransport; WritePipeTransport
 * subclasses _FlowControlMixin (so WriteTransport), as asyncio's classes do.
 */
#include "pyloop_module.h"

#include "args.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <structmember.h>
#include <sys/stat.h>
#include <unistd.h>

#include "stream.h"

#define MAX_SIZE_DEFAULT (256 * 1024)

typedef struct PipeData {
    pyloop_stream stream;
    LoopObject *loop;   /* NULL once connection_lost ran */
    PyObject *pipe;     /* NULL once closed (asyncio's _pipe = None) */
    PyObject *protocol; /* NULL once connection_lost ran */
    PyObject *extra;
    PyObject *dict;
    PyObject *weakreflist;
    PyLoopContexts contexts; /* what the protocol's callbacks run in */
    PyObject *read_bytes; /* a read larger than the shared buffer lands here */
    Py_ssize_t conn_lost;
    int fd;
    char writer; /* a WritePipeTransport */
    char closing;
    char paused;          /* ReadPipeTransport.pause_reading() */
    char protocol_paused; /* pause_writing() was called, resume_writing() not yet */
    char watch_peer;      /* writer on a socket or FIFO: readable means the peer closed */
    char read_shared;
} PipeData;

/* asyncio.transports.ReadTransport, the read pipe's Python base (only this
 * file uses it); where each type's PipeData starts in its objects. */
static PyObject *rpipe_base;
static Py_ssize_t rpipe_offset, wpipe_offset;

PyTypeObject *PyLoop_ReadPipeTransportType;
PyTypeObject *PyLoop_WritePipeTransportType;

static inline PipeData *pipe_data_of(PyObject *self)
{
    return (PipeData *)((char *)self
                        + (PyObject_TypeCheck(self, PyLoop_WritePipeTransportType) ? wpipe_offset : rpipe_offset));
}

static inline PyObject *pipe_object_of(PipeData *t)
{
    return (PyObject *)((char *)t - (t->writer ? wpipe_offset : rpipe_offset));
}

static inline PipeData *pipe_of_stream(pyloop_stream *stream)
{
    return pipe_data_of(stream->context);
}

static int pipe_loop_debug(PipeData *t)
{
    return t->loop && t->loop->debug;
}

/* Calls self.<name>(first) soon, as asyncio's call_soon(self._method, ...). */
static int pipe_call_soon_own(PipeData *t, PyObject *name, PyObject *first)
{
    PyObject *method = PyObject_GetAttr(pipe_object_of(t), name);
    int rc = method ? PyLoopTransport_CallSoon(t->loop, method, first, NULL) : -1;
    Py_XDECREF(method);
    return rc;
}

/* A protocol call's exception, reported as asyncio's reader or writer
 * callback `callback` (_read_ready or _write_ready) would be. */
static void pipe_report_as_callback(PipeData *t, LoopObject *loop, PyObject *callback)
{
    PyLoopTransport_ReportAsCallback(pipe_object_of(t), loop, callback);
}

/* ------------------------------------------------------------------ */
/* closing and errors                                                  */
/* ------------------------------------------------------------------ */

/* asyncio's _close: closing, the buffer dropped, no watchers, and
 * connection_lost(exception) soon. */
static int pipe_close_with(PipeData *t, PyObject *exception)
{
    t->closing = 1;
    pyloop_stream_close(&t->stream);
    if (!t->loop)
        return 0; /* connection_lost already ran */
    return pipe_call_soon_own(t, PyLoop_str._call_connection_lost, exception ? exception : Py_None);
}

/* asyncio's _fatal_error: the read end only logs EIO (a pty whose other
 * side closed), the write end any OSError; the rest goes to the exception
 * handler. Then _close. */
static void pipe_fatal_error(PipeData *t, PyObject *exception, const char *message)
{
    PyObject *self = pipe_object_of(t);
    int log_only = PyObject_TypeCheck(exception, (PyTypeObject *)PyExc_OSError);

    if (!t->loop)
        return;
    if (log_only && !t->writer) {
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
 * the pipe closed and the loop and protocol forgotten. Once only: a second
 * call (abort() after write_eof()) does nothing. */
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

/* ------------------------------------------------------------------ */
/* reading (ReadPipeTransport)                                         */
/* ------------------------------------------------------------------ */

static int rpipe_read_size(PipeData *t, Py_ssize_t *size)
{
    return PyLoopTransport_ReadSize(pipe_object_of(t), t->dict, PyLoop_ReadPipeTransportType, PyLoop_str.max_size, NULL, size);
}

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
        || pipe_call_soon_own(t, PyLoop_str._call_connection_lost, Py_None) < 0)
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

    if (rpipe_read_size(t, &size) < 0) {
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

/* ------------------------------------------------------------------ */
/* the write end's reader: the peer closed                             */
/* ------------------------------------------------------------------ */

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

/* ------------------------------------------------------------------ */
/* the stream's callbacks                                              */
/* ------------------------------------------------------------------ */

static int pipe_on_alloc(pyloop_stream *stream, void **data, size_t *length)
{
    PipeData *t = pipe_of_stream(stream);
    PyObject *self = pipe_object_of(t);
    LoopObject *loop = t->loop;
    int rc;

    if (!loop || !t->protocol)
        return 1;
    Py_INCREF(self);
    Py_INCREF(loop);
    if (t->writer) {
        if (wpipe_peer_closed(t) < 0)
            pipe_report_as_callback(t, loop, PyLoop_str._read_ready);
        rc = 1;
    } else {
        rc = rpipe_read_buffer(t, data, length);
    }
    if (rc == 1)
        PyLoopLoop_RunDeferred(loop);
    Py_DECREF(loop);
    Py_DECREF(self);
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
    Py_INCREF(self);
    Py_INCREF(loop);
    rpipe_read_result(t, data, nread);
    PyLoopLoop_RunDeferred(loop);
    Py_DECREF(loop);
    Py_DECREF(self);
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
    Py_INCREF(self);
    Py_INCREF(loop);
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
    PyLoopLoop_RunDeferred(loop);
    Py_DECREF(loop);
    Py_DECREF(self);
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
    Py_INCREF(self);
    Py_INCREF(loop);
    if (while_writing)
        t->conn_lost++;
    pipe_fatal_error(t, exception, while_writing ? "Fatal write error on pipe transport" : "Fatal read error on pipe transport");
    Py_DECREF(exception);
    PyLoopLoop_RunDeferred(loop);
    Py_DECREF(loop);
    Py_DECREF(self);
}

static void pipe_on_hold(pyloop_stream *stream)
{
    Py_INCREF((PyObject *)stream->context);
}

static void pipe_on_release(pyloop_stream *stream)
{
    Py_DECREF((PyObject *)stream->context);
}

/* The contexts of asyncio's reader and writer Handles (pyloop_module.h). */
static void pipe_on_watch(pyloop_stream *stream, int writing)
{
    PyLoopContexts_Watch(&pipe_of_stream(stream)->contexts, writing, stream->context);
}

static void *pipe_on_task_enter(pyloop_stream *stream, int writing)
{
    return PyLoopContexts_Enter(&pipe_of_stream(stream)->contexts, writing, stream->context);
}

static void pipe_on_task_exit(pyloop_stream *stream, void *entered)
{
    PyLoopContexts_Exit(entered, stream->context);
}

static const pyloop_stream_callbacks pipe_stream_callbacks = {
    .alloc = pipe_on_alloc,
    .on_read = rpipe_on_read,
    .on_write_pause = wpipe_on_write_pause,
    .on_write_resume = NULL, /* asyncio's pipe resumes at drain only */
    .on_drain = wpipe_on_drain,
    .on_error = pipe_on_error,
    .hold = pipe_on_hold,
    .release = pipe_on_release,
    .on_watch = pipe_on_watch,
    .task_enter = pipe_on_task_enter,
    .task_exit = pipe_on_task_exit,
};

/* ------------------------------------------------------------------ */
/* methods shared by both types                                        */
/* ------------------------------------------------------------------ */

/* asyncio's signatures, for PyLoopArgs_Bind's TypeError texts: each method
 * named as asyncio names it, [0] on the read pipe, [1] on the write pipe
 * (unix_events.py defines set_protocol, _fatal_error, _close and
 * _call_connection_lost in each class; get_extra_info is BaseTransport's).
 * The read pipe's _close takes exc without a default, the write pipe's
 * defaults it to None: asyncio's two signatures. */
static const PyLoopParams pipe_get_extra_info_params = {"BaseTransport.get_extra_info", {"name", "default"}, 1, 2};
static const PyLoopParams pipe_set_protocol_params[2] = {
    {"_UnixReadPipeTransport.set_protocol", {"protocol"}, 1, 1},
    {"_UnixWritePipeTransport.set_protocol", {"protocol"}, 1, 1},
};
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

/* Which of the two signatures: by type, so an instance never initialised
 * (t->writer unset) names its own class too. */
static inline int pipe_kind(PyObject *self)
{
    return PyObject_TypeCheck(self, PyLoop_WritePipeTransportType);
}

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

static PyObject *pipe_is_closing(PyObject *self, PyObject *Py_UNUSED(unused))
{
    return PyBool_FromLong(pipe_data_of(self)->closing);
}

static PyObject *pipe_set_protocol(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    PipeData *t = pipe_data_of(self);
    PyObject *protocol = pipe_one_arg(&pipe_set_protocol_params[pipe_kind(self)], args, nargs, kwnames);

    if (!protocol)
        return NULL;
    Py_INCREF(protocol);
    Py_XSETREF(t->protocol, protocol);
    Py_RETURN_NONE;
}

static PyObject *pipe_get_protocol(PyObject *self, PyObject *Py_UNUSED(unused))
{
    return PyLoop_NewRefOrNone(pipe_data_of(self)->protocol);
}

static PyObject *pipe_get_extra_info(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    PyObject *bound[PYLOOP_MAX_PARAMS], *pair, *value;

    if (PyLoopArgs_Bind(&pipe_get_extra_info_params, args, nargs, kwnames, bound) < 0)
        return NULL;
    pair = PyTuple_Pack(2, bound[0], bound[1] ? bound[1] : Py_None);
    value = pair ? PyLoopTransport_GetExtraInfo(pipe_data_of(self)->extra, pair, NULL) : NULL;
    Py_XDECREF(pair);
    return value;
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
    PyObject *bound[PYLOOP_MAX_PARAMS];
    const char *message = "Fatal error on pipe transport";

    if (PyLoopArgs_Bind(&pipe_fatal_error_params[pipe_kind(self)], args, nargs, kwnames, bound) < 0)
        return NULL;
    if (bound[1] && pipe_message(bound[1], &message) < 0)
        return NULL;
    pipe_fatal_error(pipe_data_of(self), bound[0], message);
    Py_RETURN_NONE;
}

static PyObject *pipe_close_method(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    PyObject *bound[PYLOOP_MAX_PARAMS], *exception;

    if (PyLoopArgs_Bind(&pipe_close_params[pipe_kind(self)], args, nargs, kwnames, bound) < 0)
        return NULL;
    exception = bound[0] == Py_None ? NULL : bound[0];
    if (pipe_close_with(pipe_data_of(self), exception) < 0)
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *pipe_call_connection_lost_method(PyObject *self, PyObject *const *args, Py_ssize_t nargs,
                                                  PyObject *kwnames)
{
    PyObject *exception = pipe_one_arg(&pipe_call_connection_lost_params[pipe_kind(self)], args, nargs, kwnames);

    return exception ? pipe_call_connection_lost(pipe_data_of(self), exception) : NULL;
}

/* <ReadPipeTransport fd=7 polling>, <WritePipeTransport fd=8 idle
 * bufsize=0>, as asyncio's __repr__ (with this type's name). */
static PyObject *pipe_repr(PyObject *self)
{
    PipeData *t = pipe_data_of(self);
    const char *name = strrchr(Py_TYPE(self)->tp_name, '.');
    const char *state = !t->pipe ? " closed" : t->closing ? " closing" : "";

    name = name ? name + 1 : Py_TYPE(self)->tp_name;
    if (t->pipe && t->loop && !t->loop->closed) {
        if (t->writer)
            return PyUnicode_FromFormat("<%s%s fd=%d %s bufsize=%zu>", name, state, t->fd,
                                        pyloop_stream_is_writing(&t->stream) ? "polling" : "idle",
                                        pyloop_stream_write_queue_size(&t->stream));
        return PyUnicode_FromFormat("<%s%s fd=%d %s>", name, state, t->fd,
                                    pyloop_stream_is_reading(&t->stream) ? "polling" : "idle");
    }
    return PyUnicode_FromFormat("<%s%s fd=%d %s>", name, state, t->fd, t->pipe ? "open" : "closed");
}

/* ------------------------------------------------------------------ */
/* ReadPipeTransport's methods                                         */
/* ------------------------------------------------------------------ */

static int rpipe_reading(PipeData *t)
{
    return !t->paused && !t->closing;
}

static int pipe_start_reading(PipeData *t)
{
    int rc = pyloop_stream_read_start(&t->stream);
    if (rc < 0) {
        errno = -rc;
        PyErr_SetFromErrno(PyExc_OSError);
        return -1;
    }
    return 0;
}

static PyObject *rpipe_is_reading(PyObject *self, PyObject *Py_UNUSED(unused))
{
    return PyBool_FromLong(rpipe_reading(pipe_data_of(self)));
}

static PyObject *rpipe_pause_reading(PyObject *self, PyObject *Py_UNUSED(unused))
{
    PipeData *t = pipe_data_of(self);

    if (!rpipe_reading(t))
        Py_RETURN_NONE;
    t->paused = 1;
    pyloop_stream_read_stop(&t->stream);
    if (pipe_loop_debug(t))
        PyLoopTransport_Log(self, "debug", "%r pauses reading");
    Py_RETURN_NONE;
}

static PyObject *rpipe_resume_reading(PyObject *self, PyObject *Py_UNUSED(unused))
{
    PipeData *t = pipe_data_of(self);

    if (t->closing || !t->paused)
        Py_RETURN_NONE;
    t->paused = 0;
    if (pipe_start_reading(t) < 0)
        return NULL;
    if (pipe_loop_debug(t))
        PyLoopTransport_Log(self, "debug", "%r resumes reading");
    Py_RETURN_NONE;
}

static PyObject *rpipe_close(PyObject *self, PyObject *Py_UNUSED(unused))
{
    PipeData *t = pipe_data_of(self);

    if (!t->closing && pipe_close_with(t, NULL) < 0)
        return NULL;
    Py_RETURN_NONE;
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
    if (t->writer ? t->watch_peer && !t->closing : rpipe_reading(t)) {
        if (pipe_start_reading(t) < 0)
            return NULL;
    }
    Py_RETURN_NONE;
}

/* ------------------------------------------------------------------ */
/* WritePipeTransport's methods                                        */
/* ------------------------------------------------------------------ */

static const PyLoopParams wpipe_write_params = {"_UnixWritePipeTransport.write", {"data"}, 1, 1};
static const PyLoopParams wpipe_set_write_buffer_limits_params = {"_FlowControlMixin.set_write_buffer_limits",
                                                                  {"high", "low"}, 0, 2};

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
    if (rc < 0) {
        PyObject *exception = PyLoopTransport_OSError(-rc);
        t->conn_lost++;
        if (exception) {
            pipe_fatal_error(t, exception, "Fatal write error on pipe transport");
            Py_DECREF(exception);
        }
    }
    Py_DECREF(self);
    if (PyErr_Occurred())
        return NULL;
    Py_RETURN_NONE;
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
        if (pipe_call_soon_own(t, PyLoop_str._call_connection_lost, Py_None) < 0)
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
    if (pipe_close_with(pipe_data_of(self), NULL) < 0)
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *wpipe_get_write_buffer_size(PyObject *self, PyObject *Py_UNUSED(unused))
{
    return PyLong_FromSize_t(pyloop_stream_write_queue_size(&pipe_data_of(self)->stream));
}

static PyObject *wpipe_set_write_buffer_limits(PyObject *self, PyObject *const *args, Py_ssize_t nargs,
                                               PyObject *kwnames)
{
    PyObject *bound[PYLOOP_MAX_PARAMS], *pair;
    size_t high, low;
    int rc;

    if (PyLoopArgs_Bind(&wpipe_set_write_buffer_limits_params, args, nargs, kwnames, bound) < 0)
        return NULL;
    pair = PyTuple_Pack(2, bound[0] ? bound[0] : Py_None, bound[1] ? bound[1] : Py_None);
    rc = pair ? PyLoopTransport_ParseWriteLimits(pair, NULL, &high, &low) : -1;
    Py_XDECREF(pair);
    if (rc < 0)
        return NULL;
    /* Then _maybe_pause_protocol: wpipe_on_write_pause if above high. */
    pyloop_stream_set_write_limits(&pipe_data_of(self)->stream, high, low);
    if (PyErr_Occurred())
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *wpipe_get_write_buffer_limits(PyObject *self, PyObject *Py_UNUSED(unused))
{
    size_t high, low;
    pyloop_stream_get_write_limits(&pipe_data_of(self)->stream, &high, &low);
    return Py_BuildValue("(nn)", (Py_ssize_t)low, (Py_ssize_t)high);
}

/* asyncio's write end _read_ready: the peer closed (callable from Python). */
static PyObject *wpipe_read_ready(PyObject *self, PyObject *Py_UNUSED(unused))
{
    PipeData *t = pipe_data_of(self);

    if (t->loop && wpipe_peer_closed(t) < 0)
        return NULL;
    Py_RETURN_NONE;
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
        PyObject *exception = PyLoopTransport_OSError(-rc);
        t->conn_lost++;
        if (exception) {
            pipe_fatal_error(t, exception, "Fatal write error on pipe transport");
            Py_DECREF(exception);
        }
    } else if (!pyloop_stream_write_queue_size(&t->stream)) {
        wpipe_on_drain(&t->stream);
    }
    Py_DECREF(self);
    if (PyErr_Occurred())
        return NULL;
    Py_RETURN_NONE;
}

/* ------------------------------------------------------------------ */
/* construction, GC, finalization                                      */
/* ------------------------------------------------------------------ */

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
        PyErr_SetString(PyExc_ValueError, t->writer ? "Pipe transport is only for pipes, sockets and character devices"
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

/* connection_made, then the reader, then the waiter: asyncio's order. */
static int pipe_connect(PipeData *t, PyObject *self, PyObject *waiter)
{
    PyObject *method = PyObject_GetAttr(t->protocol, PyLoop_str.connection_made);
    int rc = method ? PyLoopTransport_CallSoon(t->loop, method, self, NULL) : -1;

    Py_XDECREF(method);
    if (rc < 0)
        return -1;
    if ((!t->writer || t->watch_peer) && pipe_call_soon_own(t, PyLoop_str._add_reader_after_connect, NULL) < 0)
        return -1;
    if (waiter != Py_None
        && PyLoopTransport_CallSoon(t->loop, PyLoop_asyncio.set_result_unless_cancelled, waiter, Py_None) < 0)
        return -1;
    return 0;
}

/* (loop, pipe, protocol, waiter=None, extra=None), asyncio's order of work. */
static int pipe_init(PyObject *self, PyObject *args, PyObject *keywords)
{
    static char *names[] = {"loop", "pipe", "protocol", "waiter", "extra", NULL};
    PipeData *t = pipe_data_of(self);
    PyObject *loop, *pipe, *protocol, *waiter = Py_None, *extra = Py_None;
    char watch_peer;
    int rc;

    t->writer = PyObject_TypeCheck(self, PyLoop_WritePipeTransportType);
    if (!PyArg_ParseTupleAndKeywords(args, keywords, t->writer ? "OOO|OO:WritePipeTransport" : "OOO|OO:ReadPipeTransport",
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
    rc = pyloop_stream_init(&t->stream, ((LoopObject *)loop)->core, t->fd, &pipe_stream_callbacks, self);
    if (rc < 0) {
        errno = -rc;
        PyErr_SetFromErrno(PyExc_OSError);
        return -1;
    }
    Py_INCREF(loop);
    t->loop = (LoopObject *)loop;
    Py_INCREF(pipe);
    t->pipe = pipe;
    Py_INCREF(protocol);
    Py_XSETREF(t->protocol, protocol);
    t->watch_peer = watch_peer;
    return pipe_connect(t, self, waiter);
}

static int pipe_traverse(PyObject *self, visitproc visit, void *arg)
{
    PipeData *t = pipe_data_of(self);

    Py_VISIT(Py_TYPE(self));
    Py_VISIT(t->loop);
    Py_VISIT(t->pipe);
    Py_VISIT(t->protocol);
    Py_VISIT(t->extra);
    Py_VISIT(t->dict);
    return PyLoopContexts_Traverse(&t->contexts, visit, arg);
}

static int pipe_clear(PyObject *self)
{
    PipeData *t = pipe_data_of(self);

    Py_CLEAR(t->protocol);
    Py_CLEAR(t->extra);
    Py_CLEAR(t->dict);
    PyLoopContexts_Clear(&t->contexts);
    return 0;
}

/* asyncio's __del__: an unclosed transport warns and closes its pipe. */
static void pipe_finalize(PyObject *self)
{
    PipeData *t = pipe_data_of(self);
    PyObject *error = PyLoop_FetchException(), *closed, *pipe = t->pipe;

    if (pipe) {
        if (PyErr_ResourceWarning(self, 1, "unclosed transport %R", self) < 0)
            PyErr_WriteUnraisable(self);
        pyloop_stream_close(&t->stream);
        t->pipe = NULL; /* asyncio leaves _pipe set; its repr would say "closed" either way */
        closed = PyObject_CallMethodObjArgs(pipe, PyLoop_str.close, NULL);
        if (!closed)
            PyErr_WriteUnraisable(self);
        Py_XDECREF(closed);
        Py_DECREF(pipe);
    }
    if (error)
        PyLoop_RestoreException(error);
}

static void pipe_dealloc(PyObject *self)
{
    PyTypeObject *type = Py_TYPE(self);
    PipeData *t = pipe_data_of(self);

    if (PyObject_CallFinalizerFromDealloc(self) < 0)
        return; /* resurrected */
    PyObject_GC_UnTrack(self);
    if (t->weakreflist)
        PyObject_ClearWeakRefs(self);
    pyloop_stream_close(&t->stream);
    Py_CLEAR(t->read_bytes);
    pipe_clear(self);
    Py_CLEAR(t->pipe);
    Py_CLEAR(t->loop);
    type->tp_free(self);
    Py_DECREF(type);
}

/* ------------------------------------------------------------------ */
/* attributes asyncio's code and tests read                            */
/* ------------------------------------------------------------------ */

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
static PyObject *pipe_attr_loop(PyObject *self, void *Py_UNUSED(c)) { return PyLoop_NewRefOrNone((PyObject *)pipe_data_of(self)->loop); }
static PyObject *pipe_attr_protocol(PyObject *self, void *Py_UNUSED(c)) { return PyLoop_NewRefOrNone(pipe_data_of(self)->protocol); }
static PyObject *pipe_attr_extra(PyObject *self, void *Py_UNUSED(c)) { return PyLoop_NewRefOrNone(pipe_data_of(self)->extra); }
static PyObject *pipe_attr_closing(PyObject *self, void *Py_UNUSED(c)) { return PyBool_FromLong(pipe_data_of(self)->closing); }
static PyObject *rpipe_attr_paused(PyObject *self, void *Py_UNUSED(c)) { return PyBool_FromLong(pipe_data_of(self)->paused); }
static PyObject *wpipe_attr_conn_lost(PyObject *self, void *Py_UNUSED(c)) { return PyLong_FromSsize_t(pipe_data_of(self)->conn_lost); }
static PyObject *wpipe_attr_protocol_paused(PyObject *self, void *Py_UNUSED(c)) { return PyBool_FromLong(pipe_data_of(self)->protocol_paused); }

static PyObject *wpipe_attr_high_water(PyObject *self, void *Py_UNUSED(c))
{
    size_t high, low;
    pyloop_stream_get_write_limits(&pipe_data_of(self)->stream, &high, &low);
    return PyLong_FromSize_t(high);
}

static PyObject *wpipe_attr_low_water(PyObject *self, void *Py_UNUSED(c))
{
    size_t high, low;
    pyloop_stream_get_write_limits(&pipe_data_of(self)->stream, &high, &low);
    return PyLong_FromSize_t(low);
}

static PyGetSetDef rpipe_getset[] = {
    {"_pipe", pipe_attr_pipe, pipe_set_attr_pipe, NULL, NULL},
    {"_fileno", pipe_attr_fileno, NULL, NULL, NULL},
    {"_loop", pipe_attr_loop, NULL, NULL, NULL},
    {"_protocol", pipe_attr_protocol, NULL, NULL, NULL},
    {"_extra", pipe_attr_extra, NULL, NULL, NULL},
    {"_closing", pipe_attr_closing, NULL, NULL, NULL},
    {"_paused", rpipe_attr_paused, NULL, NULL, NULL},
    {"__dict__", PyObject_GenericGetDict, PyObject_GenericSetDict, NULL, NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyGetSetDef wpipe_getset[] = {
    {"_pipe", pipe_attr_pipe, pipe_set_attr_pipe, NULL, NULL},
    {"_fileno", pipe_attr_fileno, NULL, NULL, NULL},
    {"_loop", pipe_attr_loop, NULL, NULL, NULL},
    {"_protocol", pipe_attr_protocol, NULL, NULL, NULL},
    {"_extra", pipe_attr_extra, NULL, NULL, NULL},
    {"_closing", pipe_attr_closing, NULL, NULL, NULL},
    {"_conn_lost", wpipe_attr_conn_lost, NULL, NULL, NULL},
    {"_protocol_paused", wpipe_attr_protocol_paused, NULL, NULL, NULL},
    {"_high_water", wpipe_attr_high_water, NULL, NULL, NULL},
    {"_low_water", wpipe_attr_low_water, NULL, NULL, NULL},
    {"__dict__", PyObject_GenericGetDict, PyObject_GenericSetDict, NULL, NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

/* A method bound through PyLoopArgs_Bind (vectorcall arguments). */
#define PIPE_FASTCALL(function) (PyCFunction)(void (*)(void))(function), METH_FASTCALL | METH_KEYWORDS

#define COMMON_METHODS                                                                                                \
    {"is_closing", pipe_is_closing, METH_NOARGS, "Return True if the transport is closing or closed."},                \
        {"get_protocol", pipe_get_protocol, METH_NOARGS, "Return the current protocol."},                               \
        {"set_protocol", PIPE_FASTCALL(pipe_set_protocol), "Set a new protocol."},                                   \
        {"get_extra_info", PIPE_FASTCALL(pipe_get_extra_info), "Get optional transport information."},               \
        {"_fatal_error", PIPE_FASTCALL(pipe_fatal_error_method), NULL},                                              \
        {"_close", PIPE_FASTCALL(pipe_close_method), NULL},                                                          \
        {"_call_connection_lost", PIPE_FASTCALL(pipe_call_connection_lost_method), NULL},                            \
        {"_add_reader_after_connect", pipe_add_reader_after_connect, METH_NOARGS, NULL}

static PyMethodDef rpipe_methods[] = {
    COMMON_METHODS,
    {"is_reading", rpipe_is_reading, METH_NOARGS, "Return True if the transport is receiving."},
    {"pause_reading", rpipe_pause_reading, METH_NOARGS, "Pause the receiving end."},
    {"resume_reading", rpipe_resume_reading, METH_NOARGS, "Resume the receiving end."},
    {"close", rpipe_close, METH_NOARGS, "Close the transport."},
    {"_read_ready", rpipe_read_ready, METH_NOARGS, NULL},
    {NULL, NULL, 0, NULL},
};

static PyMethodDef wpipe_methods[] = {
    COMMON_METHODS,
    {"write", PIPE_FASTCALL(wpipe_write), "Write some data bytes to the transport."},
    {"write_eof", wpipe_write_eof, METH_NOARGS, "Close the pipe once the buffer is sent."},
    {"can_write_eof", wpipe_can_write_eof, METH_NOARGS, "Return True: this transport supports write_eof()."},
    {"close", wpipe_close, METH_NOARGS, "Close the transport once the buffer is sent."},
    {"abort", wpipe_abort, METH_NOARGS, "Close the transport immediately, dropping buffered data."},
    {"get_write_buffer_size", wpipe_get_write_buffer_size, METH_NOARGS, "Return the current size of the write buffer."},
    {"get_write_buffer_limits", wpipe_get_write_buffer_limits, METH_NOARGS, "Return (low, high)."},
    {"set_write_buffer_limits", PIPE_FASTCALL(wpipe_set_write_buffer_limits),
     "Set the high- and low-water limits for write flow control."},
    {"_read_ready", wpipe_read_ready, METH_NOARGS, NULL},
    {"_write_ready", wpipe_write_ready, METH_NOARGS, NULL},
    {NULL, NULL, 0, NULL},
};

/* ------------------------------------------------------------------ */
/* the types                                                           */
/* ------------------------------------------------------------------ */

static PyMemberDef rpipe_members[3], wpipe_members[3];

static PyTypeObject *pipe_make_type(const char *name, const char *doc, PyObject *base, PyMethodDef *methods,
                               PyGetSetDef *getset, PyMemberDef *members, Py_ssize_t *offset)
{
    PyType_Slot slots[] = {
        {Py_tp_init, pipe_init},
        {Py_tp_dealloc, pipe_dealloc},
        {Py_tp_traverse, pipe_traverse},
        {Py_tp_clear, pipe_clear},
        {Py_tp_finalize, pipe_finalize},
        {Py_tp_repr, pipe_repr},
        {Py_tp_methods, methods},
        {Py_tp_getset, getset},
        {Py_tp_members, members},
        {Py_tp_doc, (void *)(uintptr_t)doc},
        {0, NULL},
    };
    PyType_Spec spec = {
        .name = name,
        .itemsize = 0,
        .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
        .slots = slots,
    };
    PyObject *bases = PyTuple_Pack(1, base);
    PyTypeObject *type;

    if (!bases)
        return NULL;
    type = PyLoopTransport_TypeFromSpec(&spec, bases, sizeof(PipeData), offsetof(PipeData, dict),
                                        offsetof(PipeData, weakreflist), members, offset);
    Py_DECREF(bases);
    return type;
}

int PyLoopPipe_Add(PyObject *module)
{
    PyObject *max_size;
    int rc;

    if (PyLoop_ImportInto(&rpipe_base, "asyncio.transports", "ReadTransport") < 0)
        return -1;
    PyLoop_ReadPipeTransportType =
        pipe_make_type("data_bridge.pyloop._pyloop.ReadPipeTransport",
                  "asyncio's read pipe transport (_UnixReadPipeTransport), in C on PyLoop's stream layer.",
                  rpipe_base, rpipe_methods, rpipe_getset, rpipe_members, &rpipe_offset);
    if (!PyLoop_ReadPipeTransportType)
        return -1;
    PyLoop_WritePipeTransportType =
        pipe_make_type("data_bridge.pyloop._pyloop.WritePipeTransport",
                  "asyncio's write pipe transport (_UnixWritePipeTransport), in C on PyLoop's stream layer.",
                  PyLoop_asyncio.flow_control_mixin, wpipe_methods, wpipe_getset, wpipe_members, &wpipe_offset);
    if (!PyLoop_WritePipeTransportType)
        return -1;
    max_size = PyLong_FromLong(MAX_SIZE_DEFAULT);
    rc = max_size ? PyObject_SetAttr((PyObject *)PyLoop_ReadPipeTransportType, PyLoop_str.max_size, max_size) : -1;
    Py_XDECREF(max_size);
    if (rc < 0)
        return -1;
    Py_INCREF(PyLoop_ReadPipeTransportType);
    if (PyModule_AddObject(module, "ReadPipeTransport", (PyObject *)PyLoop_ReadPipeTransportType) < 0) {
        Py_DECREF(PyLoop_ReadPipeTransportType);
        return -1;
    }
    Py_INCREF(PyLoop_WritePipeTransportType);
    if (PyModule_AddObject(module, "WritePipeTransport", (PyObject *)PyLoop_WritePipeTransportType) < 0) {
        Py_DECREF(PyLoop_WritePipeTransportType);
        return -1;
    }
    return 0;
}

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

static struct {
    PyObject *read_transport, *flow_control_mixin, *set_result_unless_cancelled;
    Py_ssize_t connlost_threshold;
    Py_ssize_t read_offset, write_offset;
    PyObject *str_connection_made, *str_connection_lost, *str_data_received, *str_eof_received, *str_pause_writing,
        *str_resume_writing, *str_close, *str_max_size, *str_call_connection_lost, *str_add_reader_after_connect,
        *str_read_ready, *str_write_ready, *str_pipe;
} P;

PyTypeObject *PyLoop_ReadPipeTransportType;
PyTypeObject *PyLoop_WritePipeTransportType;

static inline PipeData *data_of(PyObject *self)
{
    return (PipeData *)((char *)self
                        + (PyObject_TypeCheck(self, PyLoop_WritePipeTransportType) ? P.write_offset : P.read_offset));
}

static inline PyObject *object_of(PipeData *t)
{
    return (PyObject *)((char *)t - (t->writer ? P.write_offset : P.read_offset));
}

static inline PipeData *data_of_stream(pyloop_stream *stream)
{
    return data_of(stream->context);
}

static int loop_debug(PipeData *t)
{
    return t->loop && t->loop->debug;
}

/* Calls self.<name>(first) soon, as asyncio's call_soon(self._method, ...). */
static int call_soon_own(PipeData *t, PyObject *name, PyObject *first)
{
    PyObject *method = PyObject_GetAttr(object_of(t), name);
    int rc = method ? PyLoopTransport_CallSoon(t->loop, method, first, NULL) : -1;
    Py_XDECREF(method);
    return rc;
}

/* A protocol call's exception, reported as asyncio's reader or writer
 * callback `callback` (_read_ready or _write_ready) would be. */
static void report_as_callback(PipeData *t, LoopObject *loop, PyObject *callback)
{
    PyLoopTransport_ReportAsCallback(object_of(t), loop, callback);
}

/* ------------------------------------------------------------------ */
/* closing and errors                                                  */
/* ------------------------------------------------------------------ */

/* asyncio's _close: closing, the buffer dropped, no watchers, and
 * connection_lost(exception) soon. */
static int close_with(PipeData *t, PyObject *exception)
{
    t->closing = 1;
    pyloop_stream_close(&t->stream);
    if (!t->loop)
        return 0; /* connection_lost already ran */
    return call_soon_own(t, P.str_call_connection_lost, exception ? exception : Py_None);
}

/* asyncio's _fatal_error: the read end only logs EIO (a pty whose other
 * side closed), the write end any OSError; the rest goes to the exception
 * handler. Then _close. */
static void fatal_error(PipeData *t, PyObject *exception, const char *message)
{
    PyObject *self = object_of(t);
    int log_only = PyObject_TypeCheck(exception, (PyTypeObject *)PyExc_OSError);

    if (!t->loop)
        return;
    if (log_only && !t->writer) {
        PyObject *number = PyObject_GetAttrString(exception, "errno");
        long error = number && PyLong_Check(number) ? PyLong_AsLong(number) : -1;
        Py_XDECREF(number);
        PyErr_Clear();
        log_only = error == EIO;
    }
    Py_INCREF(self);
    PyLoopTransport_ReportFatal(t->loop, self, t->protocol, exception, message, log_only);
    if (close_with(t, exception) < 0)
        PyErr_WriteUnraisable(self);
    Py_DECREF(self);
}

/* asyncio's _call_connection_lost: connection_lost(exc), then (finally)
 * the pipe closed and the loop and protocol forgotten. Once only: a second
 * call (abort() after write_eof()) does nothing. */
static PyObject *call_connection_lost(PipeData *t, PyObject *exception)
{
    PyObject *self = object_of(t), *result, *pipe = t->pipe, *protocol = t->protocol;
    LoopObject *loop = t->loop;

    if (!loop)
        Py_RETURN_NONE;
    Py_INCREF(self);
    result = protocol ? PyObject_CallMethodObjArgs(protocol, P.str_connection_lost, exception, NULL)
                      : (Py_INCREF(Py_None), Py_None);
    pyloop_stream_close(&t->stream);
    t->pipe = NULL;
    t->protocol = NULL;
    t->loop = NULL;
    if (pipe) {
        PyObject *error = result ? NULL : PyLoop_FetchException();
        PyObject *closed = PyObject_CallMethodObjArgs(pipe, P.str_close, NULL);
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

static int read_size(PipeData *t, Py_ssize_t *size)
{
    return PyLoopTransport_ReadSize(object_of(t), t->dict, PyLoop_ReadPipeTransportType, P.str_max_size, NULL, size);
}

/* asyncio's _read_ready once os.read returned: data, or end of file. */
static void read_result(PipeData *t, const char *data, ssize_t nread)
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
        result = bytes ? PyObject_CallMethodObjArgs(t->protocol, P.str_data_received, bytes, NULL) : NULL;
        Py_XDECREF(bytes);
        if (!result)
            report_as_callback(t, loop, P.str_read_ready);
        Py_XDECREF(result);
        return;
    }
    Py_XDECREF(bytes);
    t->read_shared = 0;
    if (loop_debug(t))
        PyLoopTransport_Log(object_of(t), "info", "%r was closed by peer");
    t->closing = 1;
    pyloop_stream_read_stop(&t->stream);
    result = PyObject_GetAttr(t->protocol, P.str_eof_received);
    if (!result || PyLoopTransport_CallSoon(loop, result, NULL, NULL) < 0
        || call_soon_own(t, P.str_call_connection_lost, Py_None) < 0)
        report_as_callback(t, loop, P.str_read_ready);
    Py_XDECREF(result);
}

/* The buffer for one read of max_size: the shared one when it fits. 1: no
 * read (end of file for max_size 0, or an error already reported). */
static int read_buffer(PipeData *t, void **data, size_t *length)
{
    Py_ssize_t size;
    size_t shared_size;
    char *shared = PyLoopTransport_SharedReadBuffer(&shared_size);

    if (read_size(t, &size) < 0) {
        /* os.read's OSError is asyncio's fatal read error; anything else
         * escapes _read_ready, as there. */
        if (PyErr_ExceptionMatches(PyExc_OSError)) {
            PyObject *exception = PyLoop_FetchException();
            fatal_error(t, exception, "Fatal read error on pipe transport");
            Py_DECREF(exception);
        } else {
            report_as_callback(t, t->loop, P.str_read_ready);
        }
        return 1;
    }
    if (size == 0) { /* os.read(fd, 0) is b'': asyncio's end of file */
        read_result(t, NULL, 0);
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
        report_as_callback(t, t->loop, P.str_read_ready);
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
static int peer_closed(PipeData *t)
{
    int rc;

    if (loop_debug(t))
        PyLoopTransport_Log(object_of(t), "info", "%r was closed by peer");
    if (pyloop_stream_write_queue_size(&t->stream)) {
        PyObject *error = PyObject_CallNoArgs(PyExc_BrokenPipeError);
        if (!error)
            return -1;
        rc = close_with(t, error);
        Py_DECREF(error);
        return rc;
    }
    return close_with(t, NULL);
}

/* ------------------------------------------------------------------ */
/* the stream's callbacks                                              */
/* ------------------------------------------------------------------ */

static int on_alloc(pyloop_stream *stream, void **data, size_t *length)
{
    PipeData *t = data_of_stream(stream);
    PyObject *self = object_of(t);
    LoopObject *loop = t->loop;
    int rc;

    if (!loop || !t->protocol)
        return 1;
    Py_INCREF(self);
    Py_INCREF(loop);
    if (t->writer) {
        if (peer_closed(t) < 0)
            report_as_callback(t, loop, P.str_read_ready);
        rc = 1;
    } else {
        rc = read_buffer(t, data, length);
    }
    if (rc == 1)
        PyLoopLoop_RunDeferred(loop);
    Py_DECREF(loop);
    Py_DECREF(self);
    return rc;
}

static void on_read(pyloop_stream *stream, void *data, ssize_t nread)
{
    PipeData *t = data_of_stream(stream);
    PyObject *self = object_of(t);
    LoopObject *loop = t->loop;

    if (!loop || !t->protocol) {
        Py_CLEAR(t->read_bytes);
        t->read_shared = 0;
        return;
    }
    Py_INCREF(self);
    Py_INCREF(loop);
    read_result(t, data, nread);
    PyLoopLoop_RunDeferred(loop);
    Py_DECREF(loop);
    Py_DECREF(self);
}

/* asyncio's _maybe_pause_protocol: the stream saw the buffer above high. */
static void on_write_pause(pyloop_stream *stream)
{
    PipeData *t = data_of_stream(stream);

    if (t->protocol_paused || !t->protocol || !t->loop)
        return;
    t->protocol_paused = 1;
    PyLoopTransport_CallProtocolFlow(t->loop, object_of(t), t->protocol, P.str_pause_writing,
                                     "protocol.pause_writing() failed");
}

/* asyncio's _write_ready once the buffer is empty: resume_writing (a pipe
 * resumes only then, not at each send), and close after drain. */
static void on_drain(pyloop_stream *stream)
{
    PipeData *t = data_of_stream(stream);
    PyObject *self = object_of(t);
    LoopObject *loop = t->loop;
    size_t high, low;

    if (!loop)
        return;
    Py_INCREF(self);
    Py_INCREF(loop);
    pyloop_stream_get_write_limits(&t->stream, &high, &low);
    if (t->protocol_paused && t->protocol && pyloop_stream_write_queue_size(&t->stream) <= low) {
        t->protocol_paused = 0;
        PyLoopTransport_CallProtocolFlow(loop, self, t->protocol, P.str_resume_writing,
                                         "protocol.resume_writing() failed");
    }
    if (t->closing && t->loop) {
        PyObject *result;
        pyloop_stream_read_stop(&t->stream);
        result = call_connection_lost(t, Py_None);
        if (!result)
            report_as_callback(t, loop, P.str_write_ready);
        Py_XDECREF(result);
    }
    PyLoopLoop_RunDeferred(loop);
    Py_DECREF(loop);
    Py_DECREF(self);
}

static void on_error(pyloop_stream *stream, int error, int while_writing)
{
    PipeData *t = data_of_stream(stream);
    PyObject *self = object_of(t), *exception = PyLoopTransport_OSError(-error);
    LoopObject *loop = t->loop;

    if (!exception || !loop) {
        Py_XDECREF(exception);
        return;
    }
    Py_INCREF(self);
    Py_INCREF(loop);
    if (while_writing)
        t->conn_lost++;
    fatal_error(t, exception, while_writing ? "Fatal write error on pipe transport" : "Fatal read error on pipe transport");
    Py_DECREF(exception);
    PyLoopLoop_RunDeferred(loop);
    Py_DECREF(loop);
    Py_DECREF(self);
}

static void on_hold(pyloop_stream *stream)
{
    Py_INCREF((PyObject *)stream->context);
}

static void on_release(pyloop_stream *stream)
{
    Py_DECREF((PyObject *)stream->context);
}

/* The contexts of asyncio's reader and writer Handles (pyloop_module.h). */
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
    .on_write_resume = NULL, /* asyncio's pipe resumes at drain only */
    .on_drain = on_drain,
    .on_error = on_error,
    .hold = on_hold,
    .release = on_release,
    .on_watch = on_watch,
    .task_enter = on_task_enter,
    .task_exit = on_task_exit,
};

/* ------------------------------------------------------------------ */
/* methods shared by both types                                        */
/* ------------------------------------------------------------------ */

static PyObject *pipe_is_closing(PyObject *self, PyObject *Py_UNUSED(unused))
{
    return PyBool_FromLong(data_of(self)->closing);
}

static PyObject *pipe_set_protocol(PyObject *self, PyObject *protocol)
{
    PipeData *t = data_of(self);
    Py_INCREF(protocol);
    Py_XSETREF(t->protocol, protocol);
    Py_RETURN_NONE;
}

static PyObject *pipe_get_protocol(PyObject *self, PyObject *Py_UNUSED(unused))
{
    PyObject *protocol = data_of(self)->protocol;
    protocol = protocol ? protocol : Py_None;
    Py_INCREF(protocol);
    return protocol;
}

static PyObject *pipe_get_extra_info(PyObject *self, PyObject *args, PyObject *keywords)
{
    return PyLoopTransport_GetExtraInfo(data_of(self)->extra, args, keywords);
}

static PyObject *pipe_fatal_error(PyObject *self, PyObject *args, PyObject *keywords)
{
    static char *names[] = {"exc", "message", NULL};
    PyObject *exception;
    const char *message = "Fatal error on pipe transport";

    if (!PyArg_ParseTupleAndKeywords(args, keywords, "O|s:_fatal_error", names, &exception, &message))
        return NULL;
    fatal_error(data_of(self), exception, message);
    Py_RETURN_NONE;
}

static PyObject *pipe_close_with(PyObject *self, PyObject *args)
{
    PyObject *exception = Py_None;

    if (!PyArg_ParseTuple(args, "|O:_close", &exception))
        return NULL;
    if (close_with(data_of(self), exception == Py_None ? NULL : exception) < 0)
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *pipe_call_connection_lost(PyObject *self, PyObject *exception)
{
    return call_connection_lost(data_of(self), exception);
}

/* <ReadPipeTransport fd=7 polling>, <WritePipeTransport fd=8 idle
 * bufsize=0>, as asyncio's __repr__ (with this type's name). */
static PyObject *pipe_repr(PyObject *self)
{
    PipeData *t = data_of(self);
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

static int is_reading(PipeData *t)
{
    return !t->paused && !t->closing;
}

static int start_reading(PipeData *t)
{
    int rc = pyloop_stream_read_start(&t->stream);
    if (rc < 0) {
        errno = -rc;
        PyErr_SetFromErrno(PyExc_OSError);
        return -1;
    }
    return 0;
}

static PyObject *read_is_reading(PyObject *self, PyObject *Py_UNUSED(unused))
{
    return PyBool_FromLong(is_reading(data_of(self)));
}

static PyObject *read_pause_reading(PyObject *self, PyObject *Py_UNUSED(unused))
{
    PipeData *t = data_of(self);

    if (!is_reading(t))
        Py_RETURN_NONE;
    t->paused = 1;
    pyloop_stream_read_stop(&t->stream);
    if (loop_debug(t))
        PyLoopTransport_Log(self, "debug", "%r pauses reading");
    Py_RETURN_NONE;
}

static PyObject *read_resume_reading(PyObject *self, PyObject *Py_UNUSED(unused))
{
    PipeData *t = data_of(self);

    if (t->closing || !t->paused)
        Py_RETURN_NONE;
    t->paused = 0;
    if (start_reading(t) < 0)
        return NULL;
    if (loop_debug(t))
        PyLoopTransport_Log(self, "debug", "%r resumes reading");
    Py_RETURN_NONE;
}

static PyObject *read_close(PyObject *self, PyObject *Py_UNUSED(unused))
{
    PipeData *t = data_of(self);

    if (!t->closing && close_with(t, NULL) < 0)
        return NULL;
    Py_RETURN_NONE;
}

/* One os.read(fd, max_size) now, as asyncio's _read_ready (callable from
 * Python; the loop reads through the stream). */
static PyObject *read_read_ready(PyObject *self, PyObject *Py_UNUSED(unused))
{
    PipeData *t = data_of(self);
    void *data = NULL;
    size_t length = 0;
    ssize_t nread;

    if (!t->loop || !t->protocol || read_buffer(t, &data, &length) == 1)
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
            fatal_error(t, exception, "Fatal read error on pipe transport");
            Py_DECREF(exception);
        }
        Py_RETURN_NONE;
    }
    Py_INCREF(self);
    read_result(t, data, nread);
    Py_DECREF(self);
    Py_RETURN_NONE;
}

/* Scheduled after connection_made: asyncio 3.11+'s _add_reader, which does
 * nothing once reading was paused or the transport closed. The write end
 * watches for the peer closing (sockets and FIFOs). */
static PyObject *pipe_add_reader_after_connect(PyObject *self, PyObject *Py_UNUSED(unused))
{
    PipeData *t = data_of(self);

    if (!t->loop || pyloop_stream_closed(&t->stream))
        Py_RETURN_NONE;
    if (t->writer ? t->watch_peer && !t->closing : is_reading(t)) {
        if (start_reading(t) < 0)
            return NULL;
    }
    Py_RETURN_NONE;
}

/* ------------------------------------------------------------------ */
/* WritePipeTransport's methods                                        */
/* ------------------------------------------------------------------ */

static PyObject *write_write(PyObject *self, PyObject *data)
{
    PipeData *t = data_of(self);
    PyObject *chunk;
    pyloop_stream_buffer buffer;
    int rc;

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
        if (t->conn_lost >= P.connlost_threshold)
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
            fatal_error(t, exception, "Fatal write error on pipe transport");
            Py_DECREF(exception);
        }
    }
    Py_DECREF(self);
    if (PyErr_Occurred())
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *write_write_eof(PyObject *self, PyObject *Py_UNUSED(unused))
{
    PipeData *t = data_of(self);

    /* Closing or lost (asyncio's _closing); no loop: never initialised. */
    if (t->closing || !t->loop)
        Py_RETURN_NONE;
    t->closing = 1;
    if (!pyloop_stream_write_queue_size(&t->stream)) {
        pyloop_stream_read_stop(&t->stream);
        if (call_soon_own(t, P.str_call_connection_lost, Py_None) < 0)
            return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *write_can_write_eof(PyObject *Py_UNUSED(self), PyObject *Py_UNUSED(unused))
{
    Py_RETURN_TRUE;
}

static PyObject *write_close(PyObject *self, PyObject *unused)
{
    PipeData *t = data_of(self);

    if (t->pipe && !t->closing)
        return write_write_eof(self, unused);
    Py_RETURN_NONE;
}

static PyObject *write_abort(PyObject *self, PyObject *Py_UNUSED(unused))
{
    /* Lost (or never initialised): asyncio's _close reaches
     * self._loop._remove_reader with _loop None. */
    if (!data_of(self)->loop) {
        PyErr_SetString(PyExc_AttributeError, "'NoneType' object has no attribute '_remove_reader'");
        return NULL;
    }
    if (close_with(data_of(self), NULL) < 0)
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *write_get_write_buffer_size(PyObject *self, PyObject *Py_UNUSED(unused))
{
    return PyLong_FromSize_t(pyloop_stream_write_queue_size(&data_of(self)->stream));
}

static PyObject *write_set_write_buffer_limits(PyObject *self, PyObject *args, PyObject *keywords)
{
    size_t high, low;

    if (PyLoopTransport_ParseWriteLimits(args, keywords, &high, &low) < 0)
        return NULL;
    /* Then _maybe_pause_protocol: on_write_pause if above high. */
    pyloop_stream_set_write_limits(&data_of(self)->stream, high, low);
    if (PyErr_Occurred())
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *write_get_write_buffer_limits(PyObject *self, PyObject *Py_UNUSED(unused))
{
    size_t high, low;
    pyloop_stream_get_write_limits(&data_of(self)->stream, &high, &low);
    return Py_BuildValue("(nn)", (Py_ssize_t)low, (Py_ssize_t)high);
}

/* asyncio's write end _read_ready: the peer closed (callable from Python). */
static PyObject *write_read_ready(PyObject *self, PyObject *Py_UNUSED(unused))
{
    PipeData *t = data_of(self);

    if (t->loop && peer_closed(t) < 0)
        return NULL;
    Py_RETURN_NONE;
}

/* Sends what is buffered now if the fd takes it (the loop does this by
 * itself when the fd is writable). */
static PyObject *write_write_ready(PyObject *self, PyObject *Py_UNUSED(unused))
{
    PipeData *t = data_of(self);
    int rc;

    if (!t->loop || pyloop_stream_closed(&t->stream) || !pyloop_stream_write_queue_size(&t->stream))
        Py_RETURN_NONE;
    Py_INCREF(self);
    rc = pyloop_stream_flush(&t->stream);
    if (rc < 0) {
        PyObject *exception = PyLoopTransport_OSError(-rc);
        t->conn_lost++;
        if (exception) {
            fatal_error(t, exception, "Fatal write error on pipe transport");
            Py_DECREF(exception);
        }
    } else if (!pyloop_stream_write_queue_size(&t->stream)) {
        on_drain(&t->stream);
    }
    Py_DECREF(self);
    if (PyErr_Occurred())
        return NULL;
    Py_RETURN_NONE;
}

/* ------------------------------------------------------------------ */
/* construction, GC, finalization                                      */
/* ------------------------------------------------------------------ */

/* (loop, pipe, protocol, waiter=None, extra=None), asyncio's order of work. */
static int pipe_init(PyObject *self, PyObject *args, PyObject *keywords)
{
    static char *names[] = {"loop", "pipe", "protocol", "waiter", "extra", NULL};
    PipeData *t = data_of(self);
    PyObject *loop, *pipe, *protocol, *waiter = Py_None, *extra = Py_None, *fileno, *method;
    struct stat status;
    long fd;
    int flags, rc, is_fifo, is_socket;

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
    if (extra == Py_None)
        extra = PyDict_New();
    else
        Py_INCREF(extra);
    if (!extra)
        return -1;
    Py_XSETREF(t->extra, extra);
    if (PyObject_SetItem(extra, P.str_pipe, pipe) < 0)
        return -1;
    fileno = PyObject_CallMethod(pipe, "fileno", NULL);
    fd = fileno ? PyLong_AsLong(fileno) : -1;
    Py_XDECREF(fileno);
    if (fd == -1 && PyErr_Occurred())
        return -1;
    t->fd = (int)fd;
    if (fstat(t->fd, &status) < 0) {
        PyErr_SetFromErrno(PyExc_OSError);
        return -1;
    }
    is_fifo = S_ISFIFO(status.st_mode);
    is_socket = S_ISSOCK(status.st_mode);
    if (!(is_fifo || is_socket || S_ISCHR(status.st_mode))) {
        PyErr_SetString(PyExc_ValueError, t->writer ? "Pipe transport is only for pipes, sockets and character devices"
                                                    : "Pipe transport is for pipes/sockets only.");
        return -1;
    }
    /* os.set_blocking(fd, False) */
    flags = fcntl(t->fd, F_GETFL);
    if (flags < 0 || (!(flags & O_NONBLOCK) && fcntl(t->fd, F_SETFL, flags | O_NONBLOCK) < 0)) {
        PyErr_SetFromErrno(PyExc_OSError);
        return -1;
    }
    rc = pyloop_stream_init(&t->stream, ((LoopObject *)loop)->core, t->fd, &stream_callbacks, self);
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
    t->watch_peer = (char)(is_socket || is_fifo);
    /* connection_made, then the reader, then the waiter: asyncio's order. */
    method = PyObject_GetAttr(protocol, P.str_connection_made);
    rc = method ? PyLoopTransport_CallSoon(t->loop, method, self, NULL) : -1;
    Py_XDECREF(method);
    if (rc < 0)
        return -1;
    if ((!t->writer || t->watch_peer) && call_soon_own(t, P.str_add_reader_after_connect, NULL) < 0)
        return -1;
    if (waiter != Py_None && PyLoopTransport_CallSoon(t->loop, P.set_result_unless_cancelled, waiter, Py_None) < 0)
        return -1;
    return 0;
}

static int pipe_traverse(PyObject *self, visitproc visit, void *arg)
{
    PipeData *t = data_of(self);

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
    PipeData *t = data_of(self);

    Py_CLEAR(t->protocol);
    Py_CLEAR(t->extra);
    Py_CLEAR(t->dict);
    PyLoopContexts_Clear(&t->contexts);
    return 0;
}

/* asyncio's __del__: an unclosed transport warns and closes its pipe. */
static void pipe_finalize(PyObject *self)
{
    PipeData *t = data_of(self);
    PyObject *error = PyLoop_FetchException(), *closed, *pipe = t->pipe;

    if (pipe) {
        if (PyErr_ResourceWarning(self, 1, "unclosed transport %R", self) < 0)
            PyErr_WriteUnraisable(self);
        pyloop_stream_close(&t->stream);
        t->pipe = NULL; /* asyncio leaves _pipe set; its repr would say "closed" either way */
        closed = PyObject_CallMethodObjArgs(pipe, P.str_close, NULL);
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
    PipeData *t = data_of(self);

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

static PyObject *object_or_none(PyObject *value)
{
    value = value ? value : Py_None;
    Py_INCREF(value);
    return value;
}

static PyObject *get_pipe(PyObject *self, void *Py_UNUSED(c)) { return object_or_none(data_of(self)->pipe); }

/* Assignable, as asyncio's attribute (CPython's tests set _pipe = None to
 * keep __del__ quiet about a pipe they closed themselves). */
static int set_pipe(PyObject *self, PyObject *value, void *Py_UNUSED(c))
{
    PipeData *t = data_of(self);

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
static PyObject *get_fileno(PyObject *self, void *Py_UNUSED(c)) { return PyLong_FromLong(data_of(self)->fd); }
static PyObject *get_loop(PyObject *self, void *Py_UNUSED(c)) { return object_or_none((PyObject *)data_of(self)->loop); }
static PyObject *get_protocol(PyObject *self, void *Py_UNUSED(c)) { return object_or_none(data_of(self)->protocol); }
static PyObject *get_extra(PyObject *self, void *Py_UNUSED(c)) { return object_or_none(data_of(self)->extra); }
static PyObject *get_closing(PyObject *self, void *Py_UNUSED(c)) { return PyBool_FromLong(data_of(self)->closing); }
static PyObject *get_paused(PyObject *self, void *Py_UNUSED(c)) { return PyBool_FromLong(data_of(self)->paused); }
static PyObject *get_conn_lost(PyObject *self, void *Py_UNUSED(c)) { return PyLong_FromSsize_t(data_of(self)->conn_lost); }
static PyObject *get_protocol_paused(PyObject *self, void *Py_UNUSED(c)) { return PyBool_FromLong(data_of(self)->protocol_paused); }

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

static PyGetSetDef read_getset[] = {
    {"_pipe", get_pipe, set_pipe, NULL, NULL},
    {"_fileno", get_fileno, NULL, NULL, NULL},
    {"_loop", get_loop, NULL, NULL, NULL},
    {"_protocol", get_protocol, NULL, NULL, NULL},
    {"_extra", get_extra, NULL, NULL, NULL},
    {"_closing", get_closing, NULL, NULL, NULL},
    {"_paused", get_paused, NULL, NULL, NULL},
    {"__dict__", PyObject_GenericGetDict, PyObject_GenericSetDict, NULL, NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyGetSetDef write_getset[] = {
    {"_pipe", get_pipe, set_pipe, NULL, NULL},
    {"_fileno", get_fileno, NULL, NULL, NULL},
    {"_loop", get_loop, NULL, NULL, NULL},
    {"_protocol", get_protocol, NULL, NULL, NULL},
    {"_extra", get_extra, NULL, NULL, NULL},
    {"_closing", get_closing, NULL, NULL, NULL},
    {"_conn_lost", get_conn_lost, NULL, NULL, NULL},
    {"_protocol_paused", get_protocol_paused, NULL, NULL, NULL},
    {"_high_water", get_high_water, NULL, NULL, NULL},
    {"_low_water", get_low_water, NULL, NULL, NULL},
    {"__dict__", PyObject_GenericGetDict, PyObject_GenericSetDict, NULL, NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

#define COMMON_METHODS                                                                                                \
    {"is_closing", pipe_is_closing, METH_NOARGS, "Return True if the transport is closing or closed."},                \
        {"get_protocol", pipe_get_protocol, METH_NOARGS, "Return the current protocol."},                               \
        {"set_protocol", pipe_set_protocol, METH_O, "Set a new protocol."},                                             \
        {"get_extra_info", (PyCFunction)(void (*)(void))pipe_get_extra_info, METH_VARARGS | METH_KEYWORDS,              \
         "Get optional transport information."},                                                                        \
        {"_fatal_error", (PyCFunction)(void (*)(void))pipe_fatal_error, METH_VARARGS | METH_KEYWORDS, NULL},            \
        {"_close", pipe_close_with, METH_VARARGS, NULL},                                                                \
        {"_call_connection_lost", pipe_call_connection_lost, METH_O, NULL},                                             \
        {"_add_reader_after_connect", pipe_add_reader_after_connect, METH_NOARGS, NULL}

static PyMethodDef read_methods[] = {
    COMMON_METHODS,
    {"is_reading", read_is_reading, METH_NOARGS, "Return True if the transport is receiving."},
    {"pause_reading", read_pause_reading, METH_NOARGS, "Pause the receiving end."},
    {"resume_reading", read_resume_reading, METH_NOARGS, "Resume the receiving end."},
    {"close", read_close, METH_NOARGS, "Close the transport."},
    {"_read_ready", read_read_ready, METH_NOARGS, NULL},
    {NULL, NULL, 0, NULL},
};

static PyMethodDef write_methods[] = {
    COMMON_METHODS,
    {"write", write_write, METH_O, "Write some data bytes to the transport."},
    {"write_eof", write_write_eof, METH_NOARGS, "Close the pipe once the buffer is sent."},
    {"can_write_eof", write_can_write_eof, METH_NOARGS, "Return True: this transport supports write_eof()."},
    {"close", write_close, METH_NOARGS, "Close the transport once the buffer is sent."},
    {"abort", write_abort, METH_NOARGS, "Close the transport immediately, dropping buffered data."},
    {"get_write_buffer_size", write_get_write_buffer_size, METH_NOARGS, "Return the current size of the write buffer."},
    {"get_write_buffer_limits", write_get_write_buffer_limits, METH_NOARGS, "Return (low, high)."},
    {"set_write_buffer_limits", (PyCFunction)(void (*)(void))write_set_write_buffer_limits,
     METH_VARARGS | METH_KEYWORDS, "Set the high- and low-water limits for write flow control."},
    {"_read_ready", write_read_ready, METH_NOARGS, NULL},
    {"_write_ready", write_write_ready, METH_NOARGS, NULL},
    {NULL, NULL, 0, NULL},
};

/* ------------------------------------------------------------------ */
/* the types                                                           */
/* ------------------------------------------------------------------ */

static int load_names(void)
{
    PyObject *threshold = NULL;

    if (PyLoop_ImportInto(&P.read_transport, "asyncio.transports", "ReadTransport") < 0
        || PyLoop_ImportInto(&P.flow_control_mixin, "asyncio.transports", "_FlowControlMixin") < 0
        || PyLoop_ImportInto(&P.set_result_unless_cancelled, "asyncio.futures", "_set_result_unless_cancelled") < 0
        || PyLoop_ImportInto(&threshold, "asyncio.constants", "LOG_THRESHOLD_FOR_CONNLOST_WRITES") < 0)
        return -1;
    P.connlost_threshold = PyLong_AsSsize_t(threshold);
    Py_DECREF(threshold);
    if (P.connlost_threshold == -1 && PyErr_Occurred())
        return -1;
    if (PyLoop_InternInto(&P.str_connection_made, "connection_made") < 0
        || PyLoop_InternInto(&P.str_connection_lost, "connection_lost") < 0
        || PyLoop_InternInto(&P.str_data_received, "data_received") < 0
        || PyLoop_InternInto(&P.str_eof_received, "eof_received") < 0
        || PyLoop_InternInto(&P.str_pause_writing, "pause_writing") < 0
        || PyLoop_InternInto(&P.str_resume_writing, "resume_writing") < 0
        || PyLoop_InternInto(&P.str_close, "close") < 0 || PyLoop_InternInto(&P.str_max_size, "max_size") < 0
        || PyLoop_InternInto(&P.str_call_connection_lost, "_call_connection_lost") < 0
        || PyLoop_InternInto(&P.str_add_reader_after_connect, "_add_reader_after_connect") < 0
        || PyLoop_InternInto(&P.str_read_ready, "_read_ready") < 0
        || PyLoop_InternInto(&P.str_write_ready, "_write_ready") < 0 || PyLoop_InternInto(&P.str_pipe, "pipe") < 0)
        return -1;
    return 0;
}

static PyMemberDef read_members[3], write_members[3];

static PyTypeObject *make_type(const char *name, const char *doc, PyObject *base, PyMethodDef *methods,
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

    if (load_names() < 0)
        return -1;
    PyLoop_ReadPipeTransportType =
        make_type("data_bridge.pyloop._pyloop.ReadPipeTransport",
                  "asyncio's read pipe transport (_UnixReadPipeTransport), in C on PyLoop's stream layer.",
                  P.read_transport, read_methods, read_getset, read_members, &P.read_offset);
    if (!PyLoop_ReadPipeTransportType)
        return -1;
    PyLoop_WritePipeTransportType =
        make_type("data_bridge.pyloop._pyloop.WritePipeTransport",
                  "asyncio's write pipe transport (_UnixWritePipeTransport), in C on PyLoop's stream layer.",
                  P.flow_control_mixin, write_methods, write_getset, write_members, &P.write_offset);
    if (!PyLoop_WritePipeTransportType)
        return -1;
    max_size = PyLong_FromLong(MAX_SIZE_DEFAULT);
    rc = max_size ? PyObject_SetAttr((PyObject *)PyLoop_ReadPipeTransportType, P.str_max_size, max_size) : -1;
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

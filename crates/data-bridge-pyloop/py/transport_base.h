/*
 * transport_base: what every C transport shares, written once (asyncio keeps
 * it in _SelectorTransport and _FlowControlMixin, uvloop in UVBaseTransport,
 * libuv in UV_HANDLE_FIELDS/UV_STREAM_FIELDS): the head every transport's C
 * data opens with (a pointer to one casts to PyLoopTransport, a stream
 * transport's to PyLoopStreamTransport), the ops (the hooks the shared code
 * calls where asyncio's classes differ, as uvloop's _stop_reading), and the
 * code over them, declared below.
 *
 * What stays per type (where asyncio's classes really differ: _fatal_error's
 * classification, the pipes' _close, what _call_connection_lost releases)
 * says why where it stays. Includes run one way: transports -> this -> pyloop_module.h, names.h.
 */
#ifndef PYLOOP_PY_TRANSPORT_BASE_H
#define PYLOOP_PY_TRANSPORT_BASE_H

#include "pyloop_module.h"

#include <structmember.h>

#include "args.h"
#include "stream.h"

/* asyncio's max_size: what one read takes (selector_events and
 * unix_events both read 256 KiB), and the shared read buffer's size. */
#define PYLOOP_MAX_SIZE_DEFAULT (256 * 1024)

/* The contexts a stream transport's protocol callbacks run in. asyncio
 * reads in its reader Handle's context and sends in its writer Handle's,
 * each a copy of the context where _add_reader/_add_writer made it (the
 * constructor's call_soon; resume_reading's caller; write()'s when the
 * kernel refuses bytes): on_watch takes the copy, task_enter/task_exit enter
 * it around one loop task. `given`: a context= argument (3.15), used itself
 * by every watcher and the transport's own call_soon()s. `deferred`: a copy
 * of the context of a write deferred to its callback's end, entered for
 * that flush (a copy even with `given`, as asyncio's write() sends in its
 * caller's). Strong references, traversed and cleared by the owner. */
typedef struct PyLoopContexts {
    PyObject *given, *reader, *writer, *deferred;
} PyLoopContexts;

struct PyLoopTransportOps;

/* What every transport has; NULL where asyncio's field is None.
 * high_water/low_water: the objects set_write_buffer_limits stored, as
 * asyncio stores them (1.5 stays 1.5); NULL: the defaults. */
#define PYLOOP_TRANSPORT_HEAD                                                                                        \
    const struct PyLoopTransportOps *ops; /* set by PyLoopTransport_Of (or the type) */                              \
    LoopObject *loop;                     /* NULL once connection_lost ran */                                        \
    union {                                                                                                          \
        PyObject *sock; /* asyncio's _sock: NULL once closed */                                                      \
        PyObject *pipe; /* asyncio's _pipe */                                                                        \
    };                                                                                                               \
    PyObject *protocol;                                                                                              \
    PyObject *extra; /* a dict (or what a caller gave) */                                                            \
    PyObject *dict;                                                                                                  \
    PyObject *weakreflist;                                                                                           \
    PyObject *high_water, *low_water;                                                                                \
    Py_ssize_t conn_lost;                                                                                            \
    char closing;                                                                                                    \
    char paused;             /* pause_reading() */                                                                   \
    char protocol_connected; /* connection_lost goes to the protocol */

/* + what a transport on the stream layer (stream.h) has. */
#define PYLOOP_STREAM_TRANSPORT_HEAD                                                                                 \
    PYLOOP_TRANSPORT_HEAD                                                                                            \
    char read_shared;         /* data_received: the bytes are in the shared read buffer */                           \
    int fd;                                                                                                          \
    pyloop_stream stream;     /* stream->context: the transport object */                                            \
    PyLoopContexts contexts;  /* what the protocol's callbacks run in */                                             \
    PyObject *read_bytes;     /* data_received: the bytes object being read into */

typedef struct PyLoopTransport {
    PYLOOP_TRANSPORT_HEAD
} PyLoopTransport;

typedef struct PyLoopStreamTransport {
    PYLOOP_STREAM_TRANSPORT_HEAD
} PyLoopStreamTransport;

/* A type's hooks. Only `name` and the hooks its methods reach are needed:
 * a NULL hook does nothing (has_buffer: nothing buffered). */
typedef struct PyLoopTransportOps {
    const char *name;       /* asyncio's class, for qualnames: "_SelectorSocketTransport" */
    const char *set_protocol_qualname; /* where asyncio defines set_protocol */
    char stream;            /* the data opens with PYLOOP_STREAM_TRANSPORT_HEAD */
    Py_ssize_t data_offset; /* set by PyLoopTransport_NewType */
    struct PyMemberDef members[3]; /* __weaklistoffset__, __dictoffset__: NewType's */
    /* asyncio's _loop._remove_reader(self._sock_fd) */
    void (*stop_reading)(PyLoopTransport *t);
    /* bytes wait to be sent (asyncio's `if self._buffer`) */
    int (*has_buffer)(PyLoopTransport *t);
    /* _force_close's `self._buffer.clear(); self._loop._remove_writer(...)` */
    void (*drop_buffer)(PyLoopTransport *t);
    /* close()'s `self._loop._remove_writer(self._sock_fd)` once nothing is
     * buffered (a stream stops writing by itself when it drains) */
    void (*stop_writing)(PyLoopTransport *t);
    /* set_protocol(protocol) before it stores it (the socket's buffered
     * flag, protocol_connected); 0 or -1, and nothing is stored */
    int (*protocol_set)(PyLoopTransport *t, PyObject *protocol);
    /* set_write_buffer_limits once the objects are stored: the stream's
     * limits, or _maybe_pause_protocol; 0 or -1 */
    int (*limits_set)(PyLoopTransport *t, PyObject *self);
    /* the finalizer of an unclosed transport: stop, close sock/pipe */
    void (*close_resource)(PyLoopTransport *t, PyObject *self);
    /* the type's own references, past the head's */
    int (*traverse)(PyLoopTransport *t, visitproc visit, void *arg);
    void (*clear)(PyLoopTransport *t);
    /* dealloc, after clear: what is not a reference (a queue's memory) */
    void (*free)(PyLoopTransport *t);
} PyLoopTransportOps;

/* The type over asyncio's classes `bases` (the first is the layout base):
 * the data (data_size bytes from the head) at the base's size aligned, ops
 * registered for PyLoopTransport_Of. spec must not name Py_tp_members. */
PyTypeObject *PyLoopTransport_NewType(PyType_Spec *spec, PyObject *bases, size_t data_size, PyLoopTransportOps *ops);
/* NewType with the base's GC group and asyncio's flags, in module (as its
 * short name); max_size: the class's 256 KiB max_size. Steals bases (NULL:
 * raised already). NULL raised. */
PyTypeObject *PyLoopTransport_AddType(PyObject *module, const char *name, const char *doc, PyObject *bases,
                                      initproc init, reprfunc repr, PyMethodDef *methods, PyGetSetDef *getset,
                                      size_t data_size, PyLoopTransportOps *ops, int max_size);
/* The data of any instance of a registered type (or subclass), its ops set;
 * NULL for anything else (not raised). */
PyLoopTransport *PyLoopTransport_Of(PyObject *self);
static inline PyObject *PyLoopTransport_Object(PyLoopTransport *t)
{
    return (PyObject *)((char *)t - t->ops->data_offset);
}

/* data_of(self), object_of(t) and base_of(t) for a type whose hot paths
 * reach its data at its own offset, without PyLoopTransport_Of's registry
 * walk; base_of sets t->ops (an instance made by __new__ alone has none). */
#define PYLOOP_TRANSPORT_ACCESSORS(Data, type_ops)                                                                   \
    static inline Data *data_of(PyObject *self) { return (Data *)((char *)self + (type_ops).data_offset); }          \
    static inline PyObject *object_of(Data *t) { return (PyObject *)((char *)t - (type_ops).data_offset); }          \
    static inline PyLoopTransport *base_of(Data *t)                                                                  \
    {                                                                                                                \
        t->ops = &(type_ops);                                                                                        \
        return (PyLoopTransport *)t;                                                                                 \
    }

/* ---- the shared behaviour, over the ops ---- */

/* loop.call_soon(callable, first, second) (NULL ends the arguments), in
 * the transport's given context when it has one (3.15's
 * _SelectorTransport._call_soon); the handle is dropped. */
int PyLoopTransport_CallSoonIn(PyLoopTransport *t, PyObject *callable, PyObject *first, PyObject *second);
/* The same for self.<name>(arg) (arg NULL: none). */
int PyLoopTransport_CallSoonOwn(PyLoopTransport *t, PyObject *name, PyObject *arg);
/* call_soon(self._call_connection_lost, exception or None). */
int PyLoopTransport_ScheduleConnectionLost(PyLoopTransport *t, PyObject *exception);
/* The constructor's tail, in asyncio's order: call_soon(protocol.
 * connection_made, self), then (add_reader) call_soon(self.
 * _add_reader_after_connect), then, unless waiter is None, call_soon(
 * futures._set_result_unless_cancelled, waiter, None). */
int PyLoopTransport_ScheduleConnected(PyLoopTransport *t, PyObject *waiter, int add_reader);
/* _SelectorTransport.__init__'s extra (a dict, or a mapping): 'socket' (a
 * TransportSocket), 'sockname', and 'peername' unless given, each None
 * where the socket's call raises OSError (socket, datagram). 0 or -1. */
int PyLoopTransport_FillSocketExtra(PyObject *extra, PyObject *sock);
/* asyncio's _SelectorTransport._force_close(exc) (socket, datagram). */
int PyLoopTransport_ForceClose(PyLoopTransport *t, PyObject *exception);
/* asyncio's _SelectorTransport.close() (socket, datagram). */
int PyLoopTransport_Close(PyLoopTransport *t);
/* The report half of asyncio's _fatal_error: log_only (an error asyncio
 * only logs) goes to logger.debug in debug mode, anything else to the
 * loop's exception handler with message, exception, transport, protocol.
 * KeyboardInterrupt/SystemExit from the handler end the loop's run. */
void PyLoopTransport_ReportFatal(LoopObject *loop, PyObject *transport, PyObject *protocol, PyObject *exception,
                                 const char *message, int log_only);
/* The exception raised now by a protocol call asyncio makes inside a Handle
 * of self.<callback> (_read_ready, _write_ready, _call_connection_lost):
 * reported as that Handle's ("Exception in callback <Type>.<callback>()"),
 * or the run ends (KeyboardInterrupt, SystemExit). */
void PyLoopTransport_ReportAsCallback(PyObject *self, LoopObject *loop, PyObject *callback);
/* protocol.<name>() for flow control (pause_writing/resume_writing), its
 * failure to the exception handler with `failure`, as _FlowControlMixin. */
void PyLoopTransport_CallProtocolFlow(LoopObject *loop, PyObject *transport, PyObject *protocol, PyObject *name,
                                      const char *failure);
/* logger.<level>(message[, transport]): failures are unraisable. */
void PyLoopTransport_Log(PyObject *transport, const char *level, const char *message);
/* loop.get_debug(): PyLoop's C flag, or asked of another loop object. 1, 0,
 * or -1 raised. ReportFatal, CallProtocolFlow and DebugLog take another
 * loop too (what would end PyLoop's run is then unraisable). */
int PyLoopTransport_LoopDebug(LoopObject *loop);
/* logger.debug(message, self) in debug mode, as asyncio logs transitions. */
void PyLoopTransport_DebugLog(PyLoopTransport *t, const char *message);
/* OSError for error's errno, as a new exception object (not raised). */
PyObject *PyLoopTransport_OSError(int error);
/* asyncio's __repr__ opens with the class's own name (PyLoop_TypeName: a
 * subclass's too) and the state: " closed" (no sock/pipe), " closing" or "". */
static inline const char *PyLoopTransport_ReprState(const PyLoopTransport *t)
{
    return !t->sock ? " closed" : t->closing ? " closing" : "";
}
/* loop.call_soon(callable, first, second) (NULL ends the arguments), for
 * the rare calls (set-up, tear-down) where asyncio schedules one; the
 * handle is dropped. */
int PyLoopTransport_CallSoon(LoopObject *loop, PyObject *callable, PyObject *first, PyObject *second);

/* self.max_size, as asyncio's read call takes it: the 256 KiB default
 * without a lookup when self is exactly own_type and its __dict__ (dict)
 * does not shadow it. Negative: ValueError "negative buffersize in <call>"
 * as socket.recv raises it, or with call NULL OSError(EINVAL) as os.read. */
int PyLoopTransport_ReadSize(PyObject *self, PyObject *dict, PyTypeObject *own_type, PyObject *name,
                             const char *call, Py_ssize_t *size);
/* The process's one read buffer for data_received reads (filled and copied
 * out with the GIL held, no Python code in between). */
char *PyLoopTransport_SharedReadBuffer(size_t *size);
/* What a stream queues: a bytes object (referenced, or a copy of any other
 * buffer: what is queued must not change under it), released by
 * PyLoopTransport_ReleaseOwner. */
PyObject *PyLoopTransport_ImmutableBytes(PyObject *data);
void PyLoopTransport_ReleaseOwner(void *owner);

/* asyncio's _set_write_buffer_limits(high, low) on the objects (None for
 * one not given): defaults, the check and its ValueError, then stored in
 * t->high_water/low_water. 0 or -1. */
int PyLoopTransport_StoreWriteLimits(PyLoopTransport *t, PyObject *high, PyObject *low);
/* A stored limit as the stream compares it: asyncio compares sizes (ints)
 * with the object, and `size > 1.5` is `size > 1`, `size > 2**70` never. */
size_t PyLoopTransport_LimitAsSize(PyObject *limit);
/* The stream transports' limits_set: the stream's limits from the stored
 * objects (_maybe_pause_protocol follows in the stream). */
int PyLoopTransport_StreamLimitsSet(PyLoopTransport *t, PyObject *self);

/* ---- the stream callbacks socket and pipe share (stream->context is the
 * transport): while the loop holds the stream it owns a reference to the
 * transport, as asyncio's selector owns the reader handle; the contexts of
 * asyncio's reader and writer Handles. ---- */
void PyLoopTransport_OnHold(pyloop_stream *stream);
void PyLoopTransport_OnRelease(pyloop_stream *stream);
void PyLoopTransport_OnWatch(pyloop_stream *stream, int writing);
void *PyLoopTransport_OnTaskEnter(pyloop_stream *stream, int writing);
void PyLoopTransport_OnTaskExit(pyloop_stream *stream, void *entered);

/* A stream callback's frame: self and its loop (may be NULL) stay alive
 * across the protocol's calls, and on the way out, with flush, what the
 * protocol wrote leaves now (the write rule), as at any callback's end. */
static inline void PyLoopTransport_FrameEnter(PyObject *self, LoopObject *loop)
{
    Py_INCREF(self);
    Py_XINCREF(loop);
}

static inline void PyLoopTransport_FrameLeave(PyObject *self, LoopObject *loop, int flush)
{
    if (loop) {
        if (flush)
            PyLoopLoop_RunDeferred(loop);
        Py_DECREF(loop);
    }
    Py_DECREF(self);
}

/* ---- the GC skeleton: the head's fields (and a stream head's), then the
 * type's traverse/clear hooks; finalize is asyncio's __del__ (an unclosed
 * transport warns, then ops->close_resource). The type's slots name them. */
int PyLoopTransport_Traverse(PyObject *self, visitproc visit, void *arg);
int PyLoopTransport_Clear(PyObject *self);
void PyLoopTransport_Finalize(PyObject *self);
void PyLoopTransport_Dealloc(PyObject *self);

/* ---- what every transport has on its class ---- */
PyObject *PyLoopTransport_GetLoop(PyObject *self, void *closure);
PyObject *PyLoopTransport_GetProtocolAttr(PyObject *self, void *closure);
PyObject *PyLoopTransport_GetExtra(PyObject *self, void *closure);
PyObject *PyLoopTransport_GetClosing(PyObject *self, void *closure);
PyObject *PyLoopTransport_GetConnLost(PyObject *self, void *closure);
/* asyncio's _loop, _protocol, _extra, _closing, _conn_lost, __dict__. */
#define PYLOOP_TRANSPORT_GETSET                                                                                      \
    {"_loop", PyLoopTransport_GetLoop, NULL, NULL, NULL},                                                            \
        {"_protocol", PyLoopTransport_GetProtocolAttr, NULL, NULL, NULL},                                            \
        {"_extra", PyLoopTransport_GetExtra, NULL, NULL, NULL},                                                      \
        {"_closing", PyLoopTransport_GetClosing, NULL, NULL, NULL},                                                  \
        {"_conn_lost", PyLoopTransport_GetConnLost, NULL, NULL, NULL},                                               \
    {"__dict__", PyObject_GenericGetDict, PyObject_GenericSetDict, NULL, NULL}

PyObject *PyLoopTransport_IsClosing(PyObject *self, PyObject *unused);
PyObject *PyLoopTransport_GetProtocol(PyObject *self, PyObject *unused);
PyObject *PyLoopTransport_SetProtocol(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames);
PyObject *PyLoopTransport_GetExtraInfoMethod(PyObject *self, PyObject *const *args, Py_ssize_t nargs,
                                             PyObject *kwnames);
/* is_closing, get_protocol, set_protocol(protocol), get_extra_info(name,
 * default=None): asyncio's signatures and TypeError texts. */
#define PYLOOP_TRANSPORT_METHODS                                                                                     \
    PYLOOP_NOARGS_METHOD(is_closing, PyLoopTransport_IsClosing,                                                      \
                         "Return True if the transport is closing or closed."),                                      \
        PYLOOP_NOARGS_METHOD(get_protocol, PyLoopTransport_GetProtocol,                                              \
                             "Return the current protocol."),                                                        \
        {"set_protocol", (PyCFunction)(void (*)(void))PyLoopTransport_SetProtocol, METH_FASTCALL | METH_KEYWORDS,    \
         "set_protocol($self, protocol)\n--\n\nSet a new protocol."},                                                \
    {"get_extra_info", (PyCFunction)(void (*)(void))PyLoopTransport_GetExtraInfoMethod, METH_FASTCALL | METH_KEYWORDS, \
     "get_extra_info($self, name, default=None)\n--\n\nGet optional transport information."}

/* pyloop_stream_init on the transport's fd, in loop's core, with self as
 * the stream's context; 0, or -1 with the OSError raised (socket, pipes). */
int PyLoopTransport_StreamInit(PyLoopTransport *t, LoopObject *loop, const pyloop_stream_callbacks *callbacks,
                               PyObject *self);

/* Reading, for the stream transports (_SelectorTransport and
 * _UnixReadPipeTransport agree): is_reading() is `not paused and not
 * closing`; pause/resume stop and start the stream, logged in debug mode.
 * StartReading: unless paused, closing or lost; 0, or -1 raised. */
int PyLoopTransport_StartReading(PyLoopTransport *t);
void PyLoopTransport_StopReading(PyLoopTransport *t);
PyObject *PyLoopTransport_IsReading(PyObject *self, PyObject *unused);
PyObject *PyLoopTransport_PauseReading(PyObject *self, PyObject *unused);
PyObject *PyLoopTransport_ResumeReading(PyObject *self, PyObject *unused);
#define PYLOOP_STREAM_READING_METHODS                                                                                \
    PYLOOP_NOARGS_METHOD(is_reading, PyLoopTransport_IsReading,                                                      \
                         "Return True if the transport is receiving."),                                              \
        PYLOOP_NOARGS_METHOD(pause_reading, PyLoopTransport_PauseReading,                                            \
                             "Pause the receiving end."),                                                            \
    PYLOOP_NOARGS_METHOD(resume_reading, PyLoopTransport_ResumeReading, "Resume the receiving end.")

/* set_write_buffer_limits(high=None, low=None) (stored, then ops->limits_set)
 * and get_write_buffer_limits(), for the transports that write. */
PyObject *PyLoopTransport_SetWriteBufferLimits(PyObject *self, PyObject *const *args, Py_ssize_t nargs,
                                               PyObject *kwnames);
PyObject *PyLoopTransport_GetWriteBufferLimits(PyObject *self, PyObject *unused);
PyObject *PyLoopTransport_GetHighWater(PyObject *self, void *closure);
PyObject *PyLoopTransport_GetLowWater(PyObject *self, void *closure);
#define PYLOOP_TRANSPORT_LIMIT_METHODS                                                                               \
    {"set_write_buffer_limits", (PyCFunction)(void (*)(void))PyLoopTransport_SetWriteBufferLimits,                   \
     METH_FASTCALL | METH_KEYWORDS,                                                                                  \
     "set_write_buffer_limits($self, high=None, low=None)\n--\n\nSet the high- and low-water limits for write flow " \
     "control."},                                                                                                    \
    PYLOOP_NOARGS_METHOD(get_write_buffer_limits, PyLoopTransport_GetWriteBufferLimits, "Return (low, high).")
#define PYLOOP_TRANSPORT_LIMIT_GETSET                                                                                \
    {"_high_water", PyLoopTransport_GetHighWater, NULL, NULL, NULL},                                                 \
    {"_low_water", PyLoopTransport_GetLowWater, NULL, NULL, NULL}

#endif

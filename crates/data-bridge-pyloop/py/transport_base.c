/*
 * transport_base: what every C transport shares (transport_base.h).
 */
#include "transport_base.h"

#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <structmember.h>

/* ---- types and their ops ---- */

/* Every type of PyLoopTransport_NewType, with its ops: socket, datagram,
 * the two pipes (a fourth transport adds one line). */
#define MAX_TYPES 8
static struct {
    PyTypeObject *type;
    PyLoopTransportOps *ops;
} registry[MAX_TYPES];
static int registered;

static PyTypeObject *type_from_spec(PyType_Spec *spec, PyObject *bases, size_t data_size, size_t dict_at,
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

PyTypeObject *PyLoopTransport_NewType(PyType_Spec *spec, PyObject *bases, size_t data_size, PyLoopTransportOps *ops)
{
    PyType_Slot slots[40], *given = spec->slots;
    PyTypeObject *type;
    int n = 0;

    if (registered == MAX_TYPES) {
        PyErr_SetString(PyExc_SystemError, "transport_base: too many transport types");
        return NULL;
    }
    while (given[n].slot && n < 38) {
        slots[n] = given[n];
        n++;
    }
    slots[n++] = (PyType_Slot){Py_tp_members, ops->members};
    slots[n] = (PyType_Slot){0, NULL};
    spec->slots = slots;
    type = type_from_spec(spec, bases, data_size, offsetof(PyLoopTransport, dict),
                                        offsetof(PyLoopTransport, weakreflist), ops->members, &ops->data_offset);
    spec->slots = given;
    if (!type)
        return NULL;
    registry[registered].type = type;
    registry[registered++].ops = ops;
    return type;
}

PyTypeObject *PyLoopTransport_AddType(PyObject *module, const char *name, const char *doc, PyObject *bases,
                                      initproc init, reprfunc repr, PyMethodDef *methods, PyGetSetDef *getset,
                                      size_t data_size, PyLoopTransportOps *ops, int max_size)
{
    PyType_Slot slots[] = {
        {Py_tp_init, init},
        {Py_tp_dealloc, PyLoopTransport_Dealloc},
        {Py_tp_traverse, PyLoopTransport_Traverse},
        {Py_tp_clear, PyLoopTransport_Clear},
        {Py_tp_finalize, PyLoopTransport_Finalize},
        {Py_tp_repr, repr},
        {Py_tp_methods, methods},
        {Py_tp_getset, getset},
        {Py_tp_doc, (void *)(uintptr_t)doc},
        {0, NULL},
    };
    PyType_Spec spec = {name, 0, 0, Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC, slots};
    PyTypeObject *type = bases ? PyLoopTransport_NewType(&spec, bases, data_size, ops) : NULL;
    PyObject *size = type && max_size ? PyLong_FromLong(PYLOOP_MAX_SIZE_DEFAULT) : NULL;
    int rc = type && (!max_size || (size && PyObject_SetAttr((PyObject *)type, PyLoop_str.max_size, size) == 0))
                 ? PyModule_AddType(module, type)
                 : -1;

    Py_XDECREF(bases);
    Py_XDECREF(size);
    return rc < 0 ? NULL : type;
}

PyLoopTransport *PyLoopTransport_Of(PyObject *self)
{
    PyTypeObject *type;
    int i;

    for (type = Py_TYPE(self); type; type = type->tp_base)
        for (i = 0; i < registered; i++)
            if (registry[i].type == type) {
                PyLoopTransport *t = (PyLoopTransport *)((char *)self + registry[i].ops->data_offset);
                t->ops = registry[i].ops;
                return t;
            }
    return NULL;
}

/* The data of self, a method's own type's instance (the method table is
 * the type's: only a foreign __get__ reaches here with another object). */
static PyLoopTransport *of_self(PyObject *self)
{
    PyLoopTransport *t = PyLoopTransport_Of(self);

    if (!t)
        PyErr_Format(PyExc_TypeError, "'%.200s' object is not a PyLoop transport", Py_TYPE(self)->tp_name);
    return t;
}

/* A getter of a head field, as `value` of t (TypeError for a foreign self). */
#define HEAD_GETTER(name, value)                                                                                     \
    PyObject *name(PyObject *self, void *Py_UNUSED(c))                                                               \
    {                                                                                                                \
        PyLoopTransport *t = of_self(self);                                                                          \
        return t ? (value) : NULL;                                                                                   \
    }

/* ---- small helpers ---- */

int PyLoopTransport_CallSoon(LoopObject *loop, PyObject *callable, PyObject *first, PyObject *second)
{
    PyObject *handle =
        PyObject_CallMethodObjArgs((PyObject *)loop, PyLoop_str.call_soon, callable, first, second, NULL);
    Py_XDECREF(handle);
    return handle ? 0 : -1;
}

int PyLoopTransport_CallSoonIn(PyLoopTransport *t, PyObject *callable, PyObject *first, PyObject *second)
{
    static PyObject *kw_context; /* ("context",), kept for the process */
    PyObject *args[5], *handle, *given = t->ops->stream ? ((PyLoopStreamTransport *)t)->contexts.given : NULL;
    size_t n = 0;

    if (!given)
        return PyLoopTransport_CallSoon(t->loop, callable, first, second);
    if (!kw_context && !(kw_context = PyTuple_Pack(1, PyLoop_str.context)))
        return -1;
    /* 3.15's _SelectorTransport._call_soon: call_soon(..., context=
     * self._context), the transport's own context rather than a copy. */
    args[n++] = (PyObject *)t->loop;
    args[n++] = callable;
    if (first)
        args[n++] = first;
    if (first && second)
        args[n++] = second;
    args[n] = given;
    handle = PyObject_VectorcallMethod(PyLoop_str.call_soon, args, n, kw_context);
    Py_XDECREF(handle);
    return handle ? 0 : -1;
}

int PyLoopTransport_CallSoonOwn(PyLoopTransport *t, PyObject *name, PyObject *arg)
{
    PyObject *method = PyObject_GetAttr(PyLoopTransport_Object(t), name);
    int rc = method ? PyLoopTransport_CallSoonIn(t, method, arg, NULL) : -1;

    Py_XDECREF(method);
    return rc;
}

void PyLoopTransport_Log(PyObject *transport, const char *level, const char *message)
{
    /* The transport is the argument of a message that formats it ("%r"). */
    PyObject *result = strstr(message, "%r")
                           ? PyObject_CallMethod(PyLoop_asyncio.logger, level, "sO", message, transport)
                           : PyObject_CallMethod(PyLoop_asyncio.logger, level, "s", message);
    if (!result)
        PyErr_WriteUnraisable(transport);
    Py_XDECREF(result);
}

/* A loop of PyLoop's (the run ends in C), or another loop object a
 * transport was given (asked through Python). */
static int is_pyloop(LoopObject *loop) { return PyObject_TypeCheck((PyObject *)loop, &PyLoop_LoopType); }

int PyLoopTransport_LoopDebug(LoopObject *loop)
{
    PyObject *debug;
    int truth;

    if (!loop)
        return 0;
    if (is_pyloop(loop))
        return loop->debug;
    debug = PyObject_CallMethodNoArgs((PyObject *)loop, PyLoop_str.get_debug);
    truth = debug ? PyObject_IsTrue(debug) : -1;
    Py_XDECREF(debug);
    return truth;
}

void PyLoopTransport_DebugLog(PyLoopTransport *t, const char *message)
{
    int debug = PyLoopTransport_LoopDebug(t->loop);

    if (debug < 0)
        PyErr_WriteUnraisable(PyLoopTransport_Object(t));
    else if (debug)
        PyLoopTransport_Log(PyLoopTransport_Object(t), "debug", message);
}

/* KeyboardInterrupt/SystemExit from a loop task end PyLoop's run; on
 * another loop they cannot travel from here (no caller to take them). */
static void end_run_or_unraisable(LoopObject *loop, PyObject *self)
{
    if (PyLoop_IsFatalToRun() && is_pyloop(loop))
        PyLoopLoop_EndRun(loop);
    else
        PyErr_WriteUnraisable(self);
}

PyObject *PyLoopTransport_OSError(int error)
{
    errno = error;
    PyErr_SetFromErrno(PyExc_OSError);
    return PyLoop_FetchException();
}

void PyLoopTransport_ReportAsCallback(PyObject *self, LoopObject *loop, PyObject *callback)
{
    PyObject *method = NULL, *args = NULL, *context = NULL;
    HandleObject *handle = NULL;
    PyObject *exception;

    if (PyLoop_IsFatalToRun() || !loop) {
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

/* logger.debug("%r: %s", self, message, exc_info=exception). */
static PyObject *log_debug_exception(PyObject *self, PyObject *exception, const char *message)
{
    PyObject *keywords = Py_BuildValue("{sO}", "exc_info", exception);
    PyObject *arguments = Py_BuildValue("(sOs)", "%r: %s", self, message);
    PyObject *debug = PyObject_GetAttr(PyLoop_asyncio.logger, PyLoop_str.debug);
    PyObject *result = keywords && arguments && debug ? PyObject_Call(debug, arguments, keywords) : NULL;

    Py_XDECREF(keywords);
    Py_XDECREF(arguments);
    Py_XDECREF(debug);
    return result;
}

void PyLoopTransport_ReportFatal(LoopObject *loop, PyObject *self, PyObject *protocol, PyObject *exception,
                                 const char *message, int log_only)
{
    PyObject *result = NULL;

    if (log_only) {
        int debug = PyLoopTransport_LoopDebug(loop);
        result = debug > 0 ? log_debug_exception(self, exception, message)
                 : debug == 0 ? (Py_INCREF(Py_None), Py_None) : NULL;
    } else {
        PyObject *context = Py_BuildValue("{sssOsOsO}", "message", message, "exception", exception, "transport", self,
                                          "protocol", protocol ? protocol : Py_None);
        result = context ? PyObject_CallMethodObjArgs((PyObject *)loop, PyLoop_str.call_exception_handler, context,
                                                      NULL)
                         : NULL;
        Py_XDECREF(context);
    }
    if (!result)
        end_run_or_unraisable(loop, self);
    Py_XDECREF(result);
}

void PyLoopTransport_CallProtocolFlow(LoopObject *loop, PyObject *self, PyObject *protocol, PyObject *name,
                                      const char *failure)
{
    PyObject *result = PyObject_CallMethodObjArgs(protocol, name, NULL);

    if (!result) {
        PyObject *exception, *context, *handled;
        if (PyLoop_IsFatalToRun()) {
            end_run_or_unraisable(loop, self);
            return;
        }
        exception = PyLoop_FetchException();
        context = Py_BuildValue("{sssOsOsO}", "message", failure, "exception", exception, "transport", self,
                                "protocol", protocol);
        handled = context ? PyObject_CallMethodObjArgs((PyObject *)loop, PyLoop_str.call_exception_handler, context,
                                                       NULL)
                          : NULL;
        if (!handled)
            PyErr_WriteUnraisable(self);
        Py_XDECREF(handled);
        Py_XDECREF(context);
        Py_XDECREF(exception);
    }
    Py_XDECREF(result);
}

/* ---- closing (asyncio's _SelectorTransport) ---- */

int PyLoopTransport_ScheduleConnectionLost(PyLoopTransport *t, PyObject *exception)
{
    return PyLoopTransport_CallSoonOwn(t, PyLoop_str._call_connection_lost, exception ? exception : Py_None);
}

int PyLoopTransport_ScheduleConnected(PyLoopTransport *t, PyObject *waiter, int add_reader)
{
    PyObject *method = PyObject_GetAttr(t->protocol, PyLoop_str.connection_made);
    int rc = method ? PyLoopTransport_CallSoonIn(t, method, PyLoopTransport_Object(t), NULL) : -1;

    Py_XDECREF(method);
    if (rc == 0 && add_reader)
        rc = PyLoopTransport_CallSoonOwn(t, PyLoop_str._add_reader_after_connect, NULL);
    if (rc == 0 && waiter != Py_None)
        rc = PyLoopTransport_CallSoonIn(t, PyLoop_asyncio.set_result_unless_cancelled, waiter, Py_None);
    return rc;
}

/* sock.<name>(), or None when it raises OSError. */
static PyObject *socket_name(PyObject *sock, PyObject *name)
{
    PyObject *value = PyObject_CallMethodNoArgs(sock, name);

    if (!value && PyErr_ExceptionMatches(PyExc_OSError)) {
        PyErr_Clear();
        Py_RETURN_NONE;
    }
    return value;
}

int PyLoopTransport_FillSocketExtra(PyObject *extra, PyObject *sock)
{
    PyObject *value = PyObject_CallOneArg(PyLoop_asyncio.transport_socket, sock);
    int rc, has_peername;

    if (!value)
        return -1;
    rc = PyObject_SetItem(extra, PyLoop_str.socket, value);
    Py_DECREF(value);
    if (rc < 0 || !(value = socket_name(sock, PyLoop_str.getsockname)))
        return -1;
    rc = PyObject_SetItem(extra, PyLoop_str.sockname, value);
    Py_DECREF(value);
    if (rc < 0 || (has_peername = PySequence_Contains(extra, PyLoop_str.peername)) < 0)
        return -1;
    if (has_peername)
        return 0;
    if (!(value = socket_name(sock, PyLoop_str.getpeername)))
        return -1;
    rc = PyObject_SetItem(extra, PyLoop_str.peername, value);
    Py_DECREF(value);
    return rc;
}

/* Without a loop (connection_lost ran with _conn_lost 0, or never
 * initialised), asyncio's method reaches self._loop.call_soon on None. */
static int no_loop(void)
{
    PyErr_SetString(PyExc_AttributeError, "'NoneType' object has no attribute 'call_soon'");
    return -1;
}

int PyLoopTransport_ForceClose(PyLoopTransport *t, PyObject *exception)
{
    if (t->conn_lost)
        return 0;
    if (!t->loop) {
        /* _force_close once _call_connection_lost forgot the loop (after a
         * drain, with _conn_lost 0): asyncio counts _conn_lost before its
         * self._loop.call_soon raises, so the writes that follow are
         * counted, dropped and logged past the threshold, not reported.
         * What connection_lost wrote and the kernel refused is cleared
         * first, then self._loop._remove_writer raises, uncounted. */
        if (t->ops->has_buffer && t->ops->has_buffer(t)) {
            if (t->ops->drop_buffer)
                t->ops->drop_buffer(t);
            PyErr_SetString(PyExc_AttributeError, "'NoneType' object has no attribute '_remove_writer'");
            return -1;
        }
        if (!t->closing) {
            t->closing = 1;
            PyErr_SetString(PyExc_AttributeError, "'NoneType' object has no attribute '_remove_reader'");
            return -1;
        }
        t->conn_lost++;
        return no_loop();
    }
    if (t->ops->drop_buffer)
        t->ops->drop_buffer(t);
    if (!t->closing) {
        t->closing = 1;
        if (t->ops->stop_reading)
            t->ops->stop_reading(t);
    }
    t->conn_lost++;
    return PyLoopTransport_ScheduleConnectionLost(t, exception);
}

int PyLoopTransport_Close(PyLoopTransport *t)
{
    if (t->closing)
        return 0;
    if (!t->loop)
        return no_loop();
    t->closing = 1;
    if (t->ops->stop_reading)
        t->ops->stop_reading(t);
    if (t->ops->has_buffer && t->ops->has_buffer(t))
        return 0; /* connection_lost comes once the buffer is sent */
    t->conn_lost++;
    if (t->ops->stop_writing)
        t->ops->stop_writing(t);
    return PyLoopTransport_ScheduleConnectionLost(t, NULL);
}

/* ---- reading ---- */

/* Negative: what the read call raises for it. */
static int negative_size(const char *call)
{
    char message[64];

    if (!call) {
        errno = EINVAL; /* os.read(fd, -1) */
        PyErr_SetFromErrno(PyExc_OSError);
        return -1;
    }
    PyOS_snprintf(message, sizeof(message), "negative buffersize in %s", call);
    PyErr_SetString(PyExc_ValueError, message);
    return -1;
}

int PyLoopTransport_ReadSize(PyObject *self, PyObject *dict, PyTypeObject *own_type, PyObject *name,
                             const char *call, Py_ssize_t *size)
{
    PyObject *value, *index;

    if (!dict || !PyDict_GetItemWithError(dict, name)) {
        if (PyErr_Occurred())
            return -1;
        if (Py_TYPE(self) == own_type) {
            *size = PYLOOP_MAX_SIZE_DEFAULT;
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
    return *size < 0 ? negative_size(call) : 0;
}

/* Reads for data_received land here and are copied into a bytes object of
 * the size read, as uvloop does. A fresh bytes object of max_size per read
 * (asyncio's recv(max_size)) is a 256 KiB allocation: in a process whose
 * allocator has not yet raised its mmap threshold, mmap, mremap and munmap
 * on every read (an echo server's system calls per round trip went from 6
 * to 3 with the buffer). One buffer serves every transport of the process
 * (socket, pipes, datagram): it is filled and copied out with the GIL held
 * and no Python code in between. */
static char shared_read_buffer[PYLOOP_MAX_SIZE_DEFAULT];

char *PyLoopTransport_SharedReadBuffer(size_t *size)
{
    *size = sizeof shared_read_buffer;
    return shared_read_buffer;
}

/* OSError(error) raised; -1. */
static int raise_errno(int error)
{
    errno = error;
    PyErr_SetFromErrno(PyExc_OSError);
    return -1;
}

static int is_reading(PyLoopTransport *t) { return !t->closing && !t->paused; }

int PyLoopTransport_StartReading(PyLoopTransport *t)
{
    int rc;

    if (!is_reading(t) || !t->loop)
        return 0;
    rc = pyloop_stream_read_start(&((PyLoopStreamTransport *)t)->stream);
    return rc < 0 ? raise_errno(-rc) : 0;
}

int PyLoopTransport_StreamInit(PyLoopTransport *t, LoopObject *loop, const pyloop_stream_callbacks *callbacks,
                               PyObject *self)
{
    PyLoopStreamTransport *stream_transport = (PyLoopStreamTransport *)t;
    int rc = pyloop_stream_init(&stream_transport->stream, loop->core, stream_transport->fd, callbacks, self);

    return rc < 0 ? raise_errno(-rc) : 0;
}

void PyLoopTransport_StopReading(PyLoopTransport *t) { pyloop_stream_read_stop(&((PyLoopStreamTransport *)t)->stream); }

PyObject *PyLoopTransport_IsReading(PyObject *self, PyObject *Py_UNUSED(unused))
{
    PyLoopTransport *t = of_self(self);
    return t ? PyBool_FromLong(is_reading(t)) : NULL;
}

PyObject *PyLoopTransport_PauseReading(PyObject *self, PyObject *Py_UNUSED(unused))
{
    PyLoopTransport *t = of_self(self);

    if (!t)
        return NULL;
    if (!is_reading(t))
        Py_RETURN_NONE;
    t->paused = 1;
    PyLoopTransport_StopReading(t);
    PyLoopTransport_DebugLog(t, "%r pauses reading");
    Py_RETURN_NONE;
}

PyObject *PyLoopTransport_ResumeReading(PyObject *self, PyObject *Py_UNUSED(unused))
{
    PyLoopTransport *t = of_self(self);

    if (!t)
        return NULL;
    if (t->closing || !t->paused)
        Py_RETURN_NONE;
    t->paused = 0;
    if (PyLoopTransport_StartReading(t) < 0)
        return NULL;
    PyLoopTransport_DebugLog(t, "%r resumes reading");
    Py_RETURN_NONE;
}

/* ---- writing ---- */

void PyLoopTransport_ReleaseOwner(void *owner) { Py_DECREF((PyObject *)owner); }

PyObject *PyLoopTransport_ImmutableBytes(PyObject *data)
{
    if (PyBytes_CheckExact(data)) {
        Py_INCREF(data);
        return data;
    }
    return PyBytes_FromObject(data);
}

/* high and low, defaulted as asyncio's _set_write_buffer_limits: new
 * references, or -1. */
static int default_limits(PyObject **high, PyObject **low)
{
    PyObject *four = PyLong_FromLong(4);

    if (!four)
        return -1;
    if (*high == Py_None)
        *high = *low == Py_None ? PyLong_FromLong(64 * 1024) : PyNumber_Multiply(four, *low);
    else
        Py_INCREF(*high);
    if (*high && *low == Py_None)
        *low = PyNumber_FloorDivide(*high, four);
    else if (*high)
        Py_INCREF(*low);
    Py_DECREF(four);
    if (*high && *low)
        return 0;
    Py_CLEAR(*high);
    return -1;
}

int PyLoopTransport_StoreWriteLimits(PyLoopTransport *t, PyObject *high, PyObject *low)
{
    PyObject *zero = NULL;
    int high_ge_low, low_ge_zero = 0, rc = -1;

    if (default_limits(&high, &low) < 0)
        return -1;
    /* `not high >= low >= 0`, evaluated as Python chains it */
    high_ge_low = PyObject_RichCompareBool(high, low, Py_GE);
    if (high_ge_low > 0) {
        zero = PyLong_FromLong(0);
        low_ge_zero = zero ? PyObject_RichCompareBool(low, zero, Py_GE) : -1;
    }
    if (high_ge_low < 0 || low_ge_zero < 0)
        goto done;
    if (!high_ge_low || !low_ge_zero) {
        PyErr_Format(PyExc_ValueError, "high (%R) must be >= low (%R) must be >= 0", high, low);
        goto done;
    }
    Py_INCREF(high);
    Py_XSETREF(t->high_water, high);
    Py_INCREF(low);
    Py_XSETREF(t->low_water, low);
    rc = 0;
done:
    Py_DECREF(high);
    Py_DECREF(low);
    Py_XDECREF(zero);
    return rc;
}

size_t PyLoopTransport_LimitAsSize(PyObject *limit)
{
    PyObject *number = PyNumber_Index(limit);
    size_t size = SIZE_MAX;
    double value;

    if (number) {
        size = PyLong_AsSize_t(number);
        Py_DECREF(number);
        if (size == (size_t)-1 && PyErr_Occurred())
            size = SIZE_MAX; /* past size_t: no size is above it */
    } else {
        PyErr_Clear();
        value = PyFloat_AsDouble(limit);
        if (value == -1.0 && PyErr_Occurred())
            value = HUGE_VAL; /* compared some other way: never reached */
        if (value < (double)SIZE_MAX)
            size = value > 0 ? (size_t)floor(value) : 0;
    }
    PyErr_Clear();
    return size;
}

int PyLoopTransport_StreamLimitsSet(PyLoopTransport *t, PyObject *Py_UNUSED(self))
{
    pyloop_stream *stream = &((PyLoopStreamTransport *)t)->stream;

    pyloop_stream_set_write_limits(stream, PyLoopTransport_LimitAsSize(t->high_water),
                                   PyLoopTransport_LimitAsSize(t->low_water));
    return PyErr_Occurred() ? -1 : 0;
}

static const PyLoopParams limits_params = {"_FlowControlMixin.set_write_buffer_limits", {"high", "low"}, 0, 2};

PyObject *PyLoopTransport_SetWriteBufferLimits(PyObject *self, PyObject *const *args, Py_ssize_t nargs,
                                               PyObject *kwnames)
{
    PyLoopTransport *t = of_self(self);
    PyObject *bound[PYLOOP_MAX_PARAMS];

    if (!t || PyLoopArgs_Bind(&limits_params, args, nargs, kwnames, bound) < 0)
        return NULL;
    if (PyLoopTransport_StoreWriteLimits(t, bound[0] ? bound[0] : Py_None, bound[1] ? bound[1] : Py_None) < 0)
        return NULL;
    return t->ops->limits_set && t->ops->limits_set(t, self) < 0 ? NULL : Py_NewRef(Py_None);
}

/* A limit as asyncio stored it; before any was set, the stream's default
 * (an int), or None for a transport without a stream. */
static PyObject *limit_object(PyLoopTransport *t, int high)
{
    size_t high_size, low_size;

    if (t->high_water)
        return PyLoop_NewRefOrNone(high ? t->high_water : t->low_water);
    if (!t->ops->stream)
        Py_RETURN_NONE;
    pyloop_stream_get_write_limits(&((PyLoopStreamTransport *)t)->stream, &high_size, &low_size);
    return PyLong_FromSize_t(high ? high_size : low_size);
}

PyObject *PyLoopTransport_GetWriteBufferLimits(PyObject *self, PyObject *Py_UNUSED(unused))
{
    PyLoopTransport *t = of_self(self);
    PyObject *low = t ? limit_object(t, 0) : NULL, *high = low ? limit_object(t, 1) : NULL;

    if (!high) {
        Py_XDECREF(low);
        return NULL;
    }
    return Py_BuildValue("(NN)", low, high);
}

HEAD_GETTER(PyLoopTransport_GetHighWater, limit_object(t, 1))
HEAD_GETTER(PyLoopTransport_GetLowWater, limit_object(t, 0))

/* ---- contexts and the stream callbacks socket and pipe share ---- */

void PyLoopTransport_OnHold(pyloop_stream *stream) { Py_INCREF((PyObject *)stream->context); }
void PyLoopTransport_OnRelease(pyloop_stream *stream) { Py_DECREF((PyObject *)stream->context); }

/* The stream's transport: stream->context, the object (a stream head's). */
static PyLoopStreamTransport *stream_transport(pyloop_stream *stream)
{
    return (PyLoopStreamTransport *)PyLoopTransport_Of(stream->context);
}

void PyLoopTransport_OnWatch(pyloop_stream *stream, int writing)
{
    PyLoopContexts *contexts = &stream_transport(stream)->contexts;
    PyObject *context = contexts->given;

    if (context)
        Py_INCREF(context);
    else if (!(context = PyContext_CopyCurrent())) {
        PyErr_WriteUnraisable(stream->context); /* no memory: the last one stays */
        return;
    }
    if (writing)
        Py_XSETREF(contexts->writer, context);
    else
        Py_XSETREF(contexts->reader, context);
}

void *PyLoopTransport_OnTaskEnter(pyloop_stream *stream, int writing)
{
    PyLoopContexts *contexts = &stream_transport(stream)->contexts;
    PyObject *context = writing ? contexts->writer : contexts->reader;

    if (!context)
        return NULL;
    /* Owned while entered: the task's callbacks may replace the field. */
    Py_INCREF(context);
    if (PyContext_Enter(context) < 0) {
        PyErr_WriteUnraisable(stream->context);
        Py_DECREF(context);
        return NULL;
    }
    return context;
}

void PyLoopTransport_OnTaskExit(pyloop_stream *stream, void *entered)
{
    if (!entered)
        return;
    if (PyContext_Exit((PyObject *)entered) < 0)
        PyErr_WriteUnraisable(stream->context);
    Py_DECREF((PyObject *)entered);
}

/* ---- GC ---- */

int PyLoopTransport_Traverse(PyObject *self, visitproc visit, void *arg)
{
    PyLoopTransport *t = PyLoopTransport_Of(self);

    Py_VISIT(Py_TYPE(self));
    Py_VISIT(t->loop);
    Py_VISIT(t->sock);
    Py_VISIT(t->protocol);
    Py_VISIT(t->extra);
    Py_VISIT(t->dict);
    Py_VISIT(t->high_water);
    Py_VISIT(t->low_water);
    if (t->ops->stream) {
        PyLoopContexts *contexts = &((PyLoopStreamTransport *)t)->contexts;
        Py_VISIT(contexts->given);
        Py_VISIT(contexts->reader);
        Py_VISIT(contexts->writer);
        Py_VISIT(contexts->deferred);
    }
    return t->ops->traverse ? t->ops->traverse(t, visit, arg) : 0;
}

int PyLoopTransport_Clear(PyObject *self)
{
    PyLoopTransport *t = PyLoopTransport_Of(self);

    Py_CLEAR(t->protocol);
    Py_CLEAR(t->extra);
    Py_CLEAR(t->dict);
    Py_CLEAR(t->high_water);
    Py_CLEAR(t->low_water);
    if (t->ops->stream) {
        PyLoopContexts *contexts = &((PyLoopStreamTransport *)t)->contexts;
        Py_CLEAR(contexts->given);
        Py_CLEAR(contexts->reader);
        Py_CLEAR(contexts->writer);
        Py_CLEAR(contexts->deferred);
    }
    if (t->ops->clear)
        t->ops->clear(t);
    return 0;
}

void PyLoopTransport_Finalize(PyObject *self)
{
    PyLoopTransport *t = PyLoopTransport_Of(self);
    PyObject *error = PyLoop_FetchException();

    if (t->sock) {
        if (PyErr_ResourceWarning(self, 1, "unclosed transport %R", self) < 0)
            PyErr_WriteUnraisable(self);
        if (t->ops->close_resource)
            t->ops->close_resource(t, self);
    }
    if (error)
        PyLoop_RestoreException(error);
}

void PyLoopTransport_Dealloc(PyObject *self)
{
    PyTypeObject *type = Py_TYPE(self);
    PyLoopTransport *t = PyLoopTransport_Of(self);

    if (PyObject_CallFinalizerFromDealloc(self) < 0)
        return; /* resurrected */
    PyObject_GC_UnTrack(self);
    if (t->weakreflist)
        PyObject_ClearWeakRefs(self);
    if (t->ops->stream) {
        pyloop_stream_close(&((PyLoopStreamTransport *)t)->stream);
        Py_CLEAR(((PyLoopStreamTransport *)t)->read_bytes);
    }
    PyLoopTransport_Clear(self);
    if (t->ops->free)
        t->ops->free(t);
    Py_CLEAR(t->sock);
    Py_CLEAR(t->loop);
    type->tp_free(self);
    Py_DECREF(type);
}

/* ---- what every transport has ---- */

HEAD_GETTER(PyLoopTransport_GetLoop, PyLoop_NewRefOrNone((PyObject *)t->loop))
HEAD_GETTER(PyLoopTransport_GetProtocolAttr, PyLoop_NewRefOrNone(t->protocol))
HEAD_GETTER(PyLoopTransport_GetExtra, PyLoop_NewRefOrNone(t->extra))
HEAD_GETTER(PyLoopTransport_GetClosing, PyBool_FromLong(t->closing))
HEAD_GETTER(PyLoopTransport_GetConnLost, PyLong_FromSsize_t(t->conn_lost))

PyObject *PyLoopTransport_IsClosing(PyObject *self, PyObject *Py_UNUSED(unused)) { return PyLoopTransport_GetClosing(self, NULL); }
PyObject *PyLoopTransport_GetProtocol(PyObject *self, PyObject *Py_UNUSED(unused)) { return PyLoopTransport_GetProtocolAttr(self, NULL); }

PyObject *PyLoopTransport_SetProtocol(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    PyLoopTransport *t = of_self(self);
    PyLoopParams params = {NULL, {"protocol"}, 1, 1};
    PyObject *bound[PYLOOP_MAX_PARAMS];

    if (!t)
        return NULL;
    params.qualname = t->ops->set_protocol_qualname;
    if (PyLoopArgs_Bind(&params, args, nargs, kwnames, bound) < 0)
        return NULL;
    if (t->ops->protocol_set && t->ops->protocol_set(t, bound[0]) < 0)
        return NULL;
    Py_INCREF(bound[0]);
    Py_XSETREF(t->protocol, bound[0]);
    Py_RETURN_NONE;
}

/* BaseTransport.get_extra_info: self._extra.get(name, default). */
static PyObject *extra_get(PyObject *extra, PyObject *name, PyObject *fallback)
{
    PyObject *value;

    if (extra && !PyDict_Check(extra))
        return PyObject_CallMethodObjArgs(extra, PyLoop_str.get, name, fallback, NULL);
    value = extra ? PyDict_GetItemWithError(extra, name) : NULL;
    if (!value && PyErr_Occurred())
        return NULL;
    return PyLoop_NewRefOrNone(value ? value : fallback);
}

static const PyLoopParams extra_params = {"BaseTransport.get_extra_info", {"name", "default"}, 1, 2};

PyObject *PyLoopTransport_GetExtraInfoMethod(PyObject *self, PyObject *const *args, Py_ssize_t nargs,
                                             PyObject *kwnames)
{
    PyLoopTransport *t = of_self(self);
    PyObject *bound[PYLOOP_MAX_PARAMS];

    if (!t || PyLoopArgs_Bind(&extra_params, args, nargs, kwnames, bound) < 0)
        return NULL;
    return extra_get(t->extra, bound[0], bound[1] ? bound[1] : Py_None);
}

/*
 * DatagramTransport: asyncio's _SelectorDatagramTransport in C, for UDP and
 * Unix datagram sockets, with the behaviour, error types and messages of
 * the running interpreter's class (3.10-3.15): what differs between
 * versions (empty datagrams, the 8 header bytes counted per queued
 * datagram, the DatagramTransport base class) is probed from that asyncio
 * when the module loads, so patch releases that changed it are followed.
 *
 * It reads and writes through the loop's ordinary watchers, as asyncio's
 * does (loop._add_reader(fd, self._read_ready), loop._add_writer(fd,
 * self._sendto_ready) once the kernel refuses a datagram), so
 * remove_reader(), the collector and loop.close() see what they see with
 * asyncio. _read_ready and sendto make the system calls in C
 * (datagram_socket.h says when); sendto queues an immutable copy on EAGAIN,
 * with asyncio's flow-control thresholds.
 *
 * On the transport base (transport_base.h). What stays here, and why: see
 * DatagramData, force_close and fatal_error.
 */
#include "transport_base.h"
#include "datagram_socket.h"

#include <string.h>
#include <sys/socket.h>

/* One queued datagram: an immutable bytes object and its address. */
typedef struct Datagram {
    PyObject *data;
    PyObject *addr;
} Datagram;

/* The transport head, not a stream head: reads and writes go through the
 * loop's Python-level watchers. `loop` is whatever loop the constructor
 * was given, as asyncio takes it: reached only through Python calls
 * (loop.call_soon, loop.get_debug() ...), never through LoopObject's C
 * fields, so none of the base's functions that read them (DebugLog,
 * ReportFatal ...) is called here; nor self._force_close, self._fatal_error:
 * through the instance, so subclasses and patches are honoured and what
 * they raise propagates, as in asyncio. */
typedef struct DatagramData {
    PYLOOP_TRANSPORT_HEAD
    PyObject *sock_fd; /* what sock.fileno() returned */
    PyObject *address; /* the connected address (remote_addr), or NULL */
    Datagram *queue;   /* a ring: `count` datagrams from `head` */
    size_t head, count, capacity;
    Py_ssize_t buffer_size;  /* asyncio's _buffer_size (3.11+) */
    Py_ssize_t queued_bytes; /* the queued datagrams' total length */
    int family;              /* the socket's; 0: use the socket's methods for everything */
    char protocol_paused;
} DatagramData;

/* What the running interpreter's asyncio does, probed at load time. */
typedef struct Probed {
    int sends_empty;       /* 3.13: sendto(b'') sends an empty datagram */
    int tracked_size;      /* 3.11+: get_write_buffer_size() is _buffer_size */
    Py_ssize_t header_add; /* counted per datagram queued by sendto() */
    Py_ssize_t header_sub; /* ... and uncounted by _sendto_ready() */
    int datagram_base;     /* 3.12+: subclasses transports.DatagramTransport */
} Probed;

/* What this file alone uses; the names and the asyncio objects others use
 * too are PyLoop_str and PyLoop_asyncio (names.h). */
static struct {
    Probed probed;
    PyObject *datagram_base;       /* asyncio.transports.DatagramTransport */
    PyObject *test_selector_event; /* asyncio.selector_events._test_selector_event */
    PyObject *deque;
    PyObject *socket_type; /* socket.socket */
    PyObject *max_size_default;
    PyObject *event_read, *event_write; /* selectors.EVENT_READ, EVENT_WRITE */
} D;

PyTypeObject *PyLoop_DatagramTransportType;

static PyLoopTransportOps dg_ops;

/* The methods asyncio defines in Python with parameters bind their
 * arguments as asyncio's do, named as CPython names them in a TypeError:
 * the class that defines each (the same on 3.10-3.13). */
#define METHOD_PARAMS(qualname, required, total, ...) {qualname, {__VA_ARGS__}, required, total}
static const PyLoopParams sendto_params = METHOD_PARAMS("_SelectorDatagramTransport.sendto", 1, 2, "data", "addr");
static const PyLoopParams get_extra_info_params =
    METHOD_PARAMS("BaseTransport.get_extra_info", 1, 2, "name", "default");
static const PyLoopParams set_limits_only_params =
    METHOD_PARAMS("_FlowControlMixin._set_write_buffer_limits", 0, 2, "high", "low");
static const PyLoopParams fatal_error_params =
    METHOD_PARAMS("_SelectorTransport._fatal_error", 1, 2, "exc", "message");
static const PyLoopParams force_close_params = METHOD_PARAMS("_SelectorTransport._force_close", 1, 1, "exc");
static const PyLoopParams call_connection_lost_params =
    METHOD_PARAMS("_SelectorTransport._call_connection_lost", 1, 1, "exc");
#undef METHOD_PARAMS

PYLOOP_TRANSPORT_ACCESSORS(DatagramData, dg_ops)

/* asyncio reads self._sock, self._loop, self._protocol: once they are None,
 * a method called on them raises AttributeError about NoneType, here too. */
static inline PyObject *or_none(PyObject *object) { return object ? object : Py_None; }

/* self._loop, any object (see DatagramData), or None. */
static inline PyObject *loop_of(DatagramData *t) { return or_none((PyObject *)t->loop); }

/* Calls a method for its effect; 0 or -1. */
static int call_method_void(PyObject *target, PyObject *name, PyObject *first, PyObject *second)
{
    PyObject *result = PyLoop_CallMethod(target, name, first, second);
    Py_XDECREF(result);
    return result ? 0 : -1;
}

/* self.NAME(args...) through the instance, so a patched attribute is used
 * where asyncio's code would use it. */
static PyObject *call_own_method(DatagramData *t, PyObject *name, PyObject *first, PyObject *second)
{
    PyObject *method = PyObject_GetAttr(object_of(t), name), *result;

    if (!method)
        return NULL;
    {
        PyObject *args[2] = {first, second};
        result = PyObject_Vectorcall(method, args, first ? (second ? 2 : 1) : 0, NULL);
    }
    Py_DECREF(method);
    return result;
}

/* loop.get_debug() */
static int loop_debug(DatagramData *t)
{
    PyObject *debug = PyLoop_CallMethod(loop_of(t), PyLoop_str.get_debug, NULL, NULL);
    int truth;

    if (!debug)
        return -1;
    truth = PyObject_IsTrue(debug);
    Py_DECREF(debug);
    return truth;
}

/* ---- the queue ---- */

static int queue_grow(DatagramData *t)
{
    size_t capacity = t->capacity ? t->capacity * 2 : 8, i;
    Datagram *queue = PyMem_New(Datagram, capacity);

    if (!queue) {
        PyErr_NoMemory();
        return -1;
    }
    for (i = 0; i < t->count; i++)
        queue[i] = t->queue[(t->head + i) % t->capacity];
    PyMem_Free(t->queue);
    t->queue = queue;
    t->head = 0;
    t->capacity = capacity;
    return 0;
}

/* Takes the references. */
static int queue_push_back(DatagramData *t, PyObject *data, PyObject *addr)
{
    if (t->count == t->capacity && queue_grow(t) < 0)
        return -1;
    t->queue[(t->head + t->count) % t->capacity] = (Datagram){data, addr};
    t->count++;
    t->queued_bytes += PyBytes_GET_SIZE(data);
    return 0;
}

static int queue_push_front(DatagramData *t, PyObject *data, PyObject *addr)
{
    if (t->count == t->capacity && queue_grow(t) < 0)
        return -1;
    t->head = (t->head + t->capacity - 1) % t->capacity;
    t->queue[t->head] = (Datagram){data, addr};
    t->count++;
    t->queued_bytes += PyBytes_GET_SIZE(data);
    return 0;
}

/* Hands over the references. */
static Datagram queue_pop_front(DatagramData *t)
{
    Datagram datagram = t->queue[t->head];
    t->head = (t->head + 1) % t->capacity;
    t->count--;
    t->queued_bytes -= PyBytes_GET_SIZE(datagram.data);
    return datagram;
}

/* buffer.clear(): the queue is detached first, since dropping an address
 * may run Python code that queues again. */
static void queue_clear(DatagramData *t)
{
    Datagram *queue = t->queue;
    size_t head = t->head, count = t->count, capacity = t->capacity, i;

    t->queue = NULL;
    t->head = t->count = t->capacity = 0;
    t->queued_bytes = 0;
    for (i = 0; i < count; i++) {
        Datagram *datagram = &queue[(head + i) % capacity];
        Py_DECREF(datagram->data);
        Py_DECREF(datagram->addr);
    }
    PyMem_Free(queue);
}

static Py_ssize_t write_buffer_size(DatagramData *t) { return D.probed.tracked_size ? t->buffer_size : t->queued_bytes; }

/* ---- flow control (_FlowControlMixin) ---- */

/* size <= limit, for any limit asyncio would accept (an int, a float...).
 * No limit (__init__ never ran) compares as None: TypeError. */
static int size_at_most(Py_ssize_t size, PyObject *limit)
{
    PyObject *number;
    int result;

    limit = or_none(limit);
    if (PyLong_CheckExact(limit)) {
        int overflow;
        long long value = PyLong_AsLongLongAndOverflow(limit, &overflow);
        if (overflow)
            return overflow > 0;
        if (!(value == -1 && PyErr_Occurred()))
            return (long long)size <= value;
        PyErr_Clear();
    }
    number = PyLong_FromSsize_t(size);
    if (!number)
        return -1;
    result = PyObject_RichCompareBool(number, limit, Py_LE);
    Py_DECREF(number);
    return result;
}

/* protocol.pause_writing()/resume_writing(): an exception goes to the loop's
 * exception handler, KeyboardInterrupt/SystemExit to the caller (sendto,
 * _sendto_ready), as _FlowControlMixin does; the base's CallProtocolFlow
 * ends a PyLoop run instead, as the stream transports' C callers need. */
static int call_protocol_flow(DatagramData *t, PyObject *name, const char *failure)
{
    PyObject *result = PyLoop_CallMethod(t->protocol, name, NULL, NULL), *exception, *context, *handled;

    if (result) {
        Py_DECREF(result);
        return 0;
    }
    if (PyLoop_IsFatalToRun())
        return -1;
    exception = PyLoop_FetchException();
    context = Py_BuildValue("{sssOsOsO}", "message", failure, "exception", exception, "transport", object_of(t),
                            "protocol", or_none(t->protocol));
    Py_DECREF(exception);
    if (!context)
        return -1;
    handled = PyLoop_CallMethod(loop_of(t), PyLoop_str.call_exception_handler, context, NULL);
    Py_DECREF(context);
    Py_XDECREF(handled);
    return handled ? 0 : -1;
}

static int maybe_pause_protocol(DatagramData *t)
{
    int below = size_at_most(write_buffer_size(t), t->high_water);

    if (below != 0)
        return below < 0 ? -1 : 0;
    if (t->protocol_paused)
        return 0;
    t->protocol_paused = 1;
    return call_protocol_flow(t, PyLoop_str.pause_writing, "protocol.pause_writing() failed");
}

static int maybe_resume_protocol(DatagramData *t)
{
    int below;

    if (!t->protocol_paused)
        return 0;
    below = size_at_most(write_buffer_size(t), t->low_water);
    if (below <= 0)
        return below;
    t->protocol_paused = 0;
    return call_protocol_flow(t, PyLoop_str.resume_writing, "protocol.resume_writing() failed");
}

static PyObject *dg_maybe_pause_protocol(PyObject *self, PyObject *Py_UNUSED(unused))
{
    return maybe_pause_protocol(data_of(self)) < 0 ? NULL : Py_NewRef(Py_None);
}

static PyObject *dg_maybe_resume_protocol(PyObject *self, PyObject *Py_UNUSED(unused))
{
    return maybe_resume_protocol(data_of(self)) < 0 ? NULL : Py_NewRef(Py_None);
}

/* _FlowControlMixin._set_write_buffer_limits(high=None, low=None): the
 * base's, without set_write_buffer_limits's _maybe_pause_protocol. */
static PyObject *dg_set_write_buffer_limits_only(PyObject *self, PyObject *const *args, Py_ssize_t nargs,
                                                 PyObject *kwnames)
{
    PyObject *bound[PYLOOP_MAX_PARAMS];

    if (PyLoopArgs_Bind(&set_limits_only_params, args, nargs, kwnames, bound) < 0
        || PyLoopTransport_StoreWriteLimits(base_of(data_of(self)), bound[0] ? bound[0] : Py_None,
                                            bound[1] ? bound[1] : Py_None) < 0)
        return NULL;
    Py_RETURN_NONE;
}

/* set_write_buffer_limits (the base's), once the limits are stored. */
static int dg_limits_set(PyLoopTransport *t, PyObject *Py_UNUSED(self)) { return maybe_pause_protocol((DatagramData *)t); }

static PyObject *dg_get_write_buffer_size(PyObject *self, PyObject *Py_UNUSED(unused))
{
    return PyLong_FromSsize_t(write_buffer_size(data_of(self)));
}

/* ---- closing and errors (_SelectorTransport) ---- */

/* self._loop._remove_reader(self._sock_fd), or _remove_writer. */
static int remove_watcher(DatagramData *t, PyObject *name) { return call_method_void(loop_of(t), name, or_none(t->sock_fd), NULL); }

/* self._loop.call_soon(self._call_connection_lost, exc): the base's
 * schedule; without a loop (connection_lost ran, or __init__ never did),
 * asyncio's call_soon on None. */
static int schedule_connection_lost(DatagramData *t, PyObject *exception)
{
    if (!t->loop) {
        PyErr_SetString(PyExc_AttributeError, "'NoneType' object has no attribute 'call_soon'");
        return -1;
    }
    return PyLoopTransport_ScheduleConnectionLost(base_of(t), exception);
}

/* asyncio's _SelectorTransport._force_close, and close() below: the base's
 * shape, kept here as the watchers are the loop's Python-level handles,
 * removed by loop._remove_reader/_remove_writer whose errors (a patched or
 * missing loop) propagate as asyncio's do; the base's hooks cannot fail. */
static int force_close(DatagramData *t, PyObject *exception)
{
    if (t->conn_lost)
        return 0;
    if (t->count) {
        queue_clear(t);
        if (remove_watcher(t, PyLoop_str._remove_writer) < 0)
            return -1;
    }
    if (!t->closing) {
        t->closing = 1;
        if (remove_watcher(t, PyLoop_str._remove_reader) < 0)
            return -1;
    }
    t->conn_lost++;
    return schedule_connection_lost(t, exception);
}

/* asyncio's _fatal_error: an OSError is logged in debug mode only, anything
 * else goes to the exception handler; then self._force_close(exc). Not the
 * base's ReportFatal (a C debug flag, the run ended on KeyboardInterrupt):
 * here loop.get_debug() is called and what anything raises propagates. */
static int fatal_error(DatagramData *t, PyObject *exception, PyObject *message)
{
    PyObject *self = object_of(t), *result;
    int rc = -1;

    Py_INCREF(self);
    if (PyObject_TypeCheck(exception, (PyTypeObject *)PyExc_OSError)) {
        int debug = loop_debug(t);
        if (debug < 0)
            goto done;
        if (debug) {
            /* logger.debug("%r: %s", self, message, exc_info=exc) */
            PyObject *method = PyObject_GetAttr(PyLoop_asyncio.logger, PyLoop_str.debug);
            PyObject *format = PyUnicode_FromString("%r: %s");
            PyObject *keywords = PyTuple_Pack(1, PyLoop_str.exc_info);
            PyObject *args[4] = {format, self, message, exception};

            result = method && format && keywords ? PyObject_Vectorcall(method, args, 3, keywords) : NULL;
            Py_XDECREF(method);
            Py_XDECREF(format);
            Py_XDECREF(keywords);
            if (!result)
                goto done;
            Py_DECREF(result);
        }
    } else {
        PyObject *context = Py_BuildValue("{sOsOsOsO}", "message", message, "exception", exception, "transport", self,
                                          "protocol", or_none(t->protocol));
        if (!context)
            goto done;
        result = PyLoop_CallMethod(loop_of(t), PyLoop_str.call_exception_handler, context, NULL);
        Py_DECREF(context);
        if (!result)
            goto done;
        Py_DECREF(result);
    }
    result = call_own_method(t, PyLoop_str._force_close, exception, NULL);
    Py_XDECREF(result);
    rc = result ? 0 : -1;
done:
    Py_DECREF(self);
    return rc;
}

/* self._fatal_error(exc, message), through the instance. */
static int call_fatal_error(DatagramData *t, PyObject *exception, const char *message)
{
    PyObject *text = PyUnicode_FromString(message), *result;

    if (!text)
        return -1;
    result = call_own_method(t, PyLoop_str._fatal_error, exception, text);
    Py_DECREF(text);
    Py_XDECREF(result);
    return result ? 0 : -1;
}

/* The except clauses asyncio puts around a socket call, for the exception
 * raised now: BlockingIOError and InterruptedError are dropped (1); an
 * OSError goes to protocol.error_received(); KeyboardInterrupt and
 * SystemExit stay raised; anything else is self._fatal_error(exc, message).
 * Returns 0, or -1 with an exception raised. */
static int handle_socket_error(DatagramData *t, const char *message)
{
    PyObject *exception, *result;
    int rc;

    if (PyLoop_WouldBlock()) {
        PyErr_Clear();
        return 0;
    }
    if (PyLoop_IsFatalToRun())
        return -1;
    if (PyErr_ExceptionMatches(PyExc_OSError)) {
        exception = PyLoop_FetchException();
        result = PyLoop_CallMethod(t->protocol, PyLoop_str.error_received, exception, NULL);
        Py_DECREF(exception);
        Py_XDECREF(result);
        return result ? 0 : -1;
    }
    exception = PyLoop_FetchException();
    rc = call_fatal_error(t, exception, message);
    Py_DECREF(exception);
    return rc;
}

static PyObject *call_connection_lost(DatagramData *t, PyObject *exception)
{
    PyObject *self = object_of(t), *result = Py_None, *error = NULL, *closed;

    Py_INCREF(self);
    if (t->protocol_connected) {
        result = PyLoop_CallMethod(t->protocol, PyLoop_str.connection_lost, exception, NULL);
        if (!result)
            error = PyLoop_FetchException();
    } else {
        Py_INCREF(result);
    }
    /* finally: */
    closed = PyLoop_CallMethod(t->sock, PyLoop_str.close, NULL, NULL);
    if (!closed) {
        /* what the finally clause raised replaces the try's exception */
        if (error) {
            PyObject *raised = PyLoop_FetchException();
            PyException_SetContext(raised, error);
            PyLoop_RestoreException(raised);
        }
        Py_XDECREF(result);
        Py_DECREF(self);
        return NULL;
    }
    Py_DECREF(closed);
    Py_CLEAR(t->sock);
    Py_CLEAR(t->protocol);
    Py_CLEAR(t->loop);
    if (error)
        PyLoop_RestoreException(error);
    Py_DECREF(self);
    return result;
}

/* ---- the system calls ---- */

/* self.max_size: the class's 256 KiB unless an instance or a subclass
 * says otherwise. A new reference, or NULL raised. */
static PyObject *max_size_of(DatagramData *t)
{
    PyObject *size;

    if (t->dict) {
        size = PyDict_GetItemWithError(t->dict, PyLoop_str.max_size);
        if (size || PyErr_Occurred())
            return Py_XNewRef(size);
    }
    if (Py_TYPE(object_of(t)) == PyLoop_DatagramTransportType) {
        size = PyDict_GetItemWithError(PyLoop_DatagramTransportType->tp_dict, PyLoop_str.max_size);
        if (size || PyErr_Occurred())
            return Py_XNewRef(size);
    }
    return PyObject_GetAttr(object_of(t), PyLoop_str.max_size);
}

/* One datagram: 1 with data and addr, 0 when none is waiting (EAGAIN, as
 * asyncio ignores BlockingIOError), -1 with what recvfrom raised. The
 * system call is made here for the default max_size on a plain socket of
 * a known family, the socket's recvfrom() called otherwise. */
static int receive(DatagramData *t, PyObject **data, PyObject **addr)
{
    PyObject *size = max_size_of(t);
    int overflow = 0, rc;

    if (!size)
        return -1;
    if (!PyLong_CheckExact(size) || PyLong_AsLongAndOverflow(size, &overflow) != PYLOOP_MAX_SIZE_DEFAULT) {
        rc = PyLoopDatagramSocket_ReceiveBy(t->sock, size, data, addr);
        Py_DECREF(size);
        return rc;
    }
    Py_DECREF(size);
    if (!t->family || !t->sock)
        return PyLoopDatagramSocket_ReceiveBy(t->sock, D.max_size_default, data, addr);
    return PyLoopDatagramSocket_ReceiveDirect(t->sock, t->family, data, addr);
}

/* bool(self._extra['peername']): 1, 0, or -1 raised (KeyError...). No
 * extra (__init__ never ran) reads as None, which is not subscriptable. */
static int is_connected(DatagramData *t)
{
    PyObject *peername;
    int truth;

    if (t->extra && PyDict_CheckExact(t->extra)) {
        peername = PyDict_GetItemWithError(t->extra, PyLoop_str.peername);
        if (!peername) {
            if (!PyErr_Occurred())
                PyErr_SetObject(PyExc_KeyError, PyLoop_str.peername);
            return -1;
        }
        return PyObject_IsTrue(peername);
    }
    peername = PyObject_GetItem(or_none(t->extra), PyLoop_str.peername);
    if (!peername)
        return -1;
    truth = PyObject_IsTrue(peername);
    Py_DECREF(peername);
    return truth;
}

/* ---- reading and writing ---- */

static PyObject *dg_read_ready(PyObject *self, PyObject *Py_UNUSED(unused))
{
    DatagramData *t = data_of(self);
    PyObject *data = NULL, *addr = NULL, *protocol, *result;
    int rc;

    if (t->conn_lost)
        Py_RETURN_NONE;
    rc = receive(t, &data, &addr);
    if (rc <= 0) {
        if (rc < 0 && handle_socket_error(t, "Fatal read error on datagram transport") < 0)
            return NULL;
        Py_RETURN_NONE;
    }
    protocol = PyLoop_NewRefOrNone(t->protocol);
    {
        PyObject *args[3] = {protocol, data, addr};
        result =
            PyObject_VectorcallMethod(PyLoop_str.datagram_received, args, 3 | PY_VECTORCALL_ARGUMENTS_OFFSET, NULL);
    }
    Py_DECREF(protocol);
    Py_DECREF(data);
    Py_DECREF(addr);
    if (!result)
        return NULL;
    Py_DECREF(result);
    Py_RETURN_NONE;
}

/* The length asyncio adds to _buffer_size: len(data) of what was given. */
static int given_length(PyObject *data, Py_ssize_t *length)
{
    if (PyBytes_Check(data))
        *length = PyBytes_GET_SIZE(data);
    else if (PyByteArray_Check(data))
        *length = PyByteArray_GET_SIZE(data);
    else if ((*length = PyObject_Length(data)) < 0)
        return -1;
    return 0;
}

/* sendto()'s checks before it sends: the data's type, the empty datagram
 * (3.10-3.12), the connected address and a transport whose connection is
 * lost. 1 to send (*addr: the address to send to, borrowed), 0 when
 * asyncio's sendto returns here, -1 raised. */
static int sendto_checks(DatagramData *t, PyObject *data, PyObject **addr)
{
    int rc, found;

    if (!PyBytes_Check(data) && !PyByteArray_Check(data) && !PyMemoryView_Check(data)) {
        PyErr_Format(PyExc_TypeError, "data argument must be a bytes-like object, not '%.200s'", PyLoop_TypeName(data));
        return -1;
    }
    if (!D.probed.sends_empty && (rc = PyObject_IsTrue(data)) <= 0) /* 3.10-3.12: not sent */
        return rc;
    if (!t->address || (rc = PyObject_IsTrue(t->address)) == 0)
        return 1;
    if (rc < 0)
        return -1;
    /* addr not in (None, self._address) */
    found = PyObject_RichCompareBool(Py_None, *addr, Py_EQ);
    if (found == 0)
        found = PyObject_RichCompareBool(t->address, *addr, Py_EQ);
    if (found <= 0) {
        if (found == 0)
            PyErr_Format(PyExc_ValueError, "Invalid address: must be None or %S", t->address);
        return -1;
    }
    *addr = t->address;
    if (!t->conn_lost)
        return 1;
    if (t->conn_lost >= PyLoop_asyncio.connlost_threshold) {
        PyObject *text = PyUnicode_FromString("socket.send() raised exception.");
        rc = text ? call_method_void(PyLoop_asyncio.logger, PyLoop_str.warning, text, NULL) : -1;
        Py_XDECREF(text);
        if (rc < 0)
            return -1;
    }
    t->conn_lost++;
    return 0;
}

/* "Attempt to send it right away first", with nothing queued: 1 sent or
 * its error handled, 0 the kernel would block (the writer is watched now),
 * -1 raised. */
static int sendto_now(DatagramData *t, PyObject *data, PyObject *addr)
{
    PyObject *method;
    int connected = is_connected(t), rc;

    rc = connected < 0 ? -1 : PyLoopDatagramSocket_Send(t->sock, t->family, data, addr, connected);
    if (rc != 0)
        return rc > 0 || handle_socket_error(t, "Fatal write error on datagram transport") == 0 ? 1 : -1;
    method = PyObject_GetAttr(object_of(t), PyLoop_str._sendto_ready);
    rc = method ? call_method_void(loop_of(t), PyLoop_str._add_writer, or_none(t->sock_fd), method) : -1;
    Py_XDECREF(method);
    return rc;
}

/* Queues an immutable copy of data, counts it, maybe pauses the protocol.
 * Takes the reference to addr. */
static int sendto_queue(DatagramData *t, PyObject *data, PyObject *addr)
{
    PyObject *copy = PyObject_Bytes(data); /* Ensure that what we buffer is immutable. */
    Py_ssize_t length;

    if (!copy || queue_push_back(t, copy, addr) < 0) {
        Py_XDECREF(copy);
        Py_DECREF(addr);
        return -1;
    }
    if (D.probed.tracked_size) {
        if (given_length(data, &length) < 0)
            return -1;
        t->buffer_size += length + D.probed.header_add;
    }
    return maybe_pause_protocol(t);
}

static PyObject *dg_sendto(PyObject *self, PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    DatagramData *t = data_of(self);
    PyObject *bound[PYLOOP_MAX_PARAMS], *data, *addr;
    int rc;

    if (PyLoopArgs_Bind(&sendto_params, args, PyVectorcall_NARGS(nargsf), kwnames, bound) < 0)
        return NULL;
    data = bound[0];
    addr = bound[1] ? bound[1] : Py_None;
    if ((rc = sendto_checks(t, data, &addr)) <= 0)
        return rc < 0 ? NULL : Py_NewRef(Py_None);
    Py_INCREF(addr); /* self._address may be replaced meanwhile */
    if (!t->count && (rc = sendto_now(t, data, addr)) != 0) {
        Py_DECREF(addr);
        return rc < 0 ? NULL : Py_NewRef(Py_None);
    }
    return sendto_queue(t, data, addr) < 0 ? NULL : Py_NewRef(Py_None);
}

static PyObject *dg_sendto_ready(PyObject *self, PyObject *Py_UNUSED(unused))
{
    DatagramData *t = data_of(self);

    Py_INCREF(self);
    while (t->count) {
        Datagram datagram = queue_pop_front(t);
        Py_ssize_t length = PyBytes_GET_SIZE(datagram.data);
        int connected, rc;

        t->buffer_size -= length + D.probed.header_sub;
        connected = is_connected(t);
        rc = connected < 0 ? -1
                           : PyLoopDatagramSocket_Send(t->sock, t->family, datagram.data, datagram.addr, connected);
        if (rc == 0) { /* try again later */
            if (queue_push_front(t, datagram.data, datagram.addr) < 0) {
                Py_DECREF(datagram.data);
                Py_DECREF(datagram.addr);
                goto fail;
            }
            t->buffer_size += length + D.probed.header_sub;
            break;
        }
        Py_DECREF(datagram.data);
        Py_DECREF(datagram.addr);
        if (rc < 0) {
            if (handle_socket_error(t, "Fatal write error on datagram transport") < 0)
                goto fail;
            Py_DECREF(self);
            Py_RETURN_NONE;
        }
    }
    if (maybe_resume_protocol(t) < 0) /* may queue more */
        goto fail;
    if (!t->count) {
        if (remove_watcher(t, PyLoop_str._remove_writer) < 0)
            goto fail;
        if (t->closing) {
            PyObject *result = call_own_method(t, PyLoop_str._call_connection_lost, Py_None, NULL);
            if (!result)
                goto fail;
            Py_DECREF(result);
        }
    }
    Py_DECREF(self);
    Py_RETURN_NONE;
fail:
    Py_DECREF(self);
    return NULL;
}

/* ---- reading state, closing ---- */

static int reading(DatagramData *t)
{
#if PY_VERSION_HEX >= 0x030B0000
    return !t->closing && !t->paused;
#else
    return !t->closing;
#endif
}

/* self._add_reader(fd, callback, *args): loop._add_reader unless closing
 * (3.11+: unless not reading). */
static PyObject *dg_add_reader(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    DatagramData *t = data_of(self);
    PyObject *method, *result;

    if (nargs < 2) {
        PyErr_Format(PyExc_TypeError, "_add_reader() takes at least 2 arguments (%zd given)", nargs);
        return NULL;
    }
    if (!reading(t))
        Py_RETURN_NONE;
    method = PyObject_GetAttr(loop_of(t), PyLoop_str._add_reader); /* bound: holds the loop */
    result = method ? PyObject_Vectorcall(method, args, (size_t)nargs, NULL) : NULL;
    Py_XDECREF(method);
    Py_XDECREF(result);
    return !result ? NULL : Py_NewRef(Py_None);
}

#if PY_VERSION_HEX >= 0x030B0000
static int log_debug(DatagramData *t, const char *message)
{
    int debug = loop_debug(t);
    PyObject *result;

    if (debug <= 0)
        return debug;
    result = PyObject_CallMethod(PyLoop_asyncio.logger, "debug", "sO", message, object_of(t));
    Py_XDECREF(result);
    return result ? 0 : -1;
}

static PyObject *dg_is_reading(PyObject *self, PyObject *Py_UNUSED(unused)) { return PyBool_FromLong(reading(data_of(self))); }

static PyObject *dg_pause_reading(PyObject *self, PyObject *Py_UNUSED(unused))
{
    DatagramData *t = data_of(self);

    if (!reading(t))
        Py_RETURN_NONE;
    t->paused = 1;
    if (remove_watcher(t, PyLoop_str._remove_reader) < 0 || log_debug(t, "%r pauses reading") < 0)
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *dg_resume_reading(PyObject *self, PyObject *Py_UNUSED(unused))
{
    DatagramData *t = data_of(self);
    PyObject *method, *result;

    if (t->closing || !t->paused)
        Py_RETURN_NONE;
    t->paused = 0;
    method = PyObject_GetAttr(self, PyLoop_str._read_ready);
    if (!method)
        return NULL;
    {
        PyObject *args[2] = {or_none(t->sock_fd), method};
        result = dg_add_reader(self, args, 2);
    }
    Py_DECREF(method);
    if (!result)
        return NULL;
    Py_DECREF(result);
    return log_debug(t, "%r resumes reading") < 0 ? NULL : Py_NewRef(Py_None);
}
#endif

/* asyncio's _SelectorTransport.close (see force_close). */
static PyObject *dg_close(PyObject *self, PyObject *Py_UNUSED(unused))
{
    DatagramData *t = data_of(self);

    if (t->closing)
        Py_RETURN_NONE;
    t->closing = 1;
    if (remove_watcher(t, PyLoop_str._remove_reader) < 0)
        return NULL;
    if (!t->count) {
        t->conn_lost++;
        if (remove_watcher(t, PyLoop_str._remove_writer) < 0 || schedule_connection_lost(t, Py_None) < 0)
            return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *dg_abort(PyObject *self, PyObject *Py_UNUSED(unused))
{
    PyObject *result = call_own_method(data_of(self), PyLoop_str._force_close, Py_None, NULL);
    Py_XDECREF(result);
    return !result ? NULL : Py_NewRef(Py_None);
}

static PyObject *dg_force_close(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    PyObject *bound[PYLOOP_MAX_PARAMS];

    if (PyLoopArgs_Bind(&force_close_params, args, nargs, kwnames, bound) < 0
        || force_close(data_of(self), bound[0]) < 0)
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *dg_fatal_error(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    PyObject *bound[PYLOOP_MAX_PARAMS], *message;
    int rc;

    if (PyLoopArgs_Bind(&fatal_error_params, args, nargs, kwnames, bound) < 0)
        return NULL;
    if (bound[1]) {
        rc = fatal_error(data_of(self), bound[0], bound[1]);
    } else {
        message = PyUnicode_FromString("Fatal error on transport");
        rc = message ? fatal_error(data_of(self), bound[0], message) : -1;
        Py_XDECREF(message);
    }
    return rc < 0 ? NULL : Py_NewRef(Py_None);
}

static PyObject *dg_call_connection_lost(PyObject *self, PyObject *const *args, Py_ssize_t nargs,
                                         PyObject *kwnames)
{
    PyObject *bound[PYLOOP_MAX_PARAMS];

    if (PyLoopArgs_Bind(&call_connection_lost_params, args, nargs, kwnames, bound) < 0)
        return NULL;
    return call_connection_lost(data_of(self), bound[0]);
}

/* ---- protocol, extra info, repr ---- */

/* set_protocol (the base's), before the protocol is stored. */
static int dg_protocol_set(PyLoopTransport *t, PyObject *Py_UNUSED(protocol))
{
    t->protocol_connected = 1;
    return 0;
}

/* BaseTransport.get_extra_info, not the base's: a dict subclass's get() is
 * called, and no extra (never initialised) is AttributeError on None. */
static PyObject *dg_get_extra_info(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    DatagramData *t = data_of(self);
    PyObject *bound[PYLOOP_MAX_PARAMS], *name, *fallback, *value;

    if (PyLoopArgs_Bind(&get_extra_info_params, args, nargs, kwnames, bound) < 0)
        return NULL;
    name = bound[0];
    fallback = bound[1] ? bound[1] : Py_None;
    if (t->extra && PyDict_CheckExact(t->extra)) {
        value = PyDict_GetItemWithError(t->extra, name);
        if (!value && PyErr_Occurred())
            return NULL;
        return PyLoop_NewRefOrNone(value ? value : fallback);
    }
    return PyLoop_CallMethod(t->extra, PyLoop_str.get, name, fallback);
}

/* <DatagramTransport fd=7 read=polling write=<idle, bufsize=0>>, as
 * asyncio's _SelectorTransport.__repr__ (which asks the loop's selector). */
static PyObject *dg_repr(PyObject *self)
{
    DatagramData *t = data_of(self);
    PyObject *name = PyObject_GetAttr((PyObject *)Py_TYPE(self), PyLoop_str.dunder_name), *result = NULL, *closed;
    const char *state = !t->sock ? " closed" : t->closing ? " closing" : "";
    int loop_closed = 1;

    if (!name)
        return NULL;
    if (t->loop) {
        closed = PyObject_CallMethodNoArgs(loop_of(t), PyLoop_str.is_closed);
        loop_closed = closed ? PyObject_IsTrue(closed) : -1;
        Py_XDECREF(closed);
        if (loop_closed < 0)
            goto done;
    }
    if (!loop_closed) {
        PyObject *selector = PyObject_GetAttr(loop_of(t), PyLoop_str._selector), *reading_now = NULL;
        PyObject *writing_now = NULL;
        int read_polling = -1, write_polling = -1;

        if (selector) {
            PyObject *fd = or_none(t->sock_fd);
            reading_now = PyObject_CallFunctionObjArgs(D.test_selector_event, selector, fd, D.event_read, NULL);
            read_polling = reading_now ? PyObject_IsTrue(reading_now) : -1;
            writing_now = read_polling >= 0
                              ? PyObject_CallFunctionObjArgs(D.test_selector_event, selector, fd, D.event_write, NULL)
                              : NULL;
            write_polling = writing_now ? PyObject_IsTrue(writing_now) : -1;
        }
        Py_XDECREF(selector);
        Py_XDECREF(reading_now);
        Py_XDECREF(writing_now);
        if (write_polling < 0)
            goto done;
        result = PyUnicode_FromFormat("<%U%s fd=%S read=%s write=<%s, bufsize=%zd>>", name, state, or_none(t->sock_fd),
                                      read_polling ? "polling" : "idle", write_polling ? "polling" : "idle",
                                      write_buffer_size(t));
    } else {
        result = PyUnicode_FromFormat("<%U%s fd=%S>", name, state, or_none(t->sock_fd));
    }
done:
    Py_DECREF(name);
    return result;
}

/* ---- construction, GC, finalization ---- */

/* _FlowControlMixin.__init__(extra, loop) */
static int init_flow_control(DatagramData *t, PyObject *loop, PyObject *extra)
{
    if (extra == Py_None) {
        if (!(t->extra = PyDict_New()))
            return -1;
    } else {
        Py_INCREF(extra);
        t->extra = extra;
    }
    if (loop == Py_None) {
        PyErr_SetNone(PyExc_AssertionError);
        return -1;
    }
    Py_INCREF(loop);
    t->loop = (LoopObject *)loop; /* any loop: see DatagramData */
    t->protocol_paused = 0;
    return PyLoopTransport_StoreWriteLimits(base_of(t), Py_None, Py_None);
}

/* The family the system calls are made here for: a plain socket.socket
 * (not a subclass, which may override recvfrom/sendto) of AF_INET,
 * AF_INET6 or AF_UNIX; 0 otherwise. -1 raised. */
static int own_family(PyObject *sock, PyObject *sock_fd)
{
    PyObject *family;
    long value;

    if (Py_TYPE(sock) != (PyTypeObject *)D.socket_type || !PyLong_CheckExact(sock_fd))
        return 0;
    family = PyObject_GetAttr(sock, PyLoop_str.family);
    value = family ? PyLong_AsLong(family) : -1;
    Py_XDECREF(family);
    if (value == -1 && PyErr_Occurred())
        return -1;
    return value == AF_INET || value == AF_INET6 || value == AF_UNIX ? (int)value : 0;
}

/* _SelectorTransport.__init__, after _FlowControlMixin's */
static int init_selector(DatagramData *t, PyObject *sock, PyObject *protocol)
{
    PyObject *transports;
    int rc;

    if (PyLoopTransport_FillSocketExtra(t->extra, sock) < 0)
        return -1;
    Py_INCREF(sock);
    t->sock = sock;
    if (!(t->sock_fd = PyObject_CallMethodNoArgs(sock, PyLoop_str.fileno)))
        return -1;
    t->protocol_connected = 0;
    Py_INCREF(protocol);
    t->protocol = protocol;
    t->protocol_connected = 1;
    if ((t->family = own_family(sock, t->sock_fd)) < 0)
        return -1;
    transports = PyObject_GetAttr(loop_of(t), PyLoop_str._transports);
    if (!transports)
        return -1;
    rc = PyObject_SetItem(transports, t->sock_fd, object_of(t));
    Py_DECREF(transports);
    return rc;
}

/* _SelectorDatagramTransport.__init__'s own part: the base's "connection_
 * made, reader, waiter", but the reader is call_soon(self._add_reader,
 * self._sock_fd, self._read_ready): the base schedules connection_made
 * alone, this file the rest. */
static int init_datagram(DatagramData *t, PyObject *address, PyObject *waiter)
{
    PyObject *self = object_of(t), *method, *reader;
    int rc;

    if (address != Py_None) {
        Py_INCREF(address);
        t->address = address;
    }
    t->buffer_size = 0;
    if (PyLoopTransport_ScheduleConnected(base_of(t), Py_None, 0) < 0)
        return -1;
    /* only start reading when connection_made() has been called */
    method = PyObject_GetAttr(self, PyLoop_str._add_reader);
    reader = method ? PyObject_GetAttr(self, PyLoop_str._read_ready) : NULL;
    rc = reader ? PyLoopTransport_CallSoon(t->loop, method, t->sock_fd, reader) : -1;
    Py_XDECREF(method);
    Py_XDECREF(reader);
    if (rc < 0)
        return -1;
    if (waiter != Py_None
        && PyLoopTransport_CallSoon(t->loop, PyLoop_asyncio.set_result_unless_cancelled, waiter, Py_None) < 0)
        return -1;
    return 0;
}

/* DatagramTransport(loop, sock, protocol, address=None, waiter=None,
 * extra=None): asyncio's constructor, step by step. Its arguments are
 * parsed as a C type's (six parameters: more than PyLoopArgs_Bind binds). */
static int dg_init(PyObject *self, PyObject *args, PyObject *keywords)
{
    static char *names[] = {"loop", "sock", "protocol", "address", "waiter", "extra", NULL};
    DatagramData *t = data_of(self);
    PyObject *loop, *sock, *protocol, *address = Py_None, *waiter = Py_None, *extra = Py_None;

    if (!PyArg_ParseTupleAndKeywords(args, keywords, "OOO|OOO:DatagramTransport", names, &loop, &sock, &protocol,
                                     &address, &waiter, &extra))
        return -1;
    if (t->sock_fd || t->extra) {
        PyErr_SetString(PyExc_RuntimeError, "DatagramTransport is already initialized");
        return -1;
    }
    if (init_flow_control(t, loop, extra) < 0 || init_selector(t, sock, protocol) < 0
        || init_datagram(t, address, waiter) < 0)
        return -1;
    return 0;
}

/* The datagram's own references (the GC group is the base's); clear also
 * drops the loop and the socket, so a cycle through them is broken too. */
static int dg_traverse(PyLoopTransport *base, visitproc visit, void *arg)
{
    DatagramData *t = (DatagramData *)base;
    size_t i;

    Py_VISIT(t->sock_fd);
    Py_VISIT(t->address);
    for (i = 0; i < t->count; i++) {
        Datagram *datagram = &t->queue[(t->head + i) % t->capacity];
        Py_VISIT(datagram->data);
        Py_VISIT(datagram->addr);
    }
    return 0;
}

static void dg_clear(PyLoopTransport *base)
{
    DatagramData *t = (DatagramData *)base;

    queue_clear(t);
    Py_CLEAR(t->loop);
    Py_CLEAR(t->sock);
    Py_CLEAR(t->sock_fd);
    Py_CLEAR(t->address);
}

/* asyncio's __del__, after the base's "unclosed transport" warning:
 * self._sock.close(). */
static void dg_close_resource(PyLoopTransport *t, PyObject *self)
{
    PyObject *closed = PyObject_CallMethodNoArgs(t->sock, PyLoop_str.close);

    if (!closed)
        PyErr_WriteUnraisable(self);
    Py_XDECREF(closed);
}

/* ---- attributes asyncio's own code reads ---- */

static PyObject *get_sock(PyObject *self, void *Py_UNUSED(c)) { return PyLoop_NewRefOrNone(data_of(self)->sock); }
static PyObject *get_sock_fd(PyObject *self, void *Py_UNUSED(c)) { return PyLoop_NewRefOrNone(data_of(self)->sock_fd); }
static PyObject *get_address(PyObject *self, void *Py_UNUSED(c)) { return PyLoop_NewRefOrNone(data_of(self)->address); }
static PyObject *get_server(PyObject *Py_UNUSED(self), void *Py_UNUSED(c)) { Py_RETURN_NONE; }
static PyObject *get_protocol_connected(PyObject *self, void *Py_UNUSED(c)) { return PyBool_FromLong(data_of(self)->protocol_connected); }
static PyObject *get_protocol_paused(PyObject *self, void *Py_UNUSED(c)) { return PyBool_FromLong(data_of(self)->protocol_paused); }

/* A copy of the queue as asyncio keeps it: a deque of (data, addr). */
static PyObject *get_buffer(PyObject *self, void *Py_UNUSED(c))
{
    DatagramData *t = data_of(self);
    PyObject *items = PyList_New((Py_ssize_t)t->count), *deque;
    size_t i;

    if (!items)
        return NULL;
    for (i = 0; i < t->count; i++) {
        Datagram *datagram = &t->queue[(t->head + i) % t->capacity];
        PyObject *pair = PyTuple_Pack(2, datagram->data, datagram->addr);
        if (!pair) {
            Py_DECREF(items);
            return NULL;
        }
        PyList_SET_ITEM(items, (Py_ssize_t)i, pair);
    }
    deque = PyObject_CallOneArg(D.deque, items);
    Py_DECREF(items);
    return deque;
}

#if PY_VERSION_HEX >= 0x030B0000
static PyObject *get_paused(PyObject *self, void *Py_UNUSED(c)) { return PyBool_FromLong(data_of(self)->paused); }
static PyObject *get_buffer_size(PyObject *self, void *Py_UNUSED(c)) { return PyLong_FromSsize_t(data_of(self)->buffer_size); }
#endif

static PyGetSetDef dg_getset[] = {
    {"_sock", get_sock, NULL, NULL, NULL},
    {"_sock_fd", get_sock_fd, NULL, NULL, NULL},
    {"_address", get_address, NULL, NULL, NULL},
    {"_server", get_server, NULL, NULL, NULL},
    {"_protocol_connected", get_protocol_connected, NULL, NULL, NULL},
    {"_protocol_paused", get_protocol_paused, NULL, NULL, NULL},
    {"_buffer", get_buffer, NULL, NULL, NULL},
#if PY_VERSION_HEX >= 0x030B0000
    {"_paused", get_paused, NULL, NULL, NULL},
    {"_buffer_size", get_buffer_size, NULL, NULL, NULL},
#endif
    PYLOOP_TRANSPORT_LIMIT_GETSET,
    PYLOOP_TRANSPORT_GETSET,
    {NULL, NULL, NULL, NULL, NULL},
};

static PyMethodDef dg_methods[] = {
    {"sendto", PYLOOP_FASTCALL_KW(dg_sendto),
     "sendto($self, data, addr=None)\n--\n\nSend data to addr (or to the connected address)."},
    PYLOOP_NOARGS_METHOD(close, dg_close, "Close the transport once the buffer is sent."),
    PYLOOP_NOARGS_METHOD(abort, dg_abort, "Close the transport immediately, dropping buffered data."),
    PYLOOP_NOARGS_METHOD(is_closing, PyLoopTransport_IsClosing, "Return True if the transport is closing or closed."),
#if PY_VERSION_HEX >= 0x030B0000
    PYLOOP_NOARGS_METHOD(is_reading, dg_is_reading, "Return True if the transport is receiving."),
    PYLOOP_NOARGS_METHOD(pause_reading, dg_pause_reading, "Pause the receiving end."),
    PYLOOP_NOARGS_METHOD(resume_reading, dg_resume_reading, "Resume the receiving end."),
#endif
    PYLOOP_NOARGS_METHOD(get_write_buffer_size, dg_get_write_buffer_size,
                         "Return the current size of the write buffer."),
    PYLOOP_TRANSPORT_LIMIT_METHODS,
    {"_set_write_buffer_limits", (PyCFunction)(void (*)(void))dg_set_write_buffer_limits_only,
     METH_FASTCALL | METH_KEYWORDS, NULL},
    {"_maybe_pause_protocol", dg_maybe_pause_protocol, METH_NOARGS, NULL},
    {"_maybe_resume_protocol", dg_maybe_resume_protocol, METH_NOARGS, NULL},
    {"get_extra_info", PYLOOP_FASTCALL_KW(dg_get_extra_info),
     "get_extra_info($self, name, default=None)\n--\n\nGet optional transport information."},
    PYLOOP_NOARGS_METHOD(get_protocol, PyLoopTransport_GetProtocol, "Return the current protocol."),
    {"set_protocol", PYLOOP_FASTCALL_KW(PyLoopTransport_SetProtocol), "set_protocol($self, protocol)\n--\n\nSet a new protocol."},
    {"_read_ready", dg_read_ready, METH_NOARGS, NULL},
    {"_sendto_ready", dg_sendto_ready, METH_NOARGS, NULL},
    {"_add_reader", (PyCFunction)(void (*)(void))dg_add_reader, METH_FASTCALL, NULL},
    {"_force_close", PYLOOP_FASTCALL_KW(dg_force_close), NULL},
    {"_fatal_error", PYLOOP_FASTCALL_KW(dg_fatal_error), NULL},
    {"_call_connection_lost", PYLOOP_FASTCALL_KW(dg_call_connection_lost), NULL},
    {NULL, NULL, 0, NULL},
};

/* ---- what the running asyncio does ---- */

/* Runs asyncio's own sendto()/_sendto_ready() on a stand-in object and a
 * socket that refuses, then accepts: what they count and send is what this
 * interpreter's asyncio does, patch release included. */
static const char probe_source[] =
    "import collections\n"
    "from asyncio import selector_events, transports\n"
    "cls = selector_events._SelectorDatagramTransport\n"
    "class Sock:\n"
    "    refuse = False\n"
    "    def __init__(self):\n"
    "        self.sent = []\n"
    "    def sendto(self, data, addr=None):\n"
    "        if self.refuse:\n"
    "            raise BlockingIOError\n"
    "        self.sent.append(bytes(data))\n"
    "    send = sendto\n"
    "class Loop:\n"
    "    _add_writer = _remove_writer = lambda self, *args: None\n"
    "class Probe:\n"
    "    _address = None\n"
    "    _conn_lost = 0\n"
    "    _closing = False\n"
    "    _buffer_size = 0\n"
    "    _sock_fd = -1\n"
    "    _sendto_ready = None\n"
    "    def __init__(self):\n"
    "        self._buffer = collections.deque()\n"
    "        self._extra = {'peername': None}\n"
    "        self._sock = Sock()\n"
    "        self._loop = Loop()\n"
    "    def __getattr__(self, name):\n"
    "        return getattr(cls, name)\n"
    /* 3.15: sendto() calls the transport's own _add_writer (it passes the
     * transport's context= to the loop's), not the loop's directly. */
    "    _add_writer = lambda self, *args: None\n"
    "    _maybe_pause_protocol = _maybe_resume_protocol = lambda self: None\n"
    "probe = Probe()\n"
    "cls.sendto(probe, b'', ('127.0.0.1', 9))\n"
    "sends_empty = probe._sock.sent == [b'']\n"
    "probe._sock.refuse = True\n"
    "cls.sendto(probe, b'x', ('127.0.0.1', 9))\n"
    "queued = cls.get_write_buffer_size(probe)\n"
    "probe._buffer_size = 12345\n"
    "tracked = cls.get_write_buffer_size(probe) == 12345\n"
    "probe._buffer_size = queued\n"
    "probe._sock.refuse = False\n"
    "cls._sendto_ready(probe)\n"
    "header_add = queued - 1\n"
    "header_sub = queued - cls.get_write_buffer_size(probe) - 1\n"
    "datagram_base = issubclass(cls, transports.DatagramTransport)\n"
    "result = (sends_empty, tracked, header_add, header_sub, datagram_base)\n";

static int probe_asyncio(void)
{
    PyObject *result = PyLoop_Probe(probe_source, "asyncio's datagram transport");
    Py_ssize_t header_add, header_sub;
    int sends_empty, tracked, base,
        ok = result && PyArg_ParseTuple(result, "ppnnp", &sends_empty, &tracked, &header_add, &header_sub, &base);

    Py_XDECREF(result);
    if (!ok)
        return -1;
    D.probed = (Probed){sends_empty, tracked, header_add, header_sub, base};
    return 0;
}

/* ---- the type ---- */

static int load_names(void)
{
    if (PyLoop_ImportInto(&D.datagram_base, "asyncio.transports", "DatagramTransport") < 0
        || PyLoop_ImportInto(&D.test_selector_event, "asyncio.selector_events", "_test_selector_event") < 0
        || PyLoop_ImportInto(&D.deque, "collections", "deque") < 0
        || PyLoop_ImportInto(&D.socket_type, "socket", "socket") < 0
        || PyLoop_ImportInto(&D.event_read, "selectors", "EVENT_READ") < 0
        || PyLoop_ImportInto(&D.event_write, "selectors", "EVENT_WRITE") < 0
        || !(D.max_size_default = PyLong_FromLong(PYLOOP_MAX_SIZE_DEFAULT)))
        return -1;
    return probe_asyncio();
}

/* No has_buffer, drop_buffer or stop_reading: see force_close. */
static PyLoopTransportOps dg_ops = {
    .name = "_SelectorDatagramTransport",
    .set_protocol_qualname = "_SelectorTransport.set_protocol",
    .protocol_set = dg_protocol_set,
    .limits_set = dg_limits_set,
    .close_resource = dg_close_resource,
    .traverse = dg_traverse,
    .clear = dg_clear,
};

int PyLoopDatagram_Add(PyObject *module)
{
    if (load_names() < 0)
        return -1;
    /* asyncio's class: (_SelectorTransport, DatagramTransport) from 3.12,
     * _SelectorTransport alone before. */
    PyLoop_DatagramTransportType = PyLoopTransport_AddType(
        module, "data_bridge.pyloop._pyloop.DatagramTransport",
        "asyncio's datagram transport (UDP, Unix datagrams), in C.",
        D.probed.datagram_base ? PyTuple_Pack(2, PyLoop_asyncio.flow_control_mixin, D.datagram_base)
                               : PyTuple_Pack(1, PyLoop_asyncio.flow_control_mixin),
        dg_init, dg_repr, dg_methods, dg_getset, sizeof(DatagramData), &dg_ops, 1);
    return PyLoop_DatagramTransportType ? 0 : -1;
}

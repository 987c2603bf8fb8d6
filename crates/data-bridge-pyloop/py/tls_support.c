/*
 * tls_support: see tls_support.h.
 */
#include "tls_support.h"

struct PyLoopTlsNames PyLoopTls;

/* What SSLObject.read/write call: ssl.SSLObject's read() and write() are
 * `self._sslobj.read(len[, buffer])` and `self._sslobj.write(data)` (the
 * same on 3.11-3.15), so for an exact ssl.SSLObject the C object it wraps
 * is called directly, one Python frame fewer per call; anything else (an
 * SSLContext.sslobject_class of the program's) is called as it is. A new
 * reference. */
PyObject *PyLoopTls_SslTarget(PyObject *sslobj)
{
    if (Py_TYPE(sslobj) == PyLoopTls.ssl_object) {
        PyObject *inner = PyObject_GetAttr(sslobj, PyLoopTls.inner_name);
        if (inner || !PyErr_ExceptionMatches(PyExc_AttributeError))
            return inner;
        PyErr_Clear();
    }
    Py_INCREF(sslobj);
    return sslobj;
}

/* ------------------------------------------------------------------ */
/* the C fields                                                        */
/* ------------------------------------------------------------------ */

/* Every attribute 3.11+'s SSLProtocol.__init__ and _set_app_protocol set;
 * not the class attributes (max_size, the timeout handles,
 * _handshake_start_time), which an instance reads from the class until it
 * sets its own. */
const char *const PyLoopTls_ProtocolFields[] = {
    "_state", "_sslobj", "_incoming", "_outgoing", "_write_backlog", "_write_buffer_size", "_app_protocol",
    "_transport", "_app_reading_paused", "_ssl_writing_paused", "_app_writing_paused", "_ssl_reading_paused",
    "_app_protocol_is_buffer", "_outgoing_high_water", "_outgoing_low_water", "_incoming_high_water",
    "_incoming_low_water", "_loop", "_conn_lost", "_app_transport", "_app_protocol_get_buffer",
    "_app_protocol_buffer_updated", "_ssl_buffer", "_ssl_buffer_view", "_eof_received", "_app_state",
    "_app_transport_created", "_waiter", "_extra", "_sslcontext", "_server_side", "_server_hostname",
    "_ssl_handshake_timeout", "_ssl_shutdown_timeout", NULL};
/* _SSLProtocolTransport.__init__'s, but _loop: a slot of asyncio's
 * _FlowControlMixin already. */
const char *const PyLoopTls_TransportFields[] = {"_ssl_protocol", "_closed", NULL};

#define TLS_MAX_FIELDS 40
#define TLS_BUCKETS 128 /* a power of two, over three times TLS_MAX_FIELDS */
/* objects are 16-byte aligned: the address's low bits carry nothing */
#define TLS_BUCKET(name) (((uintptr_t)(name) >> 4) & (TLS_BUCKETS - 1))

/* Where one type's instances keep their fields, and an open-addressing
 * table from each name (interned: its address is its identity, and lives
 * as long as the table holds it) to its field: most lookups, a hit or a
 * miss, look at one bucket, with no call and no read of the str. */
struct fields {
    PyTypeObject *type;
    Py_ssize_t offset;
    int count;
    PyObject *names[TLS_MAX_FIELDS];
    signed char buckets[TLS_BUCKETS]; /* field index, or -1: empty */
};
static struct fields protocol_fields, transport_fields;

Py_ssize_t PyLoopTls_CountFields(const char *const *fields)
{
    Py_ssize_t count = 0;

    while (fields[count])
        count++;
    return count;
}

PyMemberDef *PyLoopTls_FieldMembers(const char *const *fields, Py_ssize_t offset)
{
    size_t count = (size_t)PyLoopTls_CountFields(fields);
    PyMemberDef *members;

    if (!(members = PyMem_Calloc(count + 1, sizeof(*members))))
        return (PyMemberDef *)PyErr_NoMemory();
    for (size_t i = 0; i < count; i++) {
        members[i].name = fields[i];
        members[i].type = T_OBJECT_EX;
        members[i].offset = offset + (Py_ssize_t)(i * sizeof(PyObject *));
    }
    return members;
}

int PyLoopTls_RecordFields(PyTypeObject *type, const char *const *fields)
{
    struct fields *record = fields == PyLoopTls_ProtocolFields ? &protocol_fields : &transport_fields;
    Py_ssize_t offset = type->tp_basicsize - PyLoopTls_CountFields(fields) * (Py_ssize_t)sizeof(PyObject *);

    record->count = 0;
    memset(record->buckets, -1, sizeof(record->buckets));
    for (; *fields; fields++) {
        size_t at;

        if (record->count == TLS_MAX_FIELDS) {
            PyErr_SetString(PyExc_SystemError, "too many TLS fields");
            return -1;
        }
        if (PyLoop_InternInto(&record->names[record->count], *fields) < 0)
            return -1;
        for (at = TLS_BUCKET(record->names[record->count]); record->buckets[at] >= 0; at = (at + 1) & (TLS_BUCKETS - 1))
            ;
        record->buckets[at] = (signed char)record->count++;
    }
    record->type = type;
    record->offset = offset;
    return 0;
}

/* The field self.<name> is kept in, or NULL: not one of the types' own
 * (a subclass's instance goes by attribute, as its class may have its
 * own descriptor for the name), or not a field (names are interned, so a
 * field's is the same object). */
static PyObject **field(PyObject *self, PyObject *name)
{
    struct fields *record = Py_TYPE(self) == protocol_fields.type    ? &protocol_fields
                            : Py_TYPE(self) == transport_fields.type ? &transport_fields
                                                                     : NULL;

    if (!record)
        return NULL;
    for (size_t at = TLS_BUCKET(name); record->buckets[at] >= 0; at = (at + 1) & (TLS_BUCKETS - 1))
        if (record->names[record->buckets[at]] == name)
            return (PyObject **)((char *)self + record->offset) + record->buckets[at];
    return NULL;
}

PyObject *PyLoopTls_Get(PyObject *self, PyObject *name)
{
    PyObject **slot = field(self, name);

    if (!slot)
        return PyObject_GetAttr(self, name);
    if (!*slot) {
        PyErr_Format(PyExc_AttributeError, "'%.200s' object has no attribute '%U'", Py_TYPE(self)->tp_name, name);
        return NULL;
    }
    return Py_NewRef(*slot);
}

int PyLoopTls_Set(PyObject *self, PyObject *name, PyObject *value)
{
    PyObject **slot = field(self, name), *old;

    if (!slot)
        return PyObject_SetAttr(self, name, value);
    if (!value && !*slot) {
        PyErr_SetObject(PyExc_AttributeError, name);
        return -1;
    }
    old = *slot;
    *slot = Py_XNewRef(value);
    Py_XDECREF(old);
    return 0;
}

/* ------------------------------------------------------------------ */
/* attribute helpers: asyncio's self._x reads and writes               */
/* ------------------------------------------------------------------ */

/* bool(self.<name>): 1, 0, or -1 raised. */
int PyLoopTls_AttrTrue(PyObject *self, PyObject *name)
{
    PyObject **slot = field(self, name), *value;
    int truth;

    if (slot && (*slot == Py_True || *slot == Py_False)) /* no reference taken: nothing runs */
        return *slot == Py_True;
    if (!(value = PyLoopTls_Get(self, name)))
        return -1;
    truth = value == Py_True ? 1 : value == Py_False ? 0 : PyObject_IsTrue(value);
    Py_DECREF(value);
    return truth;
}

int PyLoopTls_SetBool(PyObject *self, PyObject *name, int value)
{
    return PyLoopTls_Set(self, name, value ? Py_True : Py_False);
}

/* self.<name> += delta (an int; asyncio's arithmetic on whatever is there) */
int PyLoopTls_AddTo(PyObject *self, PyObject *name, Py_ssize_t delta)
{
    PyObject *value = PyLoopTls_Get(self, name), *step, *sum;
    int result;

    if (!value)
        return -1;
    if (PyLong_CheckExact(value)) {
        Py_ssize_t now = PyLong_AsSsize_t(value);
        if (!(now == -1 && PyErr_Occurred())) {
            Py_DECREF(value);
            sum = PyLong_FromSsize_t(now + delta);
            goto store;
        }
        PyErr_Clear();
    }
    step = PyLong_FromSsize_t(delta);
    sum = step ? PyNumber_Add(value, step) : NULL;
    Py_XDECREF(step);
    Py_DECREF(value);
store:
    if (!sum)
        return -1;
    result = PyLoopTls_Set(self, name, sum);
    Py_DECREF(sum);
    return result;
}

/* obj.<name>() and obj.<name>(arg), by vectorcall. */
PyObject *PyLoopTls_Call0(PyObject *obj, PyObject *name)
{
    PyObject *args[] = {obj};
    return PyObject_VectorcallMethod(name, args, 1 | PY_VECTORCALL_ARGUMENTS_OFFSET, NULL);
}

PyObject *PyLoopTls_Call1(PyObject *obj, PyObject *name, PyObject *arg)
{
    PyObject *args[] = {obj, arg};
    return PyObject_VectorcallMethod(name, args, 2 | PY_VECTORCALL_ARGUMENTS_OFFSET, NULL);
}

PyObject *PyLoopTls_Call2(PyObject *obj, PyObject *name, PyObject *first, PyObject *second)
{
    PyObject *args[] = {obj, first, second};
    return PyObject_VectorcallMethod(name, args, 3 | PY_VECTORCALL_ARGUMENTS_OFFSET, NULL);
}

/* self.<name>(), the result dropped: 0 or -1. */
int PyLoopTls_CallOwn(PyObject *self, PyObject *name)
{
    PyObject *result = PyLoopTls_Call0(self, name);
    Py_XDECREF(result);
    return result ? 0 : -1;
}

/* self.<owner>.<name>(arg or nothing), the result dropped: 0 or -1. */
int PyLoopTls_CallOf(PyObject *self, PyObject *owner, PyObject *name, PyObject *arg)
{
    PyObject *target = PyLoopTls_Get(self, owner), *result;

    if (!target)
        return -1;
    result = arg ? PyLoopTls_Call1(target, name, arg) : PyLoopTls_Call0(target, name);
    Py_DECREF(target);
    Py_XDECREF(result);
    return result ? 0 : -1;
}

/* The raised exception is one of SSLAgainErrors: cleared, 1; else 0. */
int PyLoopTls_CatchAgain(void)
{
    if (PyErr_ExceptionMatches(PyLoopTls.again)) {
        PyErr_Clear();
        return 1;
    }
    return 0;
}

/* `except Exception as ex: self._fatal_error(ex, message)`: 0 when handled,
 * -1 for a BaseException asyncio lets through (or _fatal_error's own).
 * `ex` is the exception being handled (sys.exc_info()) during the call, as
 * in asyncio's except block: _fatal_error's debug log of an OSError
 * (exc_info=True) shows it. */
int PyLoopTls_CatchFatal(PyObject *self, PyObject *message)
{
    PyObject *exc, *result, *type, *value, *traceback;

    if (!PyErr_ExceptionMatches(PyExc_Exception))
        return -1;
    exc = PyLoop_FetchException();
    PyErr_GetExcInfo(&type, &value, &traceback);
    Py_INCREF(exc);
    Py_INCREF(Py_TYPE(exc));
    PyErr_SetExcInfo((PyObject *)Py_TYPE(exc), exc, PyException_GetTraceback(exc));
    result = PyLoopTls_Call2(self, PyLoop_str._fatal_error, exc, message);
    PyErr_SetExcInfo(type, value, traceback);
    Py_XDECREF(exc);
    Py_XDECREF(result);
    return result ? 0 : -1;
}

/* self.<name> compared with `size` (asyncio compares the int with whatever
 * the limit is): 1, 0, or -1 raised. */
/* size compared with limit by op when both are ints a Py_ssize_t holds:
 * 1 or 0, with nothing run; -2: not such ints. */
static int compare_ints(PyObject *size, PyObject *limit, int op)
{
    Py_ssize_t a, b;

    if (!PyLong_CheckExact(limit) || !PyLong_CheckExact(size))
        return -2;
    a = PyLong_AsSsize_t(size);
    b = PyLong_AsSsize_t(limit);
    if ((a == -1 || b == -1) && PyErr_Occurred()) {
        PyErr_Clear();
        return -2;
    }
    return op == Py_GE ? a >= b : a <= b;
}

int PyLoopTls_SizeCompare(PyObject *self, PyObject *name, PyObject *size, int op)
{
    PyObject **slot = field(self, name), *limit;
    int result;

    if (slot && *slot && (result = compare_ints(size, *slot, op)) >= 0)
        return result; /* the field read borrowed: nothing ran */
    if (!(limit = PyLoopTls_Get(self, name)))
        return -1;
    if ((result = compare_ints(size, limit, op)) < 0)
        result = PyObject_RichCompareBool(size, limit, op);
    Py_DECREF(limit);
    return result;
}

/* PyLoopTls_SslTarget(self._sslobj) */
PyObject *PyLoopTls_SslObj(PyObject *self)
{
    PyObject *sslobj = PyLoopTls_Get(self, PyLoop_str._sslobj), *target;

    if (!sslobj)
        return NULL;
    target = PyLoopTls_SslTarget(sslobj);
    Py_DECREF(sslobj);
    return target;
}

PyObject *PyLoopTls_NoneOrNull(int status)
{
    if (status < 0)
        return NULL;
    Py_RETURN_NONE;
}

/* b''.join */
static PyObject *bytes_join(void)
{
    PyObject *nothing = PyBytes_FromStringAndSize(NULL, 0), *join;

    if (!nothing)
        return NULL;
    join = PyObject_GetAttrString(nothing, "join");
    Py_DECREF(nothing);
    return join;
}

/* 3.10's asyncio has the older sslproto (_SSLPipe) and constants: what
 * the 3.11+ design reads from them, made here as 3.11's sslproto.py and
 * constants.py define it (same member names and values), in a namespace
 * PyLoopTls_InitNames reads as both. The enums name this module as theirs
 * (PyLoopTls_AddNames puts them on it). */
static PyObject *older_names(void)
{
    return PyLoop_Probe("import enum, ssl, types\n"
                        "from asyncio.constants import SSL_HANDSHAKE_TIMEOUT\n"
                        "__name__ = 'data_bridge.pyloop._pyloop'\n"
                        "class SSLProtocolState(enum.Enum):\n"
                        "    UNWRAPPED = 'UNWRAPPED'\n"
                        "    DO_HANDSHAKE = 'DO_HANDSHAKE'\n"
                        "    WRAPPED = 'WRAPPED'\n"
                        "    FLUSHING = 'FLUSHING'\n"
                        "    SHUTDOWN = 'SHUTDOWN'\n"
                        "class AppProtocolState(enum.Enum):\n"
                        "    STATE_INIT = 'STATE_INIT'\n"
                        "    STATE_CON_MADE = 'STATE_CON_MADE'\n"
                        "    STATE_EOF = 'STATE_EOF'\n"
                        "    STATE_CON_LOST = 'STATE_CON_LOST'\n"
                        "result = types.SimpleNamespace(\n"
                        "    SSLProtocolState=SSLProtocolState, AppProtocolState=AppProtocolState,\n"
                        "    SSLAgainErrors=(ssl.SSLWantReadError, ssl.SSLSyscallError),\n"
                        "    SSL_HANDSHAKE_TIMEOUT=SSL_HANDSHAKE_TIMEOUT, SSL_SHUTDOWN_TIMEOUT=30.0,\n"
                        "    FLOW_CONTROL_HIGH_WATER_SSL_READ=256, FLOW_CONTROL_HIGH_WATER_SSL_WRITE=512)\n",
                        "the 3.11 sslproto names");
}

/* The constants and the two state enums' members, from asyncio's sslproto
 * and constants (`constants`: asyncio.constants, or 3.10's own names).
 * 0, or -1 raised. */
static int init_states(PyObject *sslproto, PyObject *constants)
{
    PyObject *states = NULL, *app_states = NULL;
    int status = -1;

    if (!(PyLoopTls.handshake_timeout = PyObject_GetAttrString(constants, "SSL_HANDSHAKE_TIMEOUT")) ||
        !(PyLoopTls.shutdown_timeout = PyObject_GetAttrString(constants, "SSL_SHUTDOWN_TIMEOUT")) ||
        !(PyLoopTls.high_water_read = PyObject_GetAttrString(constants, "FLOW_CONTROL_HIGH_WATER_SSL_READ")) ||
        !(PyLoopTls.high_water_write = PyObject_GetAttrString(constants, "FLOW_CONTROL_HIGH_WATER_SSL_WRITE")) ||
        !(app_states = PyObject_GetAttrString(sslproto, "AppProtocolState")) ||
        !(PyLoopTls.app_init = PyObject_GetAttrString(app_states, "STATE_INIT")) ||
        !(PyLoopTls.app_con_made = PyObject_GetAttrString(app_states, "STATE_CON_MADE")) ||
        !(PyLoopTls.app_eof = PyObject_GetAttrString(app_states, "STATE_EOF")) ||
        !(PyLoopTls.app_con_lost = PyObject_GetAttrString(app_states, "STATE_CON_LOST")) ||
        !(states = PyObject_GetAttrString(sslproto, "SSLProtocolState")) ||
        !(PyLoopTls.unwrapped = PyObject_GetAttrString(states, "UNWRAPPED")) ||
        !(PyLoopTls.do_handshake = PyObject_GetAttrString(states, "DO_HANDSHAKE")) ||
        !(PyLoopTls.wrapped = PyObject_GetAttrString(states, "WRAPPED")) ||
        !(PyLoopTls.flushing = PyObject_GetAttrString(states, "FLUSHING")) ||
        !(PyLoopTls.shutdown = PyObject_GetAttrString(states, "SHUTDOWN")) ||
        !(PyLoopTls.again = PyObject_GetAttrString(sslproto, "SSLAgainErrors")))
        goto done;
    status = 0;
done:
    Py_XDECREF(states);
    Py_XDECREF(app_states);
    return status;
}

/* The messages and the objects of the ssl, asyncio and other modules the
 * TLS files use. 0, or -1 raised. */
static int init_objects(void)
{
    if (!(PyLoopTls.zero = PyLong_FromLong(0)) ||
        !(PyLoopTls.fatal_message = PyUnicode_InternFromString("Fatal error on SSL protocol")) ||
        !(PyLoopTls.closed_message = PyUnicode_InternFromString("SSL connection is closed")) ||
        !(PyLoopTls.pause_failed = PyUnicode_InternFromString("protocol.pause_writing() failed")) ||
        !(PyLoopTls.resume_failed = PyUnicode_InternFromString("protocol.resume_writing() failed")) ||
        !(PyLoopTls.join = bytes_join()) || !(PyLoopTls.inner_name = PyUnicode_InternFromString("_sslobj")) ||
        PyLoop_ImportInto((PyObject **)&PyLoopTls.ssl_object, "ssl", "SSLObject") < 0 ||
        PyLoop_ImportInto(&PyLoopTls.ssl_inner, "_ssl", "_SSLSocket") < 0)
        return -1;
    /* tls_app.c */
    if (!(PyLoopTls.ssl_module = PyImport_ImportModule("ssl")) ||
        PyLoop_ImportInto(&PyLoopTls.deque, "collections", "deque") < 0 ||
        PyLoop_ImportInto(&PyLoopTls.buffered_protocol, "asyncio.protocols", "BufferedProtocol") < 0 ||
        !(PyLoopTls.warnings = PyImport_ImportModule("warnings")) ||
        !(PyLoopTls.unclosed_message =
              PyUnicode_InternFromString("unclosed transport <asyncio._SSLProtocolTransport object>")))
        return -1;
    /* tls_handshake.c */
    if (PyLoop_ImportInto(&PyLoopTls.ssl_error, "ssl", "SSLError") < 0 ||
        PyLoop_ImportInto(&PyLoopTls.certificate_error, "ssl", "CertificateError") < 0 ||
        PyLoop_ImportInto(&PyLoopTls.cancelled_error, "asyncio.exceptions", "CancelledError") < 0 ||
        (PyLoopTls.asserts = PyLoop_ProbeFlag("result = __debug__\n", "__debug__")) < 0)
        return -1;
    return 0;
}

/* The running asyncio's variants, read from its sslproto's code, and a
 * copy of its SSLProtocol's __dict__ (what a later patch replaced); on
 * 3.10 (own_names) 3.11's, every flag 0, and no asyncio class under the
 * types whose patched methods to honour (protocol_base NULL). 0, or -1
 * raised. */
static int init_variants(PyObject *sslproto)
{
    PyObject *vars;
    int merged;

    if (PyLoopTls.own_names)
        return 0;
    if ((PyLoopTls.abort_takes_exc = PyLoop_ProbeFlag(
             "from asyncio.sslproto import SSLProtocol as P\n"
             "result = P._abort.__code__.co_argcount == 2\n", "SSLProtocol._abort")) < 0 ||
        (PyLoopTls.bound_timeouts = PyLoop_ProbeFlag(
             "import types\nfrom asyncio.sslproto import SSLProtocol as P\n"
             "result = not any(isinstance(c, types.CodeType) for c in P._start_handshake.__code__.co_consts)\n",
             "SSLProtocol._start_handshake")) < 0 ||
        (PyLoopTls.has_transport_closing = PyLoop_ProbeFlag(
             "from asyncio.sslproto import SSLProtocol as P\n"
             "result = hasattr(P, '_is_transport_closing')\n", "SSLProtocol._is_transport_closing")) < 0 ||
        (PyLoopTls.keep_shutdown_timeout = PyLoop_ProbeFlag(
             "from asyncio.sslproto import SSLProtocol as P\n"
             "result = 'call_later' in P._on_shutdown_complete.__code__.co_names\n",
             "SSLProtocol._on_shutdown_complete")) < 0 ||
        !(PyLoopTls.protocol_base = PyObject_GetAttrString(sslproto, "SSLProtocol")) ||
        !(PyLoopTls.protocol_originals = PyDict_New()))
        return -1;
    vars = PyObject_GetAttrString(PyLoopTls.protocol_base, "__dict__");
    merged = vars ? PyDict_Merge(PyLoopTls.protocol_originals, vars, 1) : -1;
    Py_XDECREF(vars);
    return merged;
}

int PyLoopTls_InitNames(PyObject *sslproto)
{
    PyObject *constants, *older = NULL;
    int status;

    /* 3.10: the names are this module's (older_names), read from it as
     * from asyncio's sslproto and constants. */
    if (!PyObject_HasAttrString(sslproto, "SSLProtocolState")) {
        if (!(older = older_names()))
            return -1;
        sslproto = older;
        PyLoopTls.own_names = 1;
    }
    if (!(constants = older ? Py_NewRef(older) : PyImport_ImportModule("asyncio.constants"))) {
        Py_XDECREF(older);
        return -1;
    }
    status = init_states(sslproto, constants) < 0 || init_objects() < 0 || init_variants(sslproto) < 0 ? -1 : 0;
    Py_DECREF(constants);
    Py_XDECREF(older);
    return status;
}

/* Puts the names on the module (_pyloop.SSLProtocolState, ...: asyncio's
 * own objects on 3.11+, older_names' on 3.10), for the tests. */
int PyLoopTls_AddNames(PyObject *module)
{
    const struct {
        const char *name;
        PyObject *value;
    } names[] = {
        {"SSLProtocolState", (PyObject *)Py_TYPE(PyLoopTls.unwrapped)},
        {"AppProtocolState", (PyObject *)Py_TYPE(PyLoopTls.app_init)},
        {"SSLAgainErrors", PyLoopTls.again},
        {"SSL_HANDSHAKE_TIMEOUT", PyLoopTls.handshake_timeout},
        {"SSL_SHUTDOWN_TIMEOUT", PyLoopTls.shutdown_timeout},
        {"FLOW_CONTROL_HIGH_WATER_SSL_READ", PyLoopTls.high_water_read},
        {"FLOW_CONTROL_HIGH_WATER_SSL_WRITE", PyLoopTls.high_water_write},
    };

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (PyModule_AddObjectRef(module, names[i].name, names[i].value) < 0)
            return -1;
    return 0;
}

/*
 * tls_app: asyncio's TLS app transport (sslproto._SSLProtocolTransport)
 * in C, every method of it tls_transport.c's hot path does not have, and
 * the protocol's construction: SSLProtocol.__init__, _set_app_protocol,
 * its buffer limits (_set_write_buffer_limits, _set_read_buffer_limits,
 * add_flowcontrol_defaults' rule) and the app's reading pause
 * (_pause_reading, _resume_reading).
 *
 * As in tls_transport.c, each C method replaces, one for one, asyncio's
 * Python method of the same name: the same attributes read and written in
 * the same order, the same methods called by name (on self, the protocol,
 * the app protocol: a subclass's override is honoured), the same
 * exceptions with the same texts. The defaults (timeouts, high-water KiB,
 * the state enums' members) come from PyLoopTls, read once, so this file
 * also serves an interpreter whose sslproto lacks them.
 *
 * Versions (the running asyncio's variant, detected once at import):
 *   - is_closing(): 3.11-3.13 `self._closed`; 3.14+ (SSLProtocol has
 *     _is_transport_closing) `self._closed or
 *     self._ssl_protocol._is_transport_closing()`;
 *   - abort()/_force_close(exc): 3.11-3.12 (SSLProtocol._abort(self))
 *     abort is `_closed = True; if _ssl_protocol is not None:
 *     _ssl_protocol._abort()` and _force_close calls `_abort(exc)`
 *     unguarded (a TypeError there, as asyncio's); 3.13+
 *     (SSLProtocol._abort(self, exc)) abort is `self._force_close(None)`
 *     and _force_close guards `_ssl_protocol is not None`.
 */
#include "tls_support.h"

/* ------------------------------------------------------------------ */
/* add_flowcontrol_defaults                                            */
/* ------------------------------------------------------------------ */

/* `op(value, n)`, or `op(n, value)` when int_first: asyncio's operand
 * order (kb * 1024, 4 * lo, hi // 4), so a program's number type sees the
 * same calls. A new reference, or NULL raised. */
static PyObject *with_int(PyObject *value, long n, binaryfunc op, int int_first)
{
    PyObject *number = PyLong_FromLong(n), *result;

    if (!number)
        return NULL;
    result = int_first ? op(number, value) : op(value, number);
    Py_DECREF(number);
    return result;
}

/* `hi >= lo >= 0`: 1, 0, or -1 raised. */
static int in_order(PyObject *hi, PyObject *lo)
{
    PyObject *check = PyObject_RichCompare(hi, lo, Py_GE);
    int ok;

    if (!check)
        return -1;
    ok = PyObject_IsTrue(check);
    Py_DECREF(check);
    if (ok <= 0)
        return ok;
    if (!(check = PyObject_RichCompare(lo, PyLoopTls.zero, Py_GE)))
        return -1;
    ok = PyObject_IsTrue(check);
    Py_DECREF(check);
    return ok;
}

/* sslproto.add_flowcontrol_defaults(high, low, kb) (NULL reads as None):
 * *hi and *lo new references, 0; or -1 raised. */
int PyLoopTls_FlowDefaults(PyObject *high, PyObject *low, PyObject *kb, PyObject **hi, PyObject **lo)
{
    int ok;

    high = high == Py_None ? NULL : high;
    low = low == Py_None ? NULL : low;
    if (high)
        *hi = Py_NewRef(high);
    else if (!low)
        *hi = with_int(kb, 1024, PyNumber_Multiply, 0); /* hi = kb * 1024 */
    else
        *hi = with_int(low, 4, PyNumber_Multiply, 1); /* hi = 4 * lo */
    if (!*hi)
        return -1;
    /* lo = hi // 4, or low */
    *lo = low ? Py_NewRef(low) : with_int(*hi, 4, PyNumber_FloorDivide, 0);
    if (!*lo || (ok = in_order(*hi, *lo)) < 0)
        goto fail;
    if (!ok) {
        PyErr_Format(PyExc_ValueError, "high (%R) must be >= low (%R) must be >= 0", *hi, *lo);
        goto fail;
    }
    return 0;
fail:
    Py_CLEAR(*hi);
    Py_XDECREF(*lo);
    *lo = NULL;
    return -1;
}

/* ------------------------------------------------------------------ */
/* the protocol: __init__ and its flow-control setup                   */
/* ------------------------------------------------------------------ */

/* self.<name> = value, value stolen (NULL: an error already raised) */
static int set_new(PyObject *self, PyObject *name, PyObject *value)
{
    int status;

    if (!value)
        return -1;
    status = PyLoopTls_Set(self, name, value);
    Py_DECREF(value);
    return status;
}

/* `x <= 0` as a truth: 1, 0, or -1 raised */
static int not_positive(PyObject *value)
{
    PyObject *result = PyObject_RichCompare(value, PyLoopTls.zero, Py_LE);
    int truth;

    if (!result)
        return -1;
    truth = PyObject_IsTrue(result);
    Py_DECREF(result);
    return truth;
}

/* `elif timeout <= 0: raise ValueError(f"{what} should be a positive
 * number, got {timeout}")`: 0, or -1 raised. */
static int check_timeout(PyObject *timeout, const char *what)
{
    PyObject *text;
    int bad = not_positive(timeout);

    if (bad <= 0)
        return bad;
    if ((text = PyObject_Format(timeout, NULL))) {
        PyErr_Format(PyExc_ValueError, "%s should be a positive number, got %U", what, text);
        Py_DECREF(text);
    }
    return -1;
}

/* sslproto._create_transport_context(server_side, server_hostname): a new
 * reference, or NULL raised. */
static PyObject *create_transport_context(PyObject *server_side, PyObject *server_hostname)
{
    PyObject *context;
    int truth = PyObject_IsTrue(server_side);

    if (truth < 0)
        return NULL;
    if (truth) {
        PyErr_SetString(PyExc_ValueError, "Server side SSL needs a valid SSLContext");
        return NULL;
    }
    /* ssl.create_default_context(), looked up when called, as asyncio's */
    if (!(context = PyLoopTls_Call0(PyLoopTls.ssl_module, PyLoop_str.create_default_context)))
        return NULL;
    if ((truth = PyObject_IsTrue(server_hostname)) == 0)
        truth = PyObject_SetAttr(context, PyLoop_str.check_hostname, Py_False) < 0 ? -1 : 1;
    if (truth < 0)
        Py_CLEAR(context);
    return context;
}

/* ssl.MemoryBIO() */
static PyObject *memory_bio(void)
{
    PyObject *type = PyObject_GetAttr(PyLoopTls.ssl_module, PyLoop_str.MemoryBIO), *bio;

    if (!type)
        return NULL;
    bio = PyObject_CallNoArgs(type);
    Py_DECREF(type);
    return bio;
}

/* self._sslcontext.wrap_bio(self._incoming, self._outgoing,
 *     server_side=self._server_side, server_hostname=self._server_hostname) */
static PyObject *wrap_bio(PyObject *self)
{
    PyObject *context = PyLoopTls_Get(self, PyLoop_str._sslcontext), *method = NULL, *result = NULL;
    PyObject *args[4] = {NULL, NULL, NULL, NULL}, *kwnames = NULL;
    int j;

    if (!context)
        return NULL;
    method = PyObject_GetAttr(context, PyLoop_str.wrap_bio);
    Py_DECREF(context);
    if (!method || !(args[0] = PyLoopTls_Get(self, PyLoop_str._incoming)) ||
        !(args[1] = PyLoopTls_Get(self, PyLoop_str._outgoing)) ||
        !(args[2] = PyLoopTls_Get(self, PyLoop_str._server_side)) ||
        !(args[3] = PyLoopTls_Get(self, PyLoop_str._server_hostname)) ||
        !(kwnames = PyTuple_Pack(2, PyLoop_str.server_side, PyLoop_str.server_hostname)))
        goto done;
    result = PyObject_Vectorcall(method, args, 2, kwnames);
done:
    for (j = 0; j < 4; j++)
        Py_XDECREF(args[j]);
    Py_XDECREF(kwnames);
    Py_XDECREF(method);
    return result;
}

static const PyLoopParams protocol_init_params = {
    "SSLProtocol.__init__",
    {"loop", "app_protocol", "sslcontext", "waiter", "server_side", "server_hostname", "call_connection_made",
     "ssl_handshake_timeout", "ssl_shutdown_timeout"},
    4,
    9,
};

static int call_own1(PyObject *self, PyObject *name, PyObject *arg);

/* SSLProtocol.__init__: every attribute asyncio's sets, in its order. */
/* self._ssl_buffer = bytearray(self.max_size);
 * self._ssl_buffer_view = memoryview(self._ssl_buffer) */
static int init_ssl_buffer(PyObject *self)
{
    PyObject *max_size = PyLoopTls_Get(self, PyLoop_str.max_size), *buffer, *view;

    if (!max_size)
        return -1;
    buffer = PyObject_CallOneArg((PyObject *)&PyByteArray_Type, max_size);
    Py_DECREF(max_size);
    if (set_new(self, PyLoop_str._ssl_buffer, buffer) < 0 ||
        !(buffer = PyLoopTls_Get(self, PyLoop_str._ssl_buffer)))
        return -1;
    view = PyMemoryView_FromObject(buffer);
    Py_DECREF(buffer);
    return set_new(self, PyLoop_str._ssl_buffer_view, view);
}

/* __init__ from `if server_hostname and not server_side:` to
 * `self._conn_lost = 0`; bound: __init__'s arguments (loop, app_protocol,
 * sslcontext, waiter, server_side, server_hostname, ...). 0, or -1 raised. */
static int init_connection(PyObject *self, PyObject *const *bound, PyObject *sslcontext, PyObject *handshake_timeout,
                           PyObject *shutdown_timeout)
{
    PyObject *server_side = bound[4] ? bound[4] : Py_False, *server_hostname = bound[5] ? bound[5] : Py_None;
    PyObject *extra;
    int truth;

    if (PyLoopTls_Set(self, PyLoop_str._server_side, server_side) < 0)
        return -1;
    /* server_hostname and not server_side */
    if ((truth = PyObject_IsTrue(server_hostname)) > 0)
        truth = PyObject_Not(server_side);
    if (truth < 0 || PyLoopTls_Set(self, PyLoop_str._server_hostname, truth ? server_hostname : Py_None) < 0 ||
        PyLoopTls_Set(self, PyLoop_str._sslcontext, sslcontext) < 0)
        return -1;
    /* self._extra = dict(sslcontext=sslcontext) */
    if (!(extra = PyDict_New()) || PyDict_SetItem(extra, PyLoop_str.sslcontext, sslcontext) < 0) {
        Py_XDECREF(extra);
        return -1;
    }
    if (set_new(self, PyLoop_str._extra, extra) < 0 ||
        set_new(self, PyLoop_str._write_backlog, PyObject_CallNoArgs(PyLoopTls.deque)) < 0 ||
        PyLoopTls_Set(self, PyLoop_str._write_buffer_size, PyLoopTls.zero) < 0 ||
        PyLoopTls_Set(self, PyLoop_str._waiter, bound[3]) < 0 ||
        PyLoopTls_Set(self, PyLoop_str._loop, bound[0]) < 0 ||
        call_own1(self, PyLoop_str._set_app_protocol, bound[1]) < 0 ||
        PyLoopTls_Set(self, PyLoop_str._app_transport, Py_None) < 0 ||
        PyLoopTls_SetBool(self, PyLoop_str._app_transport_created, 0) < 0 ||
        PyLoopTls_Set(self, PyLoop_str._transport, Py_None) < 0 ||
        PyLoopTls_Set(self, PyLoop_str._ssl_handshake_timeout, handshake_timeout) < 0 ||
        PyLoopTls_Set(self, PyLoop_str._ssl_shutdown_timeout, shutdown_timeout) < 0 ||
        set_new(self, PyLoop_str._incoming, memory_bio()) < 0 ||
        set_new(self, PyLoop_str._outgoing, memory_bio()) < 0 ||
        PyLoopTls_Set(self, PyLoop_str._state, PyLoopTls.unwrapped) < 0 ||
        PyLoopTls_Set(self, PyLoop_str._conn_lost, PyLoopTls.zero) < 0)
        return -1;
    return 0;
}

/* __init__ from `if call_connection_made:` to its end: the app state, the
 * SSLObject, flow control and the app transport. 0, or -1 raised. */
static int init_flow(PyObject *self, PyObject *call_connection_made)
{
    int truth = PyObject_IsTrue(call_connection_made);

    if (truth < 0 ||
        PyLoopTls_Set(self, PyLoop_str._app_state, truth ? PyLoopTls.app_init : PyLoopTls.app_con_made) < 0 ||
        set_new(self, PyLoop_str._sslobj, wrap_bio(self)) < 0 ||
        /* Flow Control */
        PyLoopTls_SetBool(self, PyLoop_str._ssl_writing_paused, 0) < 0 ||
        PyLoopTls_SetBool(self, PyLoop_str._app_reading_paused, 0) < 0 ||
        PyLoopTls_SetBool(self, PyLoop_str._ssl_reading_paused, 0) < 0 ||
        PyLoopTls_Set(self, PyLoop_str._incoming_high_water, PyLoopTls.zero) < 0 ||
        PyLoopTls_Set(self, PyLoop_str._incoming_low_water, PyLoopTls.zero) < 0 ||
        PyLoopTls_CallOwn(self, PyLoop_str._set_read_buffer_limits) < 0 ||
        PyLoopTls_SetBool(self, PyLoop_str._eof_received, 0) < 0 ||
        PyLoopTls_SetBool(self, PyLoop_str._app_writing_paused, 0) < 0 ||
        PyLoopTls_Set(self, PyLoop_str._outgoing_high_water, PyLoopTls.zero) < 0 ||
        PyLoopTls_Set(self, PyLoop_str._outgoing_low_water, PyLoopTls.zero) < 0 ||
        PyLoopTls_CallOwn(self, PyLoop_str._set_write_buffer_limits) < 0 ||
        PyLoopTls_CallOwn(self, PyLoop_str._get_app_transport) < 0)
        return -1;
    return 0;
}

static PyObject *protocol_init(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    PyObject *bound[PYLOOP_MAX_PARAMS], *handshake_timeout, *shutdown_timeout, *sslcontext;
    int truth, status;

    if (PyLoopArgs_Bind(&protocol_init_params, args, nargs, kwnames, bound) < 0 || init_ssl_buffer(self) < 0)
        return NULL;
    handshake_timeout = bound[7] ? bound[7] : Py_None;
    shutdown_timeout = bound[8] ? bound[8] : Py_None;
    if (handshake_timeout == Py_None)
        handshake_timeout = PyLoopTls.handshake_timeout;
    else if (check_timeout(handshake_timeout, "ssl_handshake_timeout") < 0)
        return NULL;
    if (shutdown_timeout == Py_None)
        shutdown_timeout = PyLoopTls.shutdown_timeout;
    else if (check_timeout(shutdown_timeout, "ssl_shutdown_timeout") < 0)
        return NULL;

    if ((truth = PyObject_Not(bound[2])) < 0)
        return NULL;
    sslcontext = truth ? create_transport_context(bound[4] ? bound[4] : Py_False, bound[5] ? bound[5] : Py_None)
                       : Py_NewRef(bound[2]);
    if (!sslcontext)
        return NULL;
    status = init_connection(self, bound, sslcontext, handshake_timeout, shutdown_timeout);
    Py_DECREF(sslcontext);
    if (status < 0 || init_flow(self, bound[6] ? bound[6] : Py_True) < 0)
        return NULL;
    Py_RETURN_NONE;
}

/* self.<name>(arg), the result dropped: 0 or -1 */
static int call_own1(PyObject *self, PyObject *name, PyObject *arg)
{
    PyObject *result = PyLoopTls_Call1(self, name, arg);

    Py_XDECREF(result);
    return result ? 0 : -1;
}

/* hasattr(obj, name): 1, 0, or -1 for an error other than AttributeError */
static int has_attr(PyObject *obj, PyObject *name)
{
    PyObject *value = PyObject_GetAttr(obj, name);

    if (value) {
        Py_DECREF(value);
        return 1;
    }
    if (!PyErr_ExceptionMatches(PyExc_AttributeError))
        return -1;
    PyErr_Clear();
    return 0;
}

static const PyLoopParams set_app_protocol_params = {"SSLProtocol._set_app_protocol", {"app_protocol"}, 1, 1};

/* _set_app_protocol(app_protocol) */
static PyObject *protocol_set_app_protocol(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    PyObject *bound[PYLOOP_MAX_PARAMS], *app_protocol;
    int buffered;

    if (PyLoopArgs_Bind(&set_app_protocol_params, args, nargs, kwnames, bound) < 0)
        return NULL;
    app_protocol = bound[0];

    if (PyLoopTls_Set(self, PyLoop_str._app_protocol, app_protocol) < 0)
        return NULL;
    /* Make fast hasattr check first */
    if ((buffered = has_attr(app_protocol, PyLoop_str.get_buffer)) > 0)
        buffered = PyObject_IsInstance(app_protocol, PyLoopTls.buffered_protocol);
    if (buffered < 0)
        return NULL;
    if (buffered &&
        (set_new(self, PyLoop_str._app_protocol_get_buffer, PyObject_GetAttr(app_protocol, PyLoop_str.get_buffer)) <
             0 ||
         set_new(self, PyLoop_str._app_protocol_buffer_updated,
                 PyObject_GetAttr(app_protocol, PyLoop_str.buffer_updated)) < 0))
        return NULL;
    return PyLoopTls_NoneOrNull(PyLoopTls_SetBool(self, PyLoop_str._app_protocol_is_buffer, buffered));
}

static const PyLoopParams set_write_limits_params = {"SSLProtocol._set_write_buffer_limits", {"high", "low"}, 0, 2};
static const PyLoopParams set_read_limits_params = {"SSLProtocol._set_read_buffer_limits", {"high", "low"}, 0, 2};

/* high, low = add_flowcontrol_defaults(high, low, kb);
 * self.<high_name> = high; self.<low_name> = low */
static PyObject *set_limits(PyObject *self, const PyLoopParams *params, PyObject *const *args, Py_ssize_t nargs,
                            PyObject *kwnames, PyObject *kb, PyObject *high_name, PyObject *low_name)
{
    PyObject *bound[PYLOOP_MAX_PARAMS], *high, *low;
    int status;

    if (PyLoopArgs_Bind(params, args, nargs, kwnames, bound) < 0 ||
        PyLoopTls_FlowDefaults(bound[0], bound[1], kb, &high, &low) < 0)
        return NULL;
    status = PyLoopTls_Set(self, high_name, high) < 0 || PyLoopTls_Set(self, low_name, low) < 0 ? -1 : 0;
    Py_DECREF(high);
    Py_DECREF(low);
    return PyLoopTls_NoneOrNull(status);
}

static PyObject *protocol_set_write_buffer_limits(PyObject *self, PyObject *const *args, Py_ssize_t nargs,
                                                  PyObject *kwnames)
{
    return set_limits(self, &set_write_limits_params, args, nargs, kwnames, PyLoopTls.high_water_write,
                      PyLoop_str._outgoing_high_water, PyLoop_str._outgoing_low_water);
}

static PyObject *protocol_set_read_buffer_limits(PyObject *self, PyObject *const *args, Py_ssize_t nargs,
                                                 PyObject *kwnames)
{
    return set_limits(self, &set_read_limits_params, args, nargs, kwnames, PyLoopTls.high_water_read,
                      PyLoop_str._incoming_high_water, PyLoop_str._incoming_low_water);
}

/* _pause_reading(): self._app_reading_paused = True */
static PyObject *protocol_pause_reading(PyObject *self, PyObject *unused)
{
    (void)unused;
    return PyLoopTls_NoneOrNull(PyLoopTls_SetBool(self, PyLoop_str._app_reading_paused, 1));
}

/* _resume_reading's `resume` closure, bound to the protocol (m_self):
 * on WRAPPED _do_read(), FLUSHING _do_flush(), SHUTDOWN _do_shutdown(). */
static PyObject *resume(PyObject *self, PyObject *unused)
{
    PyObject *state = PyLoopTls_Get(self, PyLoop_str._state), *name = NULL;

    (void)unused;
    if (!state)
        return NULL;
    if (state == PyLoopTls.wrapped)
        name = PyLoop_str._do_read;
    else if (state == PyLoopTls.flushing)
        name = PyLoop_str._do_flush;
    else if (state == PyLoopTls.shutdown)
        name = PyLoop_str._do_shutdown;
    Py_DECREF(state);
    return PyLoopTls_NoneOrNull(name ? PyLoopTls_CallOwn(self, name) : 0);
}

static PyMethodDef resume_def = {"resume", resume, METH_NOARGS, NULL};

/* _resume_reading(): if paused, unpause and call_soon(resume) */
static PyObject *protocol_resume_reading(PyObject *self, PyObject *unused)
{
    PyObject *callback;
    int paused = PyLoopTls_AttrTrue(self, PyLoop_str._app_reading_paused), status;

    (void)unused;
    if (paused <= 0)
        return PyLoopTls_NoneOrNull(paused);
    if (PyLoopTls_SetBool(self, PyLoop_str._app_reading_paused, 0) < 0 ||
        !(callback = PyCFunction_New(&resume_def, self)))
        return NULL;
    status = PyLoopTls_CallOf(self, PyLoop_str._loop, PyLoop_str.call_soon, callback);
    Py_DECREF(callback);
    return PyLoopTls_NoneOrNull(status);
}

PyMethodDef PyLoopTls_ProtocolSetupMethods[] = {
    {"__init__", PYLOOP_FASTCALL_KW(protocol_init),
     "__init__($self, loop, app_protocol, sslcontext, waiter, server_side=False, server_hostname=None, "
     "call_connection_made=True, ssl_handshake_timeout=None, ssl_shutdown_timeout=None)\n--\n\n"},
    {"_set_app_protocol", PYLOOP_FASTCALL_KW(protocol_set_app_protocol), "_set_app_protocol($self, app_protocol)\n--\n\n"},
    {"_set_write_buffer_limits", PYLOOP_FASTCALL_KW(protocol_set_write_buffer_limits),
     "_set_write_buffer_limits($self, high=None, low=None)\n--\n\n"},
    {"_set_read_buffer_limits", PYLOOP_FASTCALL_KW(protocol_set_read_buffer_limits),
     "_set_read_buffer_limits($self, high=None, low=None)\n--\n\n"},
    PYLOOP_NOARGS_METHOD(_pause_reading, protocol_pause_reading, ""),
    PYLOOP_NOARGS_METHOD(_resume_reading, protocol_resume_reading, ""),
    {NULL, NULL, 0, NULL},
};

/* ------------------------------------------------------------------ */
/* the app transport                                                   */
/* ------------------------------------------------------------------ */

static const PyLoopParams transport_init_params = {"_SSLProtocolTransport.__init__", {"loop", "ssl_protocol"}, 2, 2};

static PyObject *transport_init(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    PyObject *bound[PYLOOP_MAX_PARAMS];

    if (PyLoopArgs_Bind(&transport_init_params, args, nargs, kwnames, bound) < 0 ||
        PyLoopTls_Set(self, PyLoop_str._loop, bound[0]) < 0 ||
        PyLoopTls_Set(self, PyLoop_str._ssl_protocol, bound[1]) < 0 ||
        PyLoopTls_SetBool(self, PyLoop_str._closed, 0) < 0)
        return NULL;
    Py_RETURN_NONE;
}

/* self._ssl_protocol.<name>, a new reference */
static PyObject *protocol_attr(PyObject *self, PyObject *name)
{
    PyObject *protocol = PyLoopTls_Get(self, PyLoop_str._ssl_protocol), *value;

    if (!protocol)
        return NULL;
    value = PyLoopTls_Get(protocol, name);
    Py_DECREF(protocol);
    return value;
}

/* return self._ssl_protocol.<name>(arg or nothing) */
static PyObject *protocol_call(PyObject *self, PyObject *name, PyObject *arg)
{
    PyObject *protocol = PyLoopTls_Get(self, PyLoop_str._ssl_protocol), *result;

    if (!protocol)
        return NULL;
    result = arg ? PyLoopTls_Call1(protocol, name, arg) : PyLoopTls_Call0(protocol, name);
    Py_DECREF(protocol);
    return result;
}

static const PyLoopParams get_extra_info_params = {"_SSLProtocolTransport.get_extra_info", {"name", "default"}, 1, 2};

static PyObject *transport_get_extra_info(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    PyObject *bound[PYLOOP_MAX_PARAMS], *protocol, *result;

    if (PyLoopArgs_Bind(&get_extra_info_params, args, nargs, kwnames, bound) < 0 ||
        !(protocol = PyLoopTls_Get(self, PyLoop_str._ssl_protocol)))
        return NULL;
    result = PyLoopTls_Call2(protocol, PyLoop_str._get_extra_info, bound[0], bound[1] ? bound[1] : Py_None);
    Py_DECREF(protocol);
    return result;
}

static const PyLoopParams set_protocol_params = {"_SSLProtocolTransport.set_protocol", {"protocol"}, 1, 1};

static PyObject *transport_set_protocol(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    PyObject *bound[PYLOOP_MAX_PARAMS];

    if (PyLoopArgs_Bind(&set_protocol_params, args, nargs, kwnames, bound) < 0)
        return NULL;
    return PyLoopTls_NoneOrNull(PyLoopTls_CallOf(self, PyLoop_str._ssl_protocol, PyLoop_str._set_app_protocol,
                                                 bound[0]));
}

static PyObject *transport_get_protocol(PyObject *self, PyObject *unused)
{
    (void)unused;
    return protocol_attr(self, PyLoop_str._app_protocol);
}

/* is_closing(): see the top comment for the two variants */
static PyObject *transport_is_closing(PyObject *self, PyObject *unused)
{
    PyObject *closed = PyLoopTls_Get(self, PyLoop_str._closed);
    int truth;

    (void)unused;
    if (!closed || !PyLoopTls.has_transport_closing)
        return closed;
    /* self._closed or self._ssl_protocol._is_transport_closing() */
    if ((truth = PyObject_IsTrue(closed)) != 0) {
        if (truth < 0)
            Py_CLEAR(closed);
        return closed;
    }
    Py_DECREF(closed);
    return protocol_call(self, PyLoop_str._is_transport_closing, NULL);
}

static PyObject *transport_close(PyObject *self, PyObject *unused)
{
    int closed = PyLoopTls_AttrTrue(self, PyLoop_str._closed);

    (void)unused;
    if (closed < 0)
        return NULL;
    if (!closed)
        return PyLoopTls_NoneOrNull(PyLoopTls_SetBool(self, PyLoop_str._closed, 1) < 0
                                        ? -1
                                        : PyLoopTls_CallOf(self, PyLoop_str._ssl_protocol,
                                                           PyLoop_str._start_shutdown, NULL));
    return PyLoopTls_NoneOrNull(PyLoopTls_Set(self, PyLoop_str._ssl_protocol, Py_None));
}

static const PyLoopParams del_params = {"_SSLProtocolTransport.__del__", {"_warnings"}, 0, 1};

/* __del__(self, _warnings=warnings): the finalizer (the base's
 * slot_tp_finalize finds it), reporting an unclosed transport */
static PyObject *transport_del(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    PyObject *bound[PYLOOP_MAX_PARAMS], *result;
    int closed;

    if (PyLoopArgs_Bind(&del_params, args, nargs, kwnames, bound) < 0 ||
        (closed = PyLoopTls_AttrTrue(self, PyLoop_str._closed)) < 0)
        return NULL;
    if (closed)
        Py_RETURN_NONE;
    if (PyLoopTls_SetBool(self, PyLoop_str._closed, 1) < 0)
        return NULL;
    result = PyLoopTls_Call2(bound[0] ? bound[0] : PyLoopTls.warnings, PyLoop_str.warn, PyLoopTls.unclosed_message,
                             PyExc_ResourceWarning);
    Py_XDECREF(result);
    return PyLoopTls_NoneOrNull(result ? 0 : -1);
}

static PyObject *transport_is_reading(PyObject *self, PyObject *unused)
{
    PyObject *paused = protocol_attr(self, PyLoop_str._app_reading_paused);
    int truth;

    (void)unused;
    if (!paused)
        return NULL;
    truth = PyObject_Not(paused);
    Py_DECREF(paused);
    return truth < 0 ? NULL : PyBool_FromLong(truth);
}

static PyObject *transport_pause_reading(PyObject *self, PyObject *unused)
{
    (void)unused;
    return PyLoopTls_NoneOrNull(PyLoopTls_CallOf(self, PyLoop_str._ssl_protocol, PyLoop_str._pause_reading, NULL));
}

static PyObject *transport_resume_reading(PyObject *self, PyObject *unused)
{
    (void)unused;
    return PyLoopTls_NoneOrNull(PyLoopTls_CallOf(self, PyLoop_str._ssl_protocol, PyLoop_str._resume_reading, NULL));
}

static const PyLoopParams set_write_buffer_limits_params = {"_SSLProtocolTransport.set_write_buffer_limits",
                                                            {"high", "low"}, 0, 2};
static const PyLoopParams set_read_buffer_limits_params = {"_SSLProtocolTransport.set_read_buffer_limits",
                                                           {"high", "low"}, 0, 2};

/* self._ssl_protocol.<set>(high, low); self._ssl_protocol.<control>() */
static PyObject *transport_set_limits(PyObject *self, const PyLoopParams *params, PyObject *const *args,
                                      Py_ssize_t nargs, PyObject *kwnames, PyObject *set, PyObject *control)
{
    PyObject *bound[PYLOOP_MAX_PARAMS], *protocol, *result;

    if (PyLoopArgs_Bind(params, args, nargs, kwnames, bound) < 0 ||
        !(protocol = PyLoopTls_Get(self, PyLoop_str._ssl_protocol)))
        return NULL;
    result = PyLoopTls_Call2(protocol, set, bound[0] ? bound[0] : Py_None, bound[1] ? bound[1] : Py_None);
    Py_DECREF(protocol);
    if (!result)
        return NULL;
    Py_DECREF(result);
    return PyLoopTls_NoneOrNull(PyLoopTls_CallOf(self, PyLoop_str._ssl_protocol, control, NULL));
}

static PyObject *transport_set_write_buffer_limits(PyObject *self, PyObject *const *args, Py_ssize_t nargs,
                                                   PyObject *kwnames)
{
    return transport_set_limits(self, &set_write_buffer_limits_params, args, nargs, kwnames,
                                PyLoop_str._set_write_buffer_limits, PyLoop_str._control_app_writing);
}

static PyObject *transport_set_read_buffer_limits(PyObject *self, PyObject *const *args, Py_ssize_t nargs,
                                                  PyObject *kwnames)
{
    return transport_set_limits(self, &set_read_buffer_limits_params, args, nargs, kwnames,
                                PyLoop_str._set_read_buffer_limits, PyLoop_str._control_ssl_reading);
}

/* (self._ssl_protocol.<low>, self._ssl_protocol.<high>) */
static PyObject *limits(PyObject *self, PyObject *low_name, PyObject *high_name)
{
    PyObject *low = protocol_attr(self, low_name), *high, *pair;

    if (!low)
        return NULL;
    if (!(high = protocol_attr(self, high_name))) {
        Py_DECREF(low);
        return NULL;
    }
    pair = PyTuple_Pack(2, low, high);
    Py_DECREF(low);
    Py_DECREF(high);
    return pair;
}

static PyObject *transport_get_write_buffer_limits(PyObject *self, PyObject *unused)
{
    (void)unused;
    return limits(self, PyLoop_str._outgoing_low_water, PyLoop_str._outgoing_high_water);
}

static PyObject *transport_get_read_buffer_limits(PyObject *self, PyObject *unused)
{
    (void)unused;
    return limits(self, PyLoop_str._incoming_low_water, PyLoop_str._incoming_high_water);
}

static PyObject *transport_get_write_buffer_size(PyObject *self, PyObject *unused)
{
    (void)unused;
    return protocol_call(self, PyLoop_str._get_write_buffer_size, NULL);
}

static PyObject *transport_get_read_buffer_size(PyObject *self, PyObject *unused)
{
    (void)unused;
    return protocol_call(self, PyLoop_str._get_read_buffer_size, NULL);
}

static PyObject *transport_write_eof(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    PyErr_SetNone(PyExc_NotImplementedError);
    return NULL;
}

static PyObject *transport_can_write_eof(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    Py_RETURN_FALSE;
}

/* self._closed = True; then, if self._ssl_protocol is not None (always,
 * when `guarded` is 0): self._ssl_protocol._abort(exc) (exc NULL: no
 * argument, 3.11-3.12's abort()) */
static int force_close(PyObject *self, PyObject *exc, int guarded)
{
    PyObject *protocol;

    if (PyLoopTls_SetBool(self, PyLoop_str._closed, 1) < 0)
        return -1;
    if (guarded) {
        if (!(protocol = PyLoopTls_Get(self, PyLoop_str._ssl_protocol)))
            return -1;
        Py_DECREF(protocol);
        if (protocol == Py_None)
            return 0;
    }
    return PyLoopTls_CallOf(self, PyLoop_str._ssl_protocol, PyLoop_str._abort, exc);
}

/* abort(): 3.13+ self._force_close(None); 3.11-3.12 the guarded _abort() */
static PyObject *transport_abort(PyObject *self, PyObject *unused)
{
    PyObject *result;

    (void)unused;
    if (!PyLoopTls.abort_takes_exc)
        return PyLoopTls_NoneOrNull(force_close(self, NULL, 1));
    result = PyLoopTls_Call1(self, PyLoop_str._force_close, Py_None);
    Py_XDECREF(result);
    return PyLoopTls_NoneOrNull(result ? 0 : -1);
}

static const PyLoopParams force_close_params = {"_SSLProtocolTransport._force_close", {"exc"}, 1, 1};

/* _force_close(exc): 3.13+ guarded, 3.11-3.12 not (see the top comment) */
static PyObject *transport_force_close(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    PyObject *bound[PYLOOP_MAX_PARAMS];

    if (PyLoopArgs_Bind(&force_close_params, args, nargs, kwnames, bound) < 0)
        return NULL;
    return PyLoopTls_NoneOrNull(force_close(self, bound[0], PyLoopTls.abort_takes_exc));
}

static const PyLoopParams append_backlog_params = {"_SSLProtocolTransport._test__append_write_backlog", {"data"}, 1,
                                                   1};

/* for test only (CPython's test_sslproto uses it):
 * self._ssl_protocol._write_backlog.append(data)
 * self._ssl_protocol._write_buffer_size += len(data) */
static PyObject *transport_append_write_backlog(PyObject *self, PyObject *const *args, Py_ssize_t nargs,
                                                PyObject *kwnames)
{
    PyObject *bound[PYLOOP_MAX_PARAMS], *backlog, *protocol, *size, *sum = NULL, *length = NULL, *result;
    Py_ssize_t count;
    int status = -1;

    if (PyLoopArgs_Bind(&append_backlog_params, args, nargs, kwnames, bound) < 0 ||
        !(backlog = protocol_attr(self, PyLoop_str._write_backlog)))
        return NULL;
    result = PyLoopTls_Call1(backlog, PyLoop_str.append, bound[0]);
    Py_DECREF(backlog);
    if (!result)
        return NULL;
    Py_DECREF(result);
    if (!(protocol = PyLoopTls_Get(self, PyLoop_str._ssl_protocol)))
        return NULL;
    if ((size = PyLoopTls_Get(protocol, PyLoop_str._write_buffer_size)) &&
        (count = PyObject_Size(bound[0])) >= 0 && (length = PyLong_FromSsize_t(count)) &&
        (sum = PyNumber_InPlaceAdd(size, length)))
        status = PyLoopTls_Set(protocol, PyLoop_str._write_buffer_size, sum);
    Py_XDECREF(size);
    Py_XDECREF(length);
    Py_XDECREF(sum);
    Py_DECREF(protocol);
    return PyLoopTls_NoneOrNull(status);
}

/* The `_protocol_paused` property's getter: self._ssl_protocol._app_writing_paused
 * (asyncio's sendfile fallback reads it). A function of one argument (the
 * transport) made a `property`, as asyncio's is: the same descriptor type,
 * the same AttributeError text on assignment. */
static PyObject *transport_protocol_paused(PyObject *unused, PyObject *self)
{
    (void)unused;
    return protocol_attr(self, PyLoop_str._app_writing_paused);
}

static PyMethodDef protocol_paused_def = {"_protocol_paused", transport_protocol_paused, METH_O, NULL};

int PyLoopTls_AppAddProperties(PyTypeObject *type)
{
    PyObject *fget = PyCFunction_New(&protocol_paused_def, NULL), *property;
    int status;

    if (!fget)
        return -1;
    property = PyObject_CallOneArg((PyObject *)&PyProperty_Type, fget);
    Py_DECREF(fget);
    if (!property)
        return -1;
    status = PyObject_SetAttrString((PyObject *)type, "_protocol_paused", property);
    /* what a class statement does: the property learns its name (its
     * errors say "property '_protocol_paused' of ...") */
    if (status == 0 && PyObject_HasAttrString(property, "__set_name__")) {
        PyObject *result = PyObject_CallMethod(property, "__set_name__", "Os", (PyObject *)type, "_protocol_paused");
        status = result ? 0 : -1;
        Py_XDECREF(result);
    }
    Py_DECREF(property);
    return status;
}

PyMethodDef PyLoopTls_AppMethods[] = {
    {"__init__", PYLOOP_FASTCALL_KW(transport_init), "__init__($self, loop, ssl_protocol)\n--\n\n"},
    {"get_extra_info", PYLOOP_FASTCALL_KW(transport_get_extra_info),
     "get_extra_info($self, name, default=None)\n--\n\nGet optional transport information."},
    {"set_protocol", PYLOOP_FASTCALL_KW(transport_set_protocol), "set_protocol($self, protocol)\n--\n\n"},
    PYLOOP_NOARGS_METHOD(get_protocol, transport_get_protocol, ""),
    PYLOOP_NOARGS_METHOD(is_closing, transport_is_closing, ""),
    PYLOOP_NOARGS_METHOD(close, transport_close, "Close the transport."),
    {"__del__", PYLOOP_FASTCALL_KW(transport_del), NULL},
    PYLOOP_NOARGS_METHOD(is_reading, transport_is_reading, ""),
    PYLOOP_NOARGS_METHOD(pause_reading, transport_pause_reading, "Pause the receiving end."),
    PYLOOP_NOARGS_METHOD(resume_reading, transport_resume_reading, "Resume the receiving end."),
    {"set_write_buffer_limits", PYLOOP_FASTCALL_KW(transport_set_write_buffer_limits),
     "set_write_buffer_limits($self, high=None, low=None)\n--\n\n"
     "Set the high- and low-water limits for write flow control."},
    PYLOOP_NOARGS_METHOD(get_write_buffer_limits, transport_get_write_buffer_limits, ""),
    PYLOOP_NOARGS_METHOD(get_write_buffer_size, transport_get_write_buffer_size,
                         "Return the current size of the write buffers."),
    {"set_read_buffer_limits", PYLOOP_FASTCALL_KW(transport_set_read_buffer_limits),
     "set_read_buffer_limits($self, high=None, low=None)\n--\n\n"
     "Set the high- and low-water limits for read flow control."},
    PYLOOP_NOARGS_METHOD(get_read_buffer_limits, transport_get_read_buffer_limits, ""),
    PYLOOP_NOARGS_METHOD(get_read_buffer_size, transport_get_read_buffer_size,
                         "Return the current size of the read buffer."),
    PYLOOP_NOARGS_METHOD(write_eof, transport_write_eof, "Close the write end after flushing buffered data."),
    PYLOOP_NOARGS_METHOD(can_write_eof, transport_can_write_eof,
                         "Return True if this transport supports write_eof(), False if not."),
    PYLOOP_NOARGS_METHOD(abort, transport_abort, "Close the transport immediately."),
    {"_force_close", PYLOOP_FASTCALL_KW(transport_force_close), "_force_close($self, exc)\n--\n\n"},
    {"_test__append_write_backlog", PYLOOP_FASTCALL_KW(transport_append_write_backlog),
     "_test__append_write_backlog($self, data)\n--\n\n"},
    {NULL, NULL, 0, NULL},
};

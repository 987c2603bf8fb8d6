/*
 * tls_handshake: the cold paths of asyncio's sslproto.SSLProtocol in C:
 * the state machine (_set_state), the handshake (connection_made,
 * _start_handshake, _check_handshake_timeout, _do_handshake,
 * _on_handshake_complete), the shutdown (_start_shutdown,
 * _check_shutdown_timeout, _do_flush, _do_shutdown, _on_shutdown_complete,
 * _abort), eof and loss (eof_received, _call_eof_received,
 * connection_lost), and the rest (_fatal_error, _wakeup_waiter,
 * _get_extra_info, pause_writing, resume_writing, _is_transport_closing).
 *
 * Each method replaces, one for one, the Python method of the same name of
 * the running asyncio's sslproto (3.11's is the base; the variants that
 * differ are read at import into PyLoopTls, see tls_support.h): it reads
 * and writes the same attributes in the same order, raises the same
 * exceptions with the same texts and calls the same methods by name (on
 * self, the transport, the app protocol, the loop), so a subclass's
 * override or a test's mock of any of them is honoured as on asyncio.
 *
 * Where asyncio calls a method from inside an `except ... as exc:` block,
 * the C sets that exception as the one being handled around the call
 * (`handled`), so what the callee sees in sys.exc_info() (_fatal_error's
 * logger.debug(..., exc_info=True)) is asyncio's.
 */
#include "tls_support.h"

/* ------------------------------------------------------------------ */
/* helpers                                                             */
/* ------------------------------------------------------------------ */

/* self.<name> == member: 1, 0, or -1 raised (an Enum's == is identity;
 * the general comparison for whatever a program put there). */
static int attr_is(PyObject *self, PyObject *name, PyObject *member)
{
    PyObject *state = PyLoopTls_Get(self, name);
    int equal;

    if (!state)
        return -1;
    equal = state == member ? 1 : PyObject_RichCompareBool(state, member, Py_EQ);
    Py_DECREF(state);
    return equal;
}

static int state_is(PyObject *self, PyObject *member)
{
    return attr_is(self, PyLoop_str._state, member);
}

/* self._state in (first, second, third): third may be NULL. */
static int state_in(PyObject *self, PyObject *first, PyObject *second, PyObject *third)
{
    PyObject *state = PyLoopTls_Get(self, PyLoop_str._state), *members[] = {first, second, third};
    int found = 0;

    if (!state)
        return -1;
    for (int i = 0; i < 3 && members[i] && !found; i++)
        found = state == members[i] ? 1 : PyObject_RichCompareBool(state, members[i], Py_EQ);
    Py_DECREF(state);
    return found;
}

/* self._set_state(member), by name: 0, or -1 raised. */
static int set_state(PyObject *self, PyObject *member)
{
    PyObject *result = PyLoopTls_Call1(self, PyLoop_str._set_state, member);

    Py_XDECREF(result);
    return result ? 0 : -1;
}

/* self._loop.get_debug(): 1, 0, or -1 raised. */
static int loop_debug(PyObject *self)
{
    PyObject *loop = PyLoopTls_Get(self, PyLoop_str._loop), *debug;
    int truth;

    if (!loop)
        return -1;
    debug = PyLoopTls_Call0(loop, PyLoop_str.get_debug);
    Py_DECREF(loop);
    if (!debug)
        return -1;
    truth = PyObject_IsTrue(debug);
    Py_DECREF(debug);
    return truth;
}

/* logger.<level>(format, first[, second]): 0, or -1 raised. */
static int log_message(PyObject *level, const char *format, PyObject *first, PyObject *second)
{
    PyObject *text = PyUnicode_FromString(format), *result;

    if (!text)
        return -1;
    {
        PyObject *args[] = {PyLoop_asyncio.logger, text, first, second};
        size_t count = first ? (second ? 4 : 3) : 2;
        result = PyObject_VectorcallMethod(level, args, count | PY_VECTORCALL_ARGUMENTS_OFFSET, NULL);
    }
    Py_DECREF(text);
    Py_XDECREF(result);
    return result ? 0 : -1;
}

/* The exception being handled (sys.exc_info()) set to `exc` while asyncio
 * is inside `except ... as exc:`; handled_end puts the previous one back. */
typedef struct {
    PyObject *type, *value, *traceback;
} HandledState;

static void handled_begin(HandledState *saved, PyObject *exc)
{
    PyObject *traceback = PyException_GetTraceback(exc);

    PyErr_GetExcInfo(&saved->type, &saved->value, &saved->traceback);
    Py_INCREF(Py_TYPE(exc));
    Py_INCREF(exc);
    PyErr_SetExcInfo((PyObject *)Py_TYPE(exc), exc, traceback);
}

static void handled_end(HandledState *saved)
{
    PyErr_SetExcInfo(saved->type, saved->value, saved->traceback);
}

/* self.<name>(arg) inside `except ... as arg:`: 0, or -1 raised. */
static int call_handling(PyObject *self, PyObject *name, PyObject *arg)
{
    HandledState saved;
    PyObject *result;

    handled_begin(&saved, arg);
    result = PyLoopTls_Call1(self, name, arg);
    handled_end(&saved);
    Py_XDECREF(result);
    return result ? 0 : -1;
}

/* self._fatal_error(exc[, message]) inside `except ... as exc:`. */
static int fatal_handling(PyObject *self, PyObject *exc, PyObject *message)
{
    HandledState saved;
    PyObject *result;

    handled_begin(&saved, exc);
    result = message ? PyLoopTls_Call2(self, PyLoop_str._fatal_error, exc, message)
                     : PyLoopTls_Call1(self, PyLoop_str._fatal_error, exc);
    handled_end(&saved);
    Py_XDECREF(result);
    return result ? 0 : -1;
}

/* The 3.11/3.12 timeouts' callbacks: `lambda: self._check_handshake_timeout()`
 * (and the shutdown's), which look the method up when they run. */
static PyObject *handshake_lambda(PyObject *self, PyObject *unused)
{
    (void)unused;
    return PyLoopTls_Call0(self, PyLoop_str._check_handshake_timeout);
}

static PyObject *shutdown_lambda(PyObject *self, PyObject *unused)
{
    (void)unused;
    return PyLoopTls_Call0(self, PyLoop_str._check_shutdown_timeout);
}

static PyMethodDef handshake_lambda_def = {"<lambda>", handshake_lambda, METH_NOARGS, NULL};
static PyMethodDef shutdown_lambda_def = {"<lambda>", shutdown_lambda, METH_NOARGS, NULL};

/* self.<handle> = self._loop.call_later(self.<timeout>, callback), the
 * callback being self.<check> (3.13+) or a lambda calling it (3.11/3.12).
 * 0, or -1 raised. */
static int start_timeout(PyObject *self, PyObject *handle_name, PyObject *timeout_name, PyObject *check,
                         PyMethodDef *lambda)
{
    PyObject *loop = PyLoopTls_Get(self, PyLoop_str._loop), *timeout = NULL, *callback = NULL, *handle = NULL;
    int status = -1;

    if (!loop || !(timeout = PyLoopTls_Get(self, timeout_name)))
        goto done;
    callback = PyLoopTls.bound_timeouts ? PyLoopTls_Get(self, check) : PyCFunction_New(lambda, self);
    if (!callback || !(handle = PyLoopTls_Call2(loop, PyLoop_str.call_later, timeout, callback)))
        goto done;
    status = PyLoopTls_Set(self, handle_name, handle);
done:
    Py_XDECREF(loop);
    Py_XDECREF(timeout);
    Py_XDECREF(callback);
    Py_XDECREF(handle);
    return status;
}

/* if self.<handle> is not None: self.<handle>.cancel(); self.<handle> =
 * None.  0, or -1 raised. */
static int cancel_timeout(PyObject *self, PyObject *handle_name)
{
    PyObject *handle = PyLoopTls_Get(self, handle_name);
    int status;

    if (!handle)
        return -1;
    if (handle == Py_None) {
        Py_DECREF(handle);
        return 0;
    }
    status = PyLoopTls_CallOwn(handle, PyLoop_str.cancel);
    Py_DECREF(handle);
    if (status < 0)
        return -1;
    return PyLoopTls_Set(self, handle_name, Py_None);
}

/* `if self._x:` then the same cancel (connection_lost's form). */
static int cancel_timeout_if_true(PyObject *self, PyObject *handle_name)
{
    int truth = PyLoopTls_AttrTrue(self, handle_name);

    if (truth <= 0)
        return truth;
    return cancel_timeout(self, handle_name);
}

/* self._transport.<name>(arg or nothing) when self._transport is not None:
 * 0, or -1 raised. */
static int transport_call_if_any(PyObject *self, PyObject *name, PyObject *arg)
{
    PyObject *transport = PyLoopTls_Get(self, PyLoop_str._transport), *result;

    if (!transport)
        return -1;
    if (transport == Py_None) {
        Py_DECREF(transport);
        return 0;
    }
    result = arg ? PyLoopTls_Call1(transport, name, arg) : PyLoopTls_Call0(transport, name);
    Py_DECREF(transport);
    Py_XDECREF(result);
    return result ? 0 : -1;
}

/* self._app_transport._closed = True when there is an app transport. */
static int mark_app_transport_closed(PyObject *self)
{
    PyObject *transport = PyLoopTls_Get(self, PyLoop_str._app_transport);
    int status = 0;

    if (!transport)
        return -1;
    if (transport != Py_None)
        status = PyLoopTls_SetBool(transport, PyLoop_str._closed, 1);
    Py_DECREF(transport);
    return status;
}

/* self._loop.call_soon(callback): 0, or -1 raised. */
static int loop_call_soon(PyObject *self, PyObject *callback)
{
    return PyLoopTls_CallOf(self, PyLoop_str._loop, PyLoop_str.call_soon, callback);
}

/* ------------------------------------------------------------------ */
/* the state machine                                                   */
/* ------------------------------------------------------------------ */

/* _set_state(new_state): the transitions asyncio allows; anything else is
 * RuntimeError('cannot switch state from {} to {}'). */
static int do_set_state(PyObject *self, PyObject *new_state)
{
    PyObject *state;
    int allowed;

    allowed = new_state == PyLoopTls.unwrapped ? 1 : PyObject_RichCompareBool(new_state, PyLoopTls.unwrapped, Py_EQ);
    if (allowed < 0)
        return -1;
    if (!allowed) {
        static PyObject **const pairs[][2] = {
            {&PyLoopTls.unwrapped, &PyLoopTls.do_handshake},
            {&PyLoopTls.do_handshake, &PyLoopTls.wrapped},
            {&PyLoopTls.wrapped, &PyLoopTls.flushing},
            {&PyLoopTls.flushing, &PyLoopTls.shutdown},
        };
        for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]) && !allowed; i++) {
            int from = state_is(self, *pairs[i][0]), to;
            if (from < 0)
                return -1;
            if (!from)
                continue;
            to = new_state == *pairs[i][1] ? 1 : PyObject_RichCompareBool(new_state, *pairs[i][1], Py_EQ);
            if (to < 0)
                return -1;
            allowed = to;
        }
    }
    if (allowed)
        return PyLoopTls_Set(self, PyLoop_str._state, new_state);
    if (!(state = PyLoopTls_Get(self, PyLoop_str._state)))
        return -1;
    {
        /* str.format's {}: format(value, '') */
        PyObject *empty = PyUnicode_FromStringAndSize(NULL, 0), *from = NULL, *to = NULL;
        if (empty && (from = PyObject_Format(state, empty)) && (to = PyObject_Format(new_state, empty)))
            PyErr_Format(PyExc_RuntimeError, "cannot switch state from %U to %U", from, to);
        Py_XDECREF(empty);
        Py_XDECREF(from);
        Py_XDECREF(to);
    }
    Py_DECREF(state);
    return -1;
}

/* ------------------------------------------------------------------ */
/* the handshake                                                       */
/* ------------------------------------------------------------------ */

/* _start_handshake() */
static int start_handshake(PyObject *self)
{
    int debug = loop_debug(self);

    if (debug < 0)
        return -1;
    if (debug) {
        PyObject *loop, *now;
        if (log_message(PyLoop_str.debug, "%r starts SSL handshake", self, NULL) < 0 ||
            !(loop = PyLoopTls_Get(self, PyLoop_str._loop)))
            return -1;
        now = PyLoopTls_Call0(loop, PyLoop_str.time);
        Py_DECREF(loop);
        if (!now)
            return -1;
        debug = PyLoopTls_Set(self, PyLoop_str._handshake_start_time, now);
        Py_DECREF(now);
        if (debug < 0)
            return -1;
    } else if (PyLoopTls_Set(self, PyLoop_str._handshake_start_time, Py_None) < 0) {
        return -1;
    }
    if (set_state(self, PyLoopTls.do_handshake) < 0 ||
        start_timeout(self, PyLoop_str._handshake_timeout_handle, PyLoop_str._ssl_handshake_timeout,
                      PyLoop_str._check_handshake_timeout, &handshake_lambda_def) < 0)
        return -1;
    return PyLoopTls_CallOwn(self, PyLoop_str._do_handshake);
}

/* _check_handshake_timeout() */
static int check_handshake_timeout(PyObject *self)
{
    PyObject *timeout, *exc, *result;
    int handshaking = state_is(self, PyLoopTls.do_handshake);

    if (handshaking <= 0)
        return handshaking;
    if (!(timeout = PyLoopTls_Get(self, PyLoop_str._ssl_handshake_timeout)))
        return -1;
    /* f"{self._ssl_handshake_timeout}": format(value, '') */
    {
        PyObject *empty = PyUnicode_FromStringAndSize(NULL, 0), *text = empty ? PyObject_Format(timeout, empty) : NULL;
        Py_XDECREF(empty);
        Py_DECREF(timeout);
        if (!text)
            return -1;
        exc = PyObject_CallFunction(PyExc_ConnectionAbortedError, "N",
                                    PyUnicode_FromFormat("SSL handshake is taking longer than %U seconds: "
                                                         "aborting the connection",
                                                         text));
        Py_DECREF(text);
    }
    if (!exc)
        return -1;
    result = PyLoopTls_Call1(self, PyLoop_str._fatal_error, exc);
    Py_DECREF(exc);
    Py_XDECREF(result);
    return result ? 0 : -1;
}

/* _do_handshake() */
static int do_handshake(PyObject *self)
{
    PyObject *exc, *result;
    int status;

    if (PyLoopTls_CallOf(self, PyLoop_str._sslobj, PyLoop_str.do_handshake, NULL) == 0) {
        result = PyLoopTls_Call1(self, PyLoop_str._on_handshake_complete, Py_None);
        Py_XDECREF(result);
        return result ? 0 : -1;
    }
    if (PyLoopTls_CatchAgain())
        return PyLoopTls_CallOwn(self, PyLoop_str._process_outgoing);
    if (!PyErr_ExceptionMatches(PyLoopTls.ssl_error))
        return -1;
    exc = PyLoop_FetchException();
    status = call_handling(self, PyLoop_str._on_handshake_complete, exc);
    Py_DECREF(exc);
    return status;
}

/* `raise handshake_exc`: an exception class is instantiated, an instance
 * raised as it is, anything else is the TypeError Python's raise gives.
 * Always -1 with the exception set. */
static int raise_object(PyObject *object)
{
    if (PyExceptionClass_Check(object)) {
        PyObject *instance = PyObject_CallNoArgs(object);
        if (!instance)
            return -1;
        if (!PyExceptionInstance_Check(instance)) {
            PyErr_Format(PyExc_TypeError,
                         "calling %R should have returned an instance of BaseException, not %s", object,
                         Py_TYPE(instance)->tp_name);
            Py_DECREF(instance);
            return -1;
        }
        PyErr_SetObject(object, instance);
        Py_DECREF(instance);
    } else if (PyExceptionInstance_Check(object)) {
        PyErr_SetObject((PyObject *)Py_TYPE(object), object);
    } else {
        PyErr_SetString(PyExc_TypeError, "exceptions must derive from BaseException");
    }
    return -1;
}

/* _on_handshake_complete()'s `except Exception as exc:` part: the state
 * UNWRAPPED, the failure reported, the waiter woken with it. */
static int handshake_failed(PyObject *self, PyObject *exc)
{
    HandledState saved;
    PyObject *message;
    int certificate, status = -1;

    handled_begin(&saved, exc);
    if (set_state(self, PyLoopTls.unwrapped) < 0 ||
        (certificate = PyObject_IsInstance(exc, PyLoopTls.certificate_error)) < 0)
        goto done;
    message = PyUnicode_FromString(certificate ? "SSL handshake failed on verifying the certificate"
                                               : "SSL handshake failed");
    if (!message)
        goto done;
    {
        PyObject *result = PyLoopTls_Call2(self, PyLoop_str._fatal_error, exc, message);
        Py_DECREF(message);
        Py_XDECREF(result);
        if (!result)
            goto done;
    }
    {
        PyObject *result = PyLoopTls_Call1(self, PyLoop_str._wakeup_waiter, exc);
        Py_XDECREF(result);
        status = result ? 0 : -1;
    }
done:
    handled_end(&saved);
    return status;
}

/* self._extra.update(peercert=peercert, cipher=sslobj.cipher(),
 * compression=sslobj.compression(), ssl_object=sslobj) */
static int update_extra(PyObject *self, PyObject *sslobj, PyObject *peercert)
{
    PyObject *extra = NULL, *cipher = NULL, *compression = NULL, *kwnames = NULL, *result = NULL;

    if (!(extra = PyLoopTls_Get(self, PyLoop_str._extra)) ||
        !(cipher = PyLoopTls_Call0(sslobj, PyLoop_str.cipher)) ||
        !(compression = PyLoopTls_Call0(sslobj, PyLoop_str.compression)) ||
        !(kwnames = PyTuple_Pack(4, PyLoop_str.peercert, PyLoop_str.cipher, PyLoop_str.compression,
                                 PyLoop_str.ssl_object)))
        goto done;
    {
        PyObject *args[] = {extra, peercert, cipher, compression, sslobj};
        result = PyObject_VectorcallMethod(PyLoop_str.update, args, 1 | PY_VECTORCALL_ARGUMENTS_OFFSET, kwnames);
    }
done:
    Py_XDECREF(extra);
    Py_XDECREF(cipher);
    Py_XDECREF(compression);
    Py_XDECREF(kwnames);
    Py_XDECREF(result);
    return result ? 0 : -1;
}

/* `if self._loop.get_debug(): logger.debug("%r: SSL handshake took %.1f
 * ms", self, (self._loop.time() - self._handshake_start_time) * 1e3)`:
 * 0, or -1 raised. */
static int log_handshake_time(PyObject *self)
{
    PyObject *loop, *now = NULL, *start = NULL, *dt = NULL, *thousand = NULL, *ms = NULL;
    int debug = loop_debug(self);

    if (debug <= 0)
        return debug;
    if ((loop = PyLoopTls_Get(self, PyLoop_str._loop)) && (now = PyLoopTls_Call0(loop, PyLoop_str.time)) &&
        (start = PyLoopTls_Get(self, PyLoop_str._handshake_start_time)) && (dt = PyNumber_Subtract(now, start)) &&
        (thousand = PyFloat_FromDouble(1e3)) && (ms = PyNumber_Multiply(dt, thousand)))
        debug = log_message(PyLoop_str.debug, "%r: SSL handshake took %.1f ms", self, ms);
    else
        debug = -1;
    Py_XDECREF(loop);
    Py_XDECREF(now);
    Py_XDECREF(start);
    Py_XDECREF(dt);
    Py_XDECREF(thousand);
    Py_XDECREF(ms);
    return debug < 0 ? -1 : 0;
}

/* self._app_state = STATE_CON_MADE;
 * self._app_protocol.connection_made(self._get_app_transport()) */
static int app_connection_made(PyObject *self)
{
    PyObject *app, *made = NULL, *transport = NULL, *result = NULL;

    if (PyLoopTls_Set(self, PyLoop_str._app_state, PyLoopTls.app_con_made) < 0 ||
        !(app = PyLoopTls_Get(self, PyLoop_str._app_protocol)))
        return -1;
    if ((made = PyObject_GetAttr(app, PyLoop_str.connection_made)) &&
        (transport = PyLoopTls_Call0(self, PyLoop_str._get_app_transport)))
        result = PyObject_CallOneArg(made, transport);
    Py_DECREF(app);
    Py_XDECREF(made);
    Py_XDECREF(transport);
    Py_XDECREF(result);
    return result ? 0 : -1;
}

/* _on_handshake_complete(handshake_exc) */
static int on_handshake_complete(PyObject *self, PyObject *handshake_exc)
{
    PyObject *sslobj, *peercert = NULL;
    int status = -1, init;

    if (cancel_timeout(self, PyLoop_str._handshake_timeout_handle) < 0 ||
        !(sslobj = PyLoopTls_Get(self, PyLoop_str._sslobj)))
        return -1;
    /* try: */
    if (handshake_exc == Py_None) {
        if (set_state(self, PyLoopTls.wrapped) == 0)
            peercert = PyLoopTls_Call0(sslobj, PyLoop_str.getpeercert);
    } else {
        raise_object(handshake_exc);
    }
    if (!peercert) {
        /* except Exception as exc: */
        PyObject *exc;
        if (!PyErr_ExceptionMatches(PyExc_Exception))
            goto done;
        exc = PyLoop_FetchException();
        status = handshake_failed(self, exc);
        Py_DECREF(exc);
        goto done;
    }
    /* 3.13+ sets handshake_exc = None here (a reference cycle through the
     * frame): C holds no frame. */
    if (log_handshake_time(self) < 0)
        goto done;
    if (update_extra(self, sslobj, peercert) < 0 ||
        (init = attr_is(self, PyLoop_str._app_state, PyLoopTls.app_init)) < 0)
        goto done;
    if (init && app_connection_made(self) < 0)
        goto done;
    if (PyLoopTls_CallOwn(self, PyLoop_str._wakeup_waiter) < 0 || PyLoopTls_CallOwn(self, PyLoop_str._do_read) < 0)
        goto done;
    status = 0;
done:
    Py_DECREF(sslobj);
    Py_XDECREF(peercert);
    return status;
}

/* ------------------------------------------------------------------ */
/* the shutdown                                                        */
/* ------------------------------------------------------------------ */

/* self._abort() (3.11/3.12) or self._abort(None) (3.13+), by name. */
static int call_abort(PyObject *self)
{
    PyObject *result = PyLoopTls.abort_takes_exc ? PyLoopTls_Call1(self, PyLoop_str._abort, Py_None)
                                                 : PyLoopTls_Call0(self, PyLoop_str._abort);

    Py_XDECREF(result);
    return result ? 0 : -1;
}

/* _start_shutdown() */
static int start_shutdown(PyObject *self)
{
    int done = state_in(self, PyLoopTls.flushing, PyLoopTls.shutdown, PyLoopTls.unwrapped), handshaking;

    if (done)
        return done < 0 ? -1 : 0;
    if (mark_app_transport_closed(self) < 0 || (handshaking = state_is(self, PyLoopTls.do_handshake)) < 0)
        return -1;
    if (handshaking)
        return call_abort(self);
    if (set_state(self, PyLoopTls.flushing) < 0 ||
        start_timeout(self, PyLoop_str._shutdown_timeout_handle, PyLoop_str._ssl_shutdown_timeout,
                      PyLoop_str._check_shutdown_timeout, &shutdown_lambda_def) < 0)
        return -1;
    return PyLoopTls_CallOwn(self, PyLoop_str._do_flush);
}

/* _check_shutdown_timeout() */
static int check_shutdown_timeout(PyObject *self)
{
    PyObject *exc;
    int status, closing = state_in(self, PyLoopTls.flushing, PyLoopTls.shutdown, NULL);

    if (closing <= 0)
        return closing;
    /* exceptions.TimeoutError is the builtin TimeoutError (3.11+) */
    if (!(exc = PyObject_CallFunction(PyExc_TimeoutError, "s", "SSL shutdown timed out")))
        return -1;
    status = PyLoopTls_CallOf(self, PyLoop_str._transport, PyLoop_str._force_close, exc);
    Py_DECREF(exc);
    return status;
}

/* _do_flush() */
static int do_flush(PyObject *self)
{
    if (PyLoopTls_CallOwn(self, PyLoop_str._do_read) < 0 || set_state(self, PyLoopTls.shutdown) < 0)
        return -1;
    return PyLoopTls_CallOwn(self, PyLoop_str._do_shutdown);
}

/* _do_shutdown() */
static int do_shutdown(PyObject *self)
{
    PyObject *exc, *result;
    int eof = PyLoopTls_AttrTrue(self, PyLoop_str._eof_received), status;

    if (eof == 0)
        eof = PyLoopTls_CallOf(self, PyLoop_str._sslobj, PyLoop_str.unwrap, NULL);
    if (eof >= 0) {
        if (PyLoopTls_CallOwn(self, PyLoop_str._process_outgoing) < 0 ||
            PyLoopTls_CallOwn(self, PyLoop_str._call_eof_received) < 0)
            return -1;
        result = PyLoopTls_Call1(self, PyLoop_str._on_shutdown_complete, Py_None);
        Py_XDECREF(result);
        return result ? 0 : -1;
    }
    if (PyLoopTls_CatchAgain())
        return PyLoopTls_CallOwn(self, PyLoop_str._process_outgoing);
    if (!PyErr_ExceptionMatches(PyLoopTls.ssl_error))
        return -1;
    exc = PyLoop_FetchException();
    status = call_handling(self, PyLoop_str._on_shutdown_complete, exc);
    Py_DECREF(exc);
    return status;
}

/* self._loop.call_soon(self._transport.close) */
static int close_transport_soon(PyObject *self)
{
    PyObject *transport = PyLoopTls_Get(self, PyLoop_str._transport), *close;
    int status;

    if (!transport)
        return -1;
    close = PyObject_GetAttr(transport, PyLoop_str.close);
    Py_DECREF(transport);
    if (!close)
        return -1;
    status = loop_call_soon(self, close);
    Py_DECREF(close);
    return status;
}

/* _on_shutdown_complete(shutdown_exc): 3.11-3.13 cancel the shutdown
 * timeout first; 3.14+ cancel it only on an error, and keep it (or start
 * it, for a shutdown the peer began) until connection_lost(), as
 * transport.close() may wait forever on a peer that does not read. */
static int on_shutdown_complete(PyObject *self, PyObject *shutdown_exc)
{
    int failed;

    if (!PyLoopTls.keep_shutdown_timeout && cancel_timeout(self, PyLoop_str._shutdown_timeout_handle) < 0)
        return -1;
    if ((failed = PyObject_IsTrue(shutdown_exc)) < 0)
        return -1;
    if (failed) {
        PyObject *result;
        if (PyLoopTls.keep_shutdown_timeout && cancel_timeout(self, PyLoop_str._shutdown_timeout_handle) < 0)
            return -1;
        result = PyLoopTls_Call1(self, PyLoop_str._fatal_error, shutdown_exc);
        Py_XDECREF(result);
        return result ? 0 : -1;
    }
    if (PyLoopTls.keep_shutdown_timeout) {
        PyObject *handle = PyLoopTls_Get(self, PyLoop_str._shutdown_timeout_handle);
        int none = handle == Py_None;
        if (!handle)
            return -1;
        Py_DECREF(handle);
        if (none && start_timeout(self, PyLoop_str._shutdown_timeout_handle, PyLoop_str._ssl_shutdown_timeout,
                                  PyLoop_str._check_shutdown_timeout, &shutdown_lambda_def) < 0)
            return -1;
    }
    return close_transport_soon(self);
}

/* _abort() (3.11/3.12: transport.abort()) and _abort(exc) (3.13+:
 * transport._force_close(exc)). */
static int do_abort(PyObject *self, PyObject *exc)
{
    if (set_state(self, PyLoopTls.unwrapped) < 0)
        return -1;
    if (PyLoopTls.abort_takes_exc)
        return transport_call_if_any(self, PyLoop_str._force_close, exc);
    return transport_call_if_any(self, PyLoop_str.abort, NULL);
}

/* ------------------------------------------------------------------ */
/* eof and loss                                                        */
/* ------------------------------------------------------------------ */

/* eof_received()'s try body: 1 for `return True`, 0, or -1 raised. */
static int eof_received_body(PyObject *self)
{
    int debug = loop_debug(self), is;

    if (debug < 0 || (debug && log_message(PyLoop_str.debug, "%r received EOF", self, NULL) < 0))
        return -1;
    if ((is = state_is(self, PyLoopTls.do_handshake)) != 0) {
        PyObject *result;
        if (is < 0)
            return -1;
        result = PyLoopTls_Call1(self, PyLoop_str._on_handshake_complete, PyExc_ConnectionResetError);
        Py_XDECREF(result);
        return result ? 0 : -1;
    }
    if ((is = state_is(self, PyLoopTls.wrapped)) != 0) {
        int paused;
        if (is < 0 || set_state(self, PyLoopTls.flushing) < 0 ||
            (paused = PyLoopTls_AttrTrue(self, PyLoop_str._app_reading_paused)) < 0)
            return -1;
        if (paused)
            return 1;
        return PyLoopTls_CallOwn(self, PyLoop_str._do_flush);
    }
    if ((is = state_is(self, PyLoopTls.flushing)) != 0) {
        if (is < 0 || PyLoopTls_CallOwn(self, PyLoop_str._do_write) < 0 || set_state(self, PyLoopTls.shutdown) < 0)
            return -1;
        return PyLoopTls_CallOwn(self, PyLoop_str._do_shutdown);
    }
    if ((is = state_is(self, PyLoopTls.shutdown)) != 0)
        return is < 0 ? -1 : PyLoopTls_CallOwn(self, PyLoop_str._do_shutdown);
    return 0;
}

/* eof_received(): True when the app's reading is paused (the transport
 * then leaves closing to the protocol), else None. */
static PyObject *eof_received(PyObject *self)
{
    int result;

    if (PyLoopTls_SetBool(self, PyLoop_str._eof_received, 1) < 0)
        return NULL;
    if ((result = eof_received_body(self)) < 0) {
        /* except Exception: self._transport.close(); raise */
        PyObject *exc;
        HandledState saved;
        int closed;
        if (!PyErr_ExceptionMatches(PyExc_Exception))
            return NULL;
        exc = PyLoop_FetchException();
        handled_begin(&saved, exc);
        closed = PyLoopTls_CallOf(self, PyLoop_str._transport, PyLoop_str.close, NULL);
        handled_end(&saved);
        if (closed < 0) {
            /* the new exception's __context__ is the one being handled */
            PyObject *raised = PyLoop_FetchException();
            PyException_SetContext(raised, exc);
            PyLoop_RestoreException(raised);
            return NULL;
        }
        PyLoop_RestoreException(exc);
        return NULL;
    }
    if (result)
        Py_RETURN_TRUE;
    Py_RETURN_NONE;
}

/* _call_eof_received() */
static int call_eof_received(PyObject *self)
{
    PyObject *app, *keep_open, *exc, *message;
    int made = attr_is(self, PyLoop_str._app_state, PyLoopTls.app_con_made), keep, status;

    if (made < 0)
        goto failed;
    if (!made)
        return 0;
    if (PyLoopTls_Set(self, PyLoop_str._app_state, PyLoopTls.app_eof) < 0 ||
        !(app = PyLoopTls_Get(self, PyLoop_str._app_protocol)))
        goto failed;
    keep_open = PyLoopTls_Call0(app, PyLoop_str.eof_received);
    Py_DECREF(app);
    if (!keep_open)
        goto failed;
    keep = PyObject_IsTrue(keep_open);
    Py_DECREF(keep_open);
    if (keep < 0 ||
        (keep && log_message(PyLoop_str.warning, "returning true from eof_received() has no effect when using ssl",
                             NULL, NULL) < 0))
        goto failed;
    return 0;
failed:
    /* except (KeyboardInterrupt, SystemExit): raise
     * except BaseException as ex: self._fatal_error(ex, 'Error calling eof_received()') */
    if (PyLoop_IsFatalToRun())
        return -1;
    exc = PyLoop_FetchException();
    if (!(message = PyUnicode_FromString("Error calling eof_received()"))) {
        Py_DECREF(exc);
        return -1;
    }
    status = fatal_handling(self, exc, message);
    Py_DECREF(message);
    Py_DECREF(exc);
    return status;
}

/* connection_lost(exc) */
static int connection_lost(PyObject *self, PyObject *exc)
{
    PyObject *backlog = PyLoopTls_Get(self, PyLoop_str._write_backlog), *transport;
    int handshaking, made;

    if (!backlog)
        return -1;
    made = PyLoopTls_CallOwn(backlog, PyLoop_str.clear);
    Py_DECREF(backlog);
    if (made < 0 || PyLoopTls_CallOf(self, PyLoop_str._outgoing, PyLoop_str.read, NULL) < 0 ||
        PyLoopTls_AddTo(self, PyLoop_str._conn_lost, 1) < 0 || mark_app_transport_closed(self) < 0 ||
        (handshaking = state_is(self, PyLoopTls.do_handshake)) < 0)
        return -1;
    if (!handshaking) {
        if ((made = attr_is(self, PyLoop_str._app_state, PyLoopTls.app_con_made)) == 0)
            made = attr_is(self, PyLoop_str._app_state, PyLoopTls.app_eof);
        if (made < 0)
            return -1;
        if (made) {
            PyObject *app, *lost, *loop, *handle;
            if (PyLoopTls_Set(self, PyLoop_str._app_state, PyLoopTls.app_con_lost) < 0 ||
                !(loop = PyLoopTls_Get(self, PyLoop_str._loop)))
                return -1;
            if (!(app = PyLoopTls_Get(self, PyLoop_str._app_protocol))) {
                Py_DECREF(loop);
                return -1;
            }
            lost = PyObject_GetAttr(app, PyLoop_str.connection_lost);
            Py_DECREF(app);
            handle = lost ? PyLoopTls_Call2(loop, PyLoop_str.call_soon, lost, exc) : NULL;
            Py_DECREF(loop);
            Py_XDECREF(lost);
            if (!handle)
                return -1;
            Py_DECREF(handle);
        }
    }
    if (set_state(self, PyLoopTls.unwrapped) < 0 || PyLoopTls_Set(self, PyLoop_str._transport, Py_None) < 0 ||
        PyLoopTls_Set(self, PyLoop_str._app_transport, Py_None) < 0 ||
        PyLoopTls_Set(self, PyLoop_str._app_protocol, Py_None) < 0)
        return -1;
    transport = PyLoopTls_Call1(self, PyLoop_str._wakeup_waiter, exc);
    if (!transport)
        return -1;
    Py_DECREF(transport);
    if (cancel_timeout_if_true(self, PyLoop_str._shutdown_timeout_handle) < 0)
        return -1;
    return cancel_timeout_if_true(self, PyLoop_str._handshake_timeout_handle);
}

/* ------------------------------------------------------------------ */
/* errors and the rest                                                 */
/* ------------------------------------------------------------------ */

/* _fatal_error(exc, message): the transport force-closed; an OSError is
 * logged only in debug mode, anything but CancelledError goes to the
 * loop's exception handler. */
static int fatal_error(PyObject *self, PyObject *exc, PyObject *message)
{
    PyObject *transport = PyLoopTls_Get(self, PyLoop_str._transport);
    int truth, is;

    if (!transport)
        return -1;
    truth = PyObject_IsTrue(transport);
    if (truth > 0) {
        PyObject *result = PyLoopTls_Call1(transport, PyLoop_str._force_close, exc);
        Py_XDECREF(result);
        truth = result ? 0 : -1;
    }
    Py_DECREF(transport);
    if (truth < 0 || (is = PyObject_IsInstance(exc, PyExc_OSError)) < 0)
        return -1;
    if (is) {
        PyObject *text, *kwnames, *result;
        int debug = loop_debug(self);
        if (debug <= 0)
            return debug;
        /* logger.debug("%r: %s", self, message, exc_info=True) */
        if (!(text = PyUnicode_FromString("%r: %s")))
            return -1;
        if (!(kwnames = PyTuple_Pack(1, PyLoop_str.exc_info))) {
            Py_DECREF(text);
            return -1;
        }
        {
            PyObject *args[] = {PyLoop_asyncio.logger, text, self, message, Py_True};
            result = PyObject_VectorcallMethod(PyLoop_str.debug, args, 4 | PY_VECTORCALL_ARGUMENTS_OFFSET, kwnames);
        }
        Py_DECREF(text);
        Py_DECREF(kwnames);
        Py_XDECREF(result);
        return result ? 0 : -1;
    }
    if ((is = PyObject_IsInstance(exc, PyLoopTls.cancelled_error)) != 0)
        return is < 0 ? -1 : 0;
    {
        PyObject *loop = NULL, *context = NULL, *result = NULL;
        if ((loop = PyLoopTls_Get(self, PyLoop_str._loop)) && (context = PyDict_New()) &&
            PyDict_SetItem(context, PyLoop_str.message, message) == 0 &&
            PyDict_SetItem(context, PyLoop_str.exception, exc) == 0 &&
            (transport = PyLoopTls_Get(self, PyLoop_str._transport))) {
            if (PyDict_SetItem(context, PyLoop_str.transport, transport) == 0 &&
                PyDict_SetItem(context, PyLoop_str.protocol, self) == 0)
                result = PyLoopTls_Call1(loop, PyLoop_str.call_exception_handler, context);
            Py_DECREF(transport);
        }
        Py_XDECREF(loop);
        Py_XDECREF(context);
        Py_XDECREF(result);
        return result ? 0 : -1;
    }
}

/* _wakeup_waiter(exc=None) */
static int wakeup_waiter(PyObject *self, PyObject *exc)
{
    PyObject *waiter = PyLoopTls_Get(self, PyLoop_str._waiter), *cancelled, *result;
    int truth;

    if (!waiter)
        return -1;
    if (waiter == Py_None) {
        Py_DECREF(waiter);
        return 0;
    }
    if (!(cancelled = PyLoopTls_Call0(waiter, PyLoop_str.cancelled))) {
        Py_DECREF(waiter);
        return -1;
    }
    truth = PyObject_IsTrue(cancelled);
    Py_DECREF(cancelled);
    if (truth == 0) {
        result = exc != Py_None ? PyLoopTls_Call1(waiter, PyLoop_str.set_exception, exc)
                                : PyLoopTls_Call1(waiter, PyLoop_str.set_result, Py_None);
        Py_XDECREF(result);
        truth = result ? 0 : -1;
    }
    Py_DECREF(waiter);
    if (truth < 0)
        return -1;
    return PyLoopTls_Set(self, PyLoop_str._waiter, Py_None);
}

/* _get_extra_info(name, default=None) */
static PyObject *get_extra_info(PyObject *self, PyObject *name, PyObject *fallback)
{
    PyObject *extra = PyLoopTls_Get(self, PyLoop_str._extra), *transport, *value;
    int has;

    if (!extra)
        return NULL;
    has = PySequence_Contains(extra, name);
    if (has != 0) {
        value = has > 0 ? PyObject_GetItem(extra, name) : NULL;
        Py_DECREF(extra);
        return value;
    }
    Py_DECREF(extra);
    if (!(transport = PyLoopTls_Get(self, PyLoop_str._transport)))
        return NULL;
    if (transport == Py_None) {
        Py_DECREF(transport);
        return Py_NewRef(fallback);
    }
    value = PyLoopTls_Call2(transport, PyLoop_str.get_extra_info, name, fallback);
    Py_DECREF(transport);
    return value;
}

/* pause_writing() / resume_writing(): the low-level transport's flow
 * control; `assert`s as asyncio's (not under python -O). */
static int set_ssl_writing_paused(PyObject *self, int paused)
{
    if (PyLoopTls.asserts) {
        int now = PyLoopTls_AttrTrue(self, PyLoop_str._ssl_writing_paused);
        if (now < 0)
            return -1;
        if (now == paused) {
            PyErr_SetNone(PyExc_AssertionError);
            return -1;
        }
    }
    return PyLoopTls_SetBool(self, PyLoop_str._ssl_writing_paused, paused);
}

/* _is_transport_closing() (3.13.x, 3.14+) */
static PyObject *is_transport_closing(PyObject *self)
{
    PyObject *transport = PyLoopTls_Get(self, PyLoop_str._transport), *closing;

    if (!transport)
        return NULL;
    if (transport == Py_None) {
        Py_DECREF(transport);
        Py_RETURN_FALSE;
    }
    closing = PyLoopTls_Call0(transport, PyLoop_str.is_closing);
    Py_DECREF(transport);
    return closing;
}

/* ------------------------------------------------------------------ */
/* the methods                                                         */
/* ------------------------------------------------------------------ */

/* asyncio's SSLProtocol.<name> replaced on the class after import
 * (mock.patch.object(sslproto.SSLProtocol, ...), a program's monkeypatch):
 * asyncio's instances would run the replacement, which this subclass's C
 * method would hide, so the C method calls it instead, with self and its
 * own arguments. 1 when delegated (*result: the call's result, or NULL
 * raised), 0 when asyncio's own function is still there. */
static int delegated(PyObject *self, PyObject *name, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames,
                     PyObject **result)
{
    PyObject *now, *then, **stack;
    Py_ssize_t total = nargs + (kwnames ? PyTuple_GET_SIZE(kwnames) : 0);

    *result = NULL;
    /* 3.10: no asyncio class under the types (tls_transport.c's
     * older_types), nothing of asyncio's to honour */
    if (!PyLoopTls.protocol_base)
        return 0;
    if (!(now = PyObject_GetAttr(PyLoopTls.protocol_base, name)))
        return 1;
    then = PyDict_GetItemWithError(PyLoopTls.protocol_originals, name);
    if (now == then || (!then && PyErr_Occurred())) {
        Py_DECREF(now);
        return then ? 0 : 1;
    }
    if (!(stack = PyMem_New(PyObject *, total + 1))) {
        Py_DECREF(now);
        PyErr_NoMemory();
        return 1;
    }
    stack[0] = self;
    for (Py_ssize_t i = 0; i < total; i++)
        stack[i + 1] = args[i];
    *result = PyObject_Vectorcall(now, stack, nargs + 1, kwnames);
    PyMem_Free(stack);
    Py_DECREF(now);
    return 1;
}

/* The first statement of each method: a replaced base method runs instead. */
#define DELEGATE(name, args, nargs, kwnames)                                                                      \
    do {                                                                                                          \
        PyObject *replaced_;                                                                                      \
        if (delegated(self, PyLoop_str.name, (args), (nargs), (kwnames), &replaced_))                             \
            return replaced_;                                                                                     \
    } while (0)

#define ONE_PARAM(var, qualname, name) static const PyLoopParams var = {qualname, {name}, 1, 1}

ONE_PARAM(set_state_params, "SSLProtocol._set_state", "new_state");
ONE_PARAM(connection_made_params, "SSLProtocol.connection_made", "transport");
ONE_PARAM(connection_lost_params, "SSLProtocol.connection_lost", "exc");
ONE_PARAM(handshake_complete_params, "SSLProtocol._on_handshake_complete", "handshake_exc");
ONE_PARAM(shutdown_complete_params, "SSLProtocol._on_shutdown_complete", "shutdown_exc");
static const PyLoopParams abort_params = {"SSLProtocol._abort", {NULL}, 0, 0};
static const PyLoopParams abort_exc_params = {"SSLProtocol._abort", {"exc"}, 1, 1};
static const PyLoopParams fatal_error_params = {"SSLProtocol._fatal_error", {"exc", "message"}, 1, 2};
static const PyLoopParams wakeup_waiter_params = {"SSLProtocol._wakeup_waiter", {"exc"}, 0, 1};
static const PyLoopParams get_extra_info_params = {"SSLProtocol._get_extra_info", {"name", "default"}, 1, 2};

#define BIND(params)                                                                                              \
    PyObject *bound[PYLOOP_MAX_PARAMS];                                                                           \
    if (PyLoopArgs_Bind(&(params), args, nargs, kwnames, bound) < 0)                                              \
        return NULL

/* The method wrappers that only delegate, bind and call: `wrapper` is the
 * C method of asyncio's `name`, running fn(self) or fn(self, the one
 * argument). */
#define NOARGS_METHOD(wrapper, name, fn)                                                                          \
    static PyObject *wrapper(PyObject *self, PyObject *Py_UNUSED(unused))                                         \
    {                                                                                                             \
        DELEGATE(name, NULL, 0, NULL);                                                                            \
        return PyLoopTls_NoneOrNull(fn(self));                                                                    \
    }

#define ONE_ARG_METHOD(wrapper, name, params, fn)                                                                 \
    static PyObject *wrapper(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)          \
    {                                                                                                             \
        DELEGATE(name, args, nargs, kwnames);                                                                     \
        BIND(params);                                                                                             \
        return PyLoopTls_NoneOrNull(fn(self, bound[0]));                                                          \
    }

ONE_ARG_METHOD(protocol_set_state, _set_state, set_state_params, do_set_state)

/* connection_made(transport): self._transport = transport, then the
 * handshake starts. */
static PyObject *protocol_connection_made(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    DELEGATE(connection_made, args, nargs, kwnames);
    BIND(connection_made_params);
    if (PyLoopTls_Set(self, PyLoop_str._transport, bound[0]) < 0)
        return NULL;
    return PyLoopTls_NoneOrNull(PyLoopTls_CallOwn(self, PyLoop_str._start_handshake));
}

ONE_ARG_METHOD(protocol_connection_lost, connection_lost, connection_lost_params, connection_lost)
NOARGS_METHOD(protocol_start_handshake, _start_handshake, start_handshake)
NOARGS_METHOD(protocol_check_handshake_timeout, _check_handshake_timeout, check_handshake_timeout)
NOARGS_METHOD(protocol_do_handshake, _do_handshake, do_handshake)
ONE_ARG_METHOD(protocol_on_handshake_complete, _on_handshake_complete, handshake_complete_params, on_handshake_complete)
NOARGS_METHOD(protocol_start_shutdown, _start_shutdown, start_shutdown)
NOARGS_METHOD(protocol_check_shutdown_timeout, _check_shutdown_timeout, check_shutdown_timeout)
NOARGS_METHOD(protocol_do_flush, _do_flush, do_flush)
NOARGS_METHOD(protocol_do_shutdown, _do_shutdown, do_shutdown)
ONE_ARG_METHOD(protocol_on_shutdown_complete, _on_shutdown_complete, shutdown_complete_params, on_shutdown_complete)

/* _abort() or _abort(exc), as the running asyncio's */
static PyObject *protocol_abort(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    DELEGATE(_abort, args, nargs, kwnames);
    BIND(*(PyLoopTls.abort_takes_exc ? &abort_exc_params : &abort_params));
    return PyLoopTls_NoneOrNull(do_abort(self, PyLoopTls.abort_takes_exc ? bound[0] : NULL));
}

static PyObject *protocol_eof_received(PyObject *self, PyObject *unused)
{
    DELEGATE(eof_received, NULL, 0, NULL);
    (void)unused;
    return eof_received(self);
}

NOARGS_METHOD(protocol_call_eof_received, _call_eof_received, call_eof_received)

static PyObject *protocol_fatal_error(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    DELEGATE(_fatal_error, args, nargs, kwnames);
    PyObject *message;
    int status;

    BIND(fatal_error_params);
    if (bound[1])
        return PyLoopTls_NoneOrNull(fatal_error(self, bound[0], bound[1]));
    if (!(message = PyUnicode_FromString("Fatal error on transport")))
        return NULL;
    status = fatal_error(self, bound[0], message);
    Py_DECREF(message);
    return PyLoopTls_NoneOrNull(status);
}

static PyObject *protocol_wakeup_waiter(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    DELEGATE(_wakeup_waiter, args, nargs, kwnames);
    BIND(wakeup_waiter_params);
    return PyLoopTls_NoneOrNull(wakeup_waiter(self, bound[0] ? bound[0] : Py_None));
}

static PyObject *protocol_get_extra_info(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    DELEGATE(_get_extra_info, args, nargs, kwnames);
    BIND(get_extra_info_params);
    return get_extra_info(self, bound[0], bound[1] ? bound[1] : Py_None);
}

static PyObject *protocol_is_transport_closing(PyObject *self, PyObject *unused)
{
    DELEGATE(_is_transport_closing, NULL, 0, NULL);
    (void)unused;
    return is_transport_closing(self);
}

static PyObject *protocol_pause_writing(PyObject *self, PyObject *unused)
{
    DELEGATE(pause_writing, NULL, 0, NULL);
    (void)unused;
    return PyLoopTls_NoneOrNull(set_ssl_writing_paused(self, 1));
}

static PyObject *protocol_resume_writing(PyObject *self, PyObject *unused)
{
    DELEGATE(resume_writing, NULL, 0, NULL);
    (void)unused;
    if (set_ssl_writing_paused(self, 0) < 0)
        return NULL;
    return PyLoopTls_NoneOrNull(PyLoopTls_CallOwn(self, PyLoop_str._process_outgoing));
}

#define KW(name, function, signature)                                                                           \
    {                                                                                                             \
        name, PYLOOP_FASTCALL_KW(function), name signature "\n--\n\n"                                             \
    }
#define NOARGS(name, function)                                                                                    \
    {                                                                                                             \
        name, (function), METH_NOARGS, name "($self, /)\n--\n\n"                                                  \
    }

/* _is_transport_closing stays the last entry: an asyncio without it
 * drops it (PyLoopTls_InitNames). */
PyMethodDef PyLoopTls_HandshakeMethods[] = {
    KW("_set_state", protocol_set_state, "($self, new_state)"),
    KW("connection_made", protocol_connection_made, "($self, transport)"),
    KW("connection_lost", protocol_connection_lost, "($self, exc)"),
    NOARGS("_start_handshake", protocol_start_handshake),
    NOARGS("_check_handshake_timeout", protocol_check_handshake_timeout),
    NOARGS("_do_handshake", protocol_do_handshake),
    KW("_on_handshake_complete", protocol_on_handshake_complete, "($self, handshake_exc)"),
    NOARGS("_start_shutdown", protocol_start_shutdown),
    NOARGS("_check_shutdown_timeout", protocol_check_shutdown_timeout),
    NOARGS("_do_flush", protocol_do_flush),
    NOARGS("_do_shutdown", protocol_do_shutdown),
    KW("_on_shutdown_complete", protocol_on_shutdown_complete, "($self, shutdown_exc)"),
    {"_abort", PYLOOP_FASTCALL_KW(protocol_abort), NULL},
    NOARGS("eof_received", protocol_eof_received),
    NOARGS("_call_eof_received", protocol_call_eof_received),
    KW("_fatal_error", protocol_fatal_error, "($self, exc, message='Fatal error on transport')"),
    KW("_wakeup_waiter", protocol_wakeup_waiter, "($self, exc=None)"),
    KW("_get_extra_info", protocol_get_extra_info, "($self, name, default=None)"),
    NOARGS("pause_writing", protocol_pause_writing),
    NOARGS("resume_writing", protocol_resume_writing),
    NOARGS("_is_transport_closing", protocol_is_transport_closing),
    {NULL, NULL, 0, NULL},
};

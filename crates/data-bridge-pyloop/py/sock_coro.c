/*
 * The coroutine a loop.sock_*() method returns (sockops.c): asyncio's are
 * `async def`, so this one has the coroutine protocol (send, throw, close,
 * __await__, am_send from 3.10), and collections.abc.Coroutine, and with it
 * asyncio.iscoroutine(), accept it; create_task, ensure_future, wait_for and
 * `await` take it. Nothing runs until it is first resumed; never started, it
 * warns "coroutine ... was never awaited", like one. Its body (sockops.c's
 * SockCoroBody) runs up to an await (PyLoopSockCoro_Await), after which the
 * coroutine delegates to what it awaits, as `yield from` does, until that
 * returns; then it returns that value (or, after the resolving await of
 * sock_connect, runs the body's next part). Who owns what: pyloop_module.h.
 */
#include "sock_coro.h"

static PyTypeObject SockCoroType;

/* warnings._warn_unawaited_coroutine, or NULL (no such hook: no warning) */
static PyObject *warn_unawaited;

/* The frame is gone: what it held goes. */
static void coro_finish(SockCoro *self)
{
    self->state = CORO_DONE;
    Py_CLEAR(self->awaiting);
    Py_CLEAR(self->sock);
    Py_CLEAR(self->arg);
    Py_CLEAR(self->arg2);
    Py_CLEAR(self->loop);
}

/* The value a finished iterator returned: StopIteration's, or None when no
 * exception is set. -1 when another exception is set. */
static int fetch_stop_value(PyObject **value)
{
    PyObject *exception;

    if (!PyErr_Occurred()) {
        Py_INCREF(Py_None);
        *value = Py_None;
        return 0;
    }
    if (!PyErr_ExceptionMatches(PyExc_StopIteration))
        return -1;
    exception = PyLoop_FetchException();
    *value = exception ? ((PyStopIterationObject *)exception)->value : NULL;
    if (!*value)
        *value = Py_None;
    Py_INCREF(*value);
    Py_XDECREF(exception);
    return 0;
}

/* `yield from iterator` with send(value). */
static step_result delegate_send(PyObject *iterator, PyObject *value, PyObject **result)
{
#if PY_VERSION_HEX >= 0x030A0000
    switch (PyIter_Send(iterator, value, result)) {
    case PYGEN_NEXT:
        return STEP_NEXT;
    case PYGEN_RETURN:
        return STEP_RETURN;
    default:
        *result = NULL;
        return STEP_ERROR;
    }
#else
    PyObject *yielded;

    if (value == Py_None && PyIter_Check(iterator))
        yielded = Py_TYPE(iterator)->tp_iternext(iterator);
    else
        yielded = PyObject_CallMethodOneArg(iterator, PyLoop_str.send, value);
    if (yielded) {
        *result = yielded;
        return STEP_NEXT;
    }
    if (fetch_stop_value(result) < 0) {
        *result = NULL;
        return STEP_ERROR;
    }
    return STEP_RETURN;
#endif
}

/* `yield from iterator` with throw(exception): 1 when the iterator has no
 * throw() (the exception is then raised where the coroutine waits). */
static int delegate_throw(PyObject *iterator, PyObject *exception, PyObject **result, step_result *step)
{
    PyObject *method = PyObject_GetAttr(iterator, PyLoop_str.throw), *yielded;

    if (!method) {
        if (!PyErr_ExceptionMatches(PyExc_AttributeError)) {
            *step = STEP_ERROR;
            return 0;
        }
        PyErr_Clear();
        return 1;
    }
    yielded = PyObject_CallOneArg(method, exception);
    Py_DECREF(method);
    if (yielded) {
        *result = yielded;
        *step = STEP_NEXT;
    } else if (fetch_stop_value(result) < 0) {
        *result = NULL;
        *step = STEP_ERROR;
    } else {
        *step = STEP_RETURN;
    }
    return 0;
}

/* iterator.close(), if it has one (as a coroutine's close() closes what it
 * awaits). */
static int close_iterator(PyObject *iterator)
{
    PyObject *method = PyObject_GetAttr(iterator, PyLoop_str.close), *result;

    if (!method) {
        if (!PyErr_ExceptionMatches(PyExc_AttributeError))
            return -1;
        PyErr_Clear();
        return 0;
    }
    result = PyObject_CallNoArgs(method);
    Py_DECREF(method);
    if (!result)
        return -1;
    Py_DECREF(result);
    return 0;
}

/* What `await awaitable` iterates. */
static PyObject *awaitable_iterator(PyObject *awaitable)
{
    PyAsyncMethods *async = Py_TYPE(awaitable)->tp_as_async;
    PyObject *iterator;

    if (PyCoro_CheckExact(awaitable)) {
        Py_INCREF(awaitable);
        return awaitable;
    }
    if (!async || !async->am_await) {
        PyErr_Format(PyExc_TypeError, "object %.100s can't be used in 'await' expression", Py_TYPE(awaitable)->tp_name);
        return NULL;
    }
    iterator = async->am_await(awaitable);
    if (iterator && !PyIter_Check(iterator)) {
        PyErr_Format(PyExc_TypeError, "__await__() returned non-iterator of type '%.100s'", Py_TYPE(iterator)->tp_name);
        Py_CLEAR(iterator);
    }
    return iterator;
}

step_result PyLoopSockCoro_Await(SockCoro *self, PyObject *awaitable, int state, PyObject **result)
{
    PyObject *iterator = awaitable_iterator(awaitable);

    if (!iterator)
        return STEP_ERROR;
    self->awaiting = iterator;
    self->state = (unsigned char)state;
    return delegate_send(iterator, Py_None, result);
}

/* The resolving await returned (at once, or now): the body goes on. */
static step_result resume_resolved(SockCoro *self, PyObject **result)
{
    PyObject *value = *result;
    step_result step;

    *result = NULL;
    Py_CLEAR(self->awaiting);
    self->state = CORO_CREATED; /* running, between the two awaits */
    step = self->body->resolved(self, value, result);
    Py_DECREF(value);
    return step;
}

/* One resumption: send(value) when `exception` is NULL, else throw(exception). */
static step_result coro_step(SockCoro *self, PyObject *value, PyObject *exception, PyObject **result)
{
    step_result step = STEP_ERROR;

    *result = NULL;
    if (self->running) {
        PyErr_SetString(PyExc_ValueError, "coroutine already executing");
        return STEP_ERROR;
    }
    switch (self->state) {
    case CORO_DONE:
        PyErr_SetString(PyExc_RuntimeError, "cannot reuse already awaited coroutine");
        return STEP_ERROR;
    case CORO_CREATED:
        if (exception) {
            coro_finish(self);
            Py_INCREF(exception);
            PyLoop_RestoreException(exception);
            return STEP_ERROR;
        }
        if (value != Py_None) {
            PyErr_SetString(PyExc_TypeError, "can't send non-None value to a just-started coroutine");
            return STEP_ERROR;
        }
        self->running = 1;
        step = self->body->start(self, result);
        break;
    default:
        self->running = 1;
        if (!exception) {
            step = delegate_send(self->awaiting, value, result);
        } else if (PyErr_GivenExceptionMatches(exception, PyExc_GeneratorExit)) {
            /* As a coroutine's throw() does: close what it awaits first. */
            step = STEP_ERROR;
            if (close_iterator(self->awaiting) == 0) {
                Py_INCREF(exception);
                PyLoop_RestoreException(exception);
            }
        } else if (delegate_throw(self->awaiting, exception, result, &step)) {
            Py_INCREF(exception);
            PyLoop_RestoreException(exception);
            step = STEP_ERROR;
        }
        break;
    }
    if (step == STEP_RETURN && self->state == CORO_RESOLVING)
        step = resume_resolved(self, result);
    self->running = 0;
    if (step != STEP_NEXT)
        coro_finish(self);
    return step;
}

/* _PyGen_SetStopIterationValue */
static void set_stop_iteration(PyObject *value)
{
    PyObject *exception;

    if (value == Py_None) {
        PyErr_SetNone(PyExc_StopIteration);
        return;
    }
    if (!PyTuple_Check(value) && !PyExceptionInstance_Check(value)) {
        PyErr_SetObject(PyExc_StopIteration, value);
        return;
    }
    exception = PyObject_CallOneArg(PyExc_StopIteration, value);
    if (exception) {
        PyErr_SetObject(PyExc_StopIteration, exception);
        Py_DECREF(exception);
    }
}

/* A step as a method's return: the yielded value, or NULL with
 * StopIteration(value) or the error. */
static PyObject *step_return(step_result step, PyObject *result)
{
    if (step == STEP_NEXT)
        return result;
    if (step == STEP_RETURN) {
        set_stop_iteration(result);
        Py_DECREF(result);
    }
    return NULL;
}

static PyObject *coro_iternext(SockCoro *self)
{
    PyObject *result;
    step_result step = coro_step(self, Py_None, NULL, &result);

    if (step == STEP_RETURN && result == Py_None) {
        Py_DECREF(result); /* the end of iteration, without an exception */
        return NULL;
    }
    return step_return(step, result);
}

#if PY_VERSION_HEX >= 0x030A0000
static PySendResult coro_am_send(SockCoro *self, PyObject *value, PyObject **result)
{
    switch (coro_step(self, value, NULL, result)) {
    case STEP_NEXT:
        return PYGEN_NEXT;
    case STEP_RETURN:
        return PYGEN_RETURN;
    default:
        return PYGEN_ERROR;
    }
}
#endif

static PyObject *coro_send(SockCoro *self, PyObject *value)
{
    PyObject *result;
    step_result step = coro_step(self, value, NULL, &result);
    return step_return(step, result);
}

/* The exception throw(type[, value[, traceback]]) raises, as a coroutine's
 * throw() makes it from its arguments (gen_throw): a new reference, or NULL
 * with the TypeError. */
static PyObject *thrown_exception(PyObject *type, PyObject *value, PyObject *traceback)
{
    PyObject *exception;

    if (traceback == Py_None)
        traceback = NULL;
    else if (!PyTraceBack_Check(traceback)) {
        PyErr_SetString(PyExc_TypeError, "throw() third argument must be a traceback object");
        return NULL;
    }
    if (PyExceptionClass_Check(type)) {
        PyObject *normal_type = type, *normal_value = value, *normal_traceback = traceback;
        Py_INCREF(normal_type);
        Py_INCREF(normal_value);
        Py_XINCREF(normal_traceback);
        PyErr_NormalizeException(&normal_type, &normal_value, &normal_traceback);
        Py_DECREF(normal_type);
        Py_XDECREF(normal_traceback);
        if (!normal_value || PyErr_Occurred()) {
            Py_XDECREF(normal_value);
            return NULL;
        }
        exception = normal_value;
    } else if (PyExceptionInstance_Check(type)) {
        if (value != Py_None) {
            PyErr_SetString(PyExc_TypeError, "instance exception may not have a separate value");
            return NULL;
        }
        Py_INCREF(type);
        exception = type;
    } else {
        PyErr_Format(PyExc_TypeError, "exceptions must be classes or instances deriving from BaseException, not %s",
                     Py_TYPE(type)->tp_name);
        return NULL;
    }
    if (traceback && PyException_SetTraceback(exception, traceback) < 0) {
        Py_DECREF(exception);
        return NULL;
    }
    return exception;
}

/* throw(value) or throw(type[, value[, traceback]]), as a coroutine's. */
static PyObject *coro_throw(SockCoro *self, PyObject *const *args, Py_ssize_t nargs)
{
    PyObject *exception, *result;
    step_result step;

    if (nargs < 1 || nargs > 3) {
        PyErr_Format(PyExc_TypeError, nargs < 1 ? "throw expected at least 1 argument, got %zd"
                                                : "throw expected at most 3 arguments, got %zd",
                     nargs);
        return NULL;
    }
#if PY_VERSION_HEX >= 0x030C0000
    if (nargs > 1 && PyErr_WarnEx(PyExc_DeprecationWarning,
                                  "the (type, exc, tb) signature of throw() is deprecated, "
                                  "use the single-arg signature instead.",
                                  1)
                         < 0)
        return NULL;
#endif
    exception = thrown_exception(args[0], nargs > 1 ? args[1] : Py_None, nargs > 2 ? args[2] : Py_None);
    if (!exception)
        return NULL;
    step = coro_step(self, NULL, exception, &result);
    Py_DECREF(exception);
    return step_return(step, result);
}

static PyObject *coro_close(SockCoro *self, PyObject *Py_UNUSED(unused))
{
    int rc = 0;

    if (self->running) {
        PyErr_SetString(PyExc_ValueError, "coroutine already executing");
        return NULL;
    }
    if (self->awaiting) {
        self->running = 1;
        rc = close_iterator(self->awaiting);
        self->running = 0;
    }
    coro_finish(self);
    if (rc < 0) {
        /* Raised where the coroutine waits, in place of GeneratorExit. */
        if (!PyErr_ExceptionMatches(PyExc_GeneratorExit) && !PyErr_ExceptionMatches(PyExc_StopIteration))
            return NULL;
        PyErr_Clear();
    }
    Py_RETURN_NONE;
}

static PyObject *coro_await(SockCoro *self)
{
    Py_INCREF(self);
    return (PyObject *)self;
}

/* A coroutine nobody started warns, as CPython's do; one collected while
 * it waits is closed (what it awaits, not the operation: as in asyncio, the
 * watcher and the future stay until the future is done). */
static void coro_finalize(SockCoro *self)
{
    PyObject *error = PyErr_Occurred() ? PyLoop_FetchException() : NULL, *result;

    if (self->state == CORO_CREATED && self->loop) {
        result = warn_unawaited ? PyObject_CallOneArg(warn_unawaited, (PyObject *)self) : NULL;
        if (!result && warn_unawaited)
            PyErr_WriteUnraisable((PyObject *)self);
        Py_XDECREF(result);
        coro_finish(self);
    } else if (self->state != CORO_DONE) {
        result = coro_close(self, NULL);
        if (!result)
            PyErr_WriteUnraisable((PyObject *)self);
        Py_XDECREF(result);
    }
    if (error)
        PyLoop_RestoreException(error);
}

static int coro_traverse(SockCoro *self, visitproc visit, void *arg)
{
    Py_VISIT(self->loop);
    Py_VISIT(self->sock);
    Py_VISIT(self->arg);
    Py_VISIT(self->arg2);
    Py_VISIT(self->awaiting);
    return 0;
}

static int coro_clear(SockCoro *self)
{
    Py_CLEAR(self->awaiting);
    Py_CLEAR(self->sock);
    Py_CLEAR(self->arg);
    Py_CLEAR(self->arg2);
    Py_CLEAR(self->loop);
    return 0;
}

static void coro_dealloc(SockCoro *self)
{
    if (PyObject_CallFinalizerFromDealloc((PyObject *)self) < 0)
        return; /* resurrected */
    PyObject_GC_UnTrack(self);
    if (self->weakreflist)
        PyObject_ClearWeakRefs((PyObject *)self);
    coro_clear(self);
    PyObject_GC_Del(self);
}

static PyObject *coro_repr(SockCoro *self)
{
    return PyUnicode_FromFormat("<coroutine object %U at %p>", self->body->qualname, (void *)self);
}

static PyObject *coro_get_name(SockCoro *self, void *Py_UNUSED(closure))
{
    Py_INCREF(self->body->name);
    return self->body->name;
}

static PyObject *coro_get_qualname(SockCoro *self, void *Py_UNUSED(closure))
{
    Py_INCREF(self->body->qualname);
    return self->body->qualname;
}

static PyObject *coro_get_await(SockCoro *self, void *Py_UNUSED(closure)) { return PyLoop_NewRefOrNone(self->awaiting); }
static PyObject *coro_get_running(SockCoro *self, void *Py_UNUSED(closure)) { return PyBool_FromLong(self->running); }

static PyObject *coro_get_suspended(SockCoro *self, void *Py_UNUSED(closure))
{
    return PyBool_FromLong(self->state == CORO_RESOLVING || self->state == CORO_WAITING);
}

static PyObject *coro_get_none(SockCoro *Py_UNUSED(self), void *Py_UNUSED(closure))
{
    Py_RETURN_NONE;
}

static PyMethodDef coro_methods[] = {
    {"send", (PyCFunction)coro_send, METH_O, "send(arg) -> send 'arg' into coroutine,\nreturn next iterated value or raise StopIteration."},
    {"throw", (PyCFunction)(void (*)(void))coro_throw, METH_FASTCALL,
     "throw(value)\nthrow(type[,value[,traceback]])\n\nRaise exception in coroutine, return next iterated value or raise\nStopIteration."},
    {"close", (PyCFunction)coro_close, METH_NOARGS, "close() -> raise GeneratorExit inside coroutine."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef coro_getset[] = {
    {"__name__", (getter)coro_get_name, NULL, NULL, NULL},
    {"__qualname__", (getter)coro_get_qualname, NULL, NULL, NULL},
    {"cr_await", (getter)coro_get_await, NULL, "object being awaited on, or None", NULL},
    {"cr_running", (getter)coro_get_running, NULL, NULL, NULL},
    {"cr_suspended", (getter)coro_get_suspended, NULL, NULL, NULL},
    {"cr_frame", (getter)coro_get_none, NULL, "None: the coroutine is C code", NULL},
    {"cr_code", (getter)coro_get_none, NULL, "None: the coroutine is C code", NULL},
    {"cr_origin", (getter)coro_get_none, NULL, NULL, NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyAsyncMethods coro_as_async = {
    .am_await = (unaryfunc)coro_await,
#if PY_VERSION_HEX >= 0x030A0000
    .am_send = (sendfunc)coro_am_send,
#endif
};

static PyTypeObject SockCoroType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "data_bridge.pyloop._pyloop.sock_coroutine",
    .tp_doc = "The coroutine a loop.sock_*() method returns (asyncio's are `async def`).",
    .tp_basicsize = sizeof(SockCoro),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_dealloc = (destructor)coro_dealloc,
    .tp_traverse = (traverseproc)coro_traverse,
    .tp_clear = (inquiry)coro_clear,
    .tp_finalize = (destructor)coro_finalize,
    .tp_repr = (reprfunc)coro_repr,
    .tp_as_async = &coro_as_async,
    .tp_iternext = (iternextfunc)coro_iternext,
    .tp_weaklistoffset = offsetof(SockCoro, weakreflist),
    .tp_methods = coro_methods,
    .tp_getset = coro_getset,
};

PyObject *PyLoopSockCoro_New(LoopObject *loop, const SockCoroBody *body, int kind, PyObject *sock, PyObject *arg,
                             PyObject *arg2)
{
    SockCoro *self = PyObject_GC_New(SockCoro, &SockCoroType);

    if (!self)
        return NULL;
    Py_INCREF(loop);
    self->loop = loop;
    Py_INCREF(sock);
    self->sock = sock;
    Py_XINCREF(arg);
    self->arg = arg;
    Py_XINCREF(arg2);
    self->arg2 = arg2;
    self->awaiting = NULL;
    self->weakreflist = NULL;
    self->body = body;
    self->kind = (unsigned char)kind;
    self->state = CORO_CREATED;
    self->running = 0;
    PyObject_GC_Track(self);
    return (PyObject *)self;
}

int PyLoopSockCoro_Ready(void)
{
    if (PyType_Ready(&SockCoroType) < 0)
        return -1;
    if (!warn_unawaited && PyLoop_ImportInto(&warn_unawaited, "warnings", "_warn_unawaited_coroutine") < 0)
        PyErr_Clear(); /* no such hook: no warning */
    return 0;
}

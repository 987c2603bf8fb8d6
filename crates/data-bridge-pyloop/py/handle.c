/*
 * Handle and TimerHandle: asyncio.events.Handle/TimerHandle in C, with a free
 * list each so that the call_soon/run cycle reuses objects instead of going
 * through the allocator (and the GC's allocation counter) every time.
 */
#include "pyloop_module.h"

#include <string.h>
#include <structmember.h>

PyTypeObject *PyLoopHandle_LoopType; /* set by loop_object.c (pyloop_module.h) */

/* ---- free lists ---- */

#define FREE_LIST_SIZE 512

/* Deallocated objects are kept with their memory and GC header intact but
 * untracked; reuse sets the reference count back to one. Debug builds that
 * chain every live object (Py_TRACE_REFS) need the allocator, so skip there. */
#ifndef Py_TRACE_REFS
#define USE_FREE_LISTS 1
#endif

typedef struct free_list {
    PyObject *items[FREE_LIST_SIZE];
    int count;
} free_list;

static free_list handle_free_list;
static free_list timer_free_list;

static PyObject *free_list_take(free_list *list, PyTypeObject *type)
{
#ifdef USE_FREE_LISTS
    if (list->count) {
        PyObject *object = list->items[--list->count];
        Py_SET_REFCNT(object, 1);
        return object;
    }
#else
    (void)list;
#endif
    return PyObject_GC_New(PyObject, type);
}

/* Returns 1 when the object was kept (the caller must not free it). */
static int free_list_keep(free_list *list, PyObject *object)
{
#ifdef USE_FREE_LISTS
    if (list->count < FREE_LIST_SIZE) {
        list->items[list->count++] = object;
        return 1;
    }
#else
    (void)list;
    (void)object;
#endif
    return 0;
}

/* ---- creation ---- */

static PyObject *empty_tuple(void)
{
    static PyObject *empty;
    if (!empty)
        empty = PyTuple_New(0);
    Py_XINCREF(empty);
    return empty;
}

/* Fills the fields shared by both types. Steals nothing. */
static int handle_init_fields(HandleObject *handle, PyObject *callback, PyObject *args, LoopObject *loop,
                              PyObject *context)
{
    Py_INCREF(callback);
    handle->callback = callback;
    if (args) {
        Py_INCREF(args);
        handle->args = args;
    } else {
        handle->args = empty_tuple();
    }
    if (context && context != Py_None) {
        Py_INCREF(context);
        handle->context = context;
    } else {
        handle->context = PyContext_CopyCurrent();
    }
    Py_INCREF(loop);
    handle->loop = (PyObject *)loop;
    handle->source_traceback = NULL;
    handle->repr = NULL;
    handle->weakreflist = NULL;
    handle->cancelled = 0;
    handle->queued = 0;
    if (!handle->args || !handle->context)
        return -1;
    if (loop->debug) {
        /* Like asyncio: the stack of the code that scheduled the callback
         * (call_soon itself has no Python frame here, so nothing to drop). */
        PyObject *frame = (PyObject *)PyEval_GetFrame();
        handle->source_traceback = PyObject_CallFunctionObjArgs(PyLoop_asyncio.extract_stack, frame ? frame : Py_None, NULL);
        if (!handle->source_traceback)
            return -1;
    }
    return 0;
}

static void timer_init_fields(TimerHandleObject *timer, double when, PyObject *when_object)
{
    pyloop_timer_init(&timer->timer, NULL, timer);
    timer->timer.node.when = when;
    Py_XINCREF(when_object);
    timer->when = when_object;
    timer->scheduled = 0;
}

/* A fresh object of the exact type is GC-tracked once its fields are set
 * (an object from the free list or PyObject_GC_New starts untracked). */
static PyObject *track(HandleObject *handle, int filled)
{
    if (filled < 0) {
        Py_DECREF(handle);
        return NULL;
    }
    PyObject_GC_Track(handle);
    return (PyObject *)handle;
}

HandleObject *PyLoopHandle_New(PyObject *callback, PyObject *args, LoopObject *loop, PyObject *context)
{
    HandleObject *handle = (HandleObject *)free_list_take(&handle_free_list, &PyLoop_HandleType);

    if (!handle)
        return NULL;
    return (HandleObject *)track(handle, handle_init_fields(handle, callback, args, loop, context));
}

TimerHandleObject *PyLoopTimerHandle_New(double when, PyObject *when_object, PyObject *callback, PyObject *args,
                                         LoopObject *loop, PyObject *context)
{
    TimerHandleObject *timer = (TimerHandleObject *)free_list_take(&timer_free_list, &PyLoop_TimerHandleType);

    if (!timer)
        return NULL;
    timer_init_fields(timer, when, when_object);
    return (TimerHandleObject *)track(&timer->base, handle_init_fields(&timer->base, callback, args, loop, context));
}

/* Handle(callback, args, loop, context=None), as asyncio spells it. */
static PyObject *handle_construct(PyTypeObject *type, PyObject *positional, PyObject *keywords, int timer)
{
    static char *handle_keywords[] = {"callback", "args", "loop", "context", NULL};
    static char *timer_keywords[] = {"when", "callback", "args", "loop", "context", NULL};
    PyObject *callback, *args, *loop, *context = Py_None, *when_object = NULL;
    double when = 0.0;
    HandleObject *handle;
    int ok = timer ? PyArg_ParseTupleAndKeywords(positional, keywords, "OOOO|O:TimerHandle", timer_keywords,
                                                 &when_object, &callback, &args, &loop, &context)
                   : PyArg_ParseTupleAndKeywords(positional, keywords, "OOO|O:Handle", handle_keywords, &callback, &args,
                                                 &loop, &context);
    if (!ok)
        return NULL;
    if (timer) {
        when = PyFloat_AsDouble(when_object);
        if (when == -1.0 && PyErr_Occurred())
            return NULL;
    }
    if (!PyLoopHandle_LoopType || !PyObject_TypeCheck(loop, PyLoopHandle_LoopType)) {
        PyErr_Format(PyExc_TypeError, "loop must be a data_bridge.pyloop loop, got %R", loop);
        return NULL;
    }
    if (args != Py_None && !PyTuple_Check(args)) {
        PyErr_SetString(PyExc_TypeError, "args must be a tuple");
        return NULL;
    }
    if (args == Py_None)
        args = NULL;
    if (type == (timer ? &PyLoop_TimerHandleType : &PyLoop_HandleType))
        return timer ? (PyObject *)PyLoopTimerHandle_New(when, when_object, callback, args, (LoopObject *)loop, context)
                     : (PyObject *)PyLoopHandle_New(callback, args, (LoopObject *)loop, context);
    /* A subclass: tp_alloc returns it tracked already. */
    handle = (HandleObject *)type->tp_alloc(type, 0);
    if (!handle)
        return NULL;
    if (timer)
        timer_init_fields((TimerHandleObject *)handle, when, when_object);
    if (handle_init_fields(handle, callback, args, (LoopObject *)loop, context) < 0) {
        Py_DECREF(handle);
        return NULL;
    }
    return (PyObject *)handle;
}

static PyObject *handle_tp_new(PyTypeObject *type, PyObject *positional, PyObject *keywords)
{
    return handle_construct(type, positional, keywords, 0);
}

static PyObject *timer_tp_new(PyTypeObject *type, PyObject *positional, PyObject *keywords)
{
    return handle_construct(type, positional, keywords, 1);
}

/* ---- GC and deallocation ---- */

static int handle_traverse(HandleObject *handle, visitproc visit, void *arg)
{
    Py_VISIT(handle->callback);
    Py_VISIT(handle->args);
    Py_VISIT(handle->context);
    Py_VISIT(handle->loop);
    Py_VISIT(handle->source_traceback);
    Py_VISIT(handle->repr);
    return 0;
}

int PyLoopHandle_TraverseContents(HandleObject *handle, visitproc visit, void *arg)
{
    if (PyObject_TypeCheck(handle, &PyLoop_TimerHandleType))
        Py_VISIT(((TimerHandleObject *)handle)->when);
    return handle_traverse(handle, visit, arg);
}

static int handle_clear(HandleObject *handle)
{
    Py_CLEAR(handle->callback);
    Py_CLEAR(handle->args);
    Py_CLEAR(handle->context);
    Py_CLEAR(handle->loop);
    Py_CLEAR(handle->source_traceback);
    Py_CLEAR(handle->repr);
    return 0;
}

static int timer_traverse(TimerHandleObject *timer, visitproc visit, void *arg)
{
    Py_VISIT(timer->when);
    return handle_traverse(&timer->base, visit, arg);
}

static int timer_clear(TimerHandleObject *timer)
{
    Py_CLEAR(timer->when);
    return handle_clear(&timer->base);
}

static void handle_dealloc_common(HandleObject *handle, free_list *list, PyTypeObject *exact_type)
{
    PyTypeObject *type = Py_TYPE(handle);

    PyObject_GC_UnTrack(handle);
    if (handle->weakreflist)
        PyObject_ClearWeakRefs((PyObject *)handle);
    handle_clear(handle);
    if (type == exact_type && free_list_keep(list, (PyObject *)handle))
        return;
    type->tp_free(handle);
}

static void handle_dealloc(HandleObject *handle) { handle_dealloc_common(handle, &handle_free_list, &PyLoop_HandleType); }

static void timer_dealloc(TimerHandleObject *timer)
{
    /* A started timer is owned by the heap, so it is never deallocated
     * while queued. */
    Py_CLEAR(timer->when);
    handle_dealloc_common(&timer->base, &timer_free_list, &PyLoop_TimerHandleType);
}

static void threadsafe_clear_free_list(void);

void PyLoopHandle_ClearFreeLists(void)
{
    while (handle_free_list.count)
        PyObject_GC_Del(handle_free_list.items[--handle_free_list.count]);
    while (timer_free_list.count)
        PyObject_GC_Del(timer_free_list.items[--timer_free_list.count]);
    threadsafe_clear_free_list();
}

/* ---- running ---- */

/* format_helpers._format_callback_source(callback, args), with debug=True
 * in debug mode on 3.13+, where asyncio hides the arguments otherwise. */
static PyObject *format_callback(HandleObject *handle)
{
    PyObject *callback = handle->callback ? handle->callback : Py_None;
    PyObject *args = handle->args ? handle->args : Py_None;
#if PY_VERSION_HEX >= 0x030D0000
    LoopObject *loop = (LoopObject *)handle->loop;
    if (loop && loop->debug) {
        PyObject *positional = PyTuple_Pack(2, callback, args), *keywords = Py_BuildValue("{sO}", "debug", Py_True);
        PyObject *result = positional && keywords ? PyObject_Call(PyLoop_asyncio.format_callback_source, positional, keywords)
                                                  : NULL;
        Py_XDECREF(positional);
        Py_XDECREF(keywords);
        return result;
    }
#endif
    return PyObject_CallFunctionObjArgs(PyLoop_asyncio.format_callback_source, callback, args, NULL);
}

/* Handle._run's except-clause for an ordinary exception: the loop's
 * exception handler gets it. Returns -1 when KeyboardInterrupt or SystemExit
 * is (or, from the handler, becomes) the raised exception. */
int PyLoopHandle_ReportError(HandleObject *handle)
{
    PyObject *value, *source = NULL, *message = NULL, *context = NULL, *result;
    int rc = 0;

    if (PyLoop_IsFatalToRun())
        return -1;
    if (!handle->loop) {
        PyErr_WriteUnraisable((PyObject *)handle);
        return 0;
    }
    value = PyLoop_FetchException();

    source = format_callback(handle);
    if (!source)
        goto fail;
    message = PyUnicode_FromFormat("Exception in callback %U", source);
    if (!message)
        goto fail;
    context = PyDict_New();
    if (!context || PyDict_SetItemString(context, "message", message) < 0
        || PyDict_SetItemString(context, "exception", value ? value : Py_None) < 0
        || PyDict_SetItemString(context, "handle", (PyObject *)handle) < 0)
        goto fail;
    if (handle->source_traceback && PyDict_SetItemString(context, "source_traceback", handle->source_traceback) < 0)
        goto fail;
    result = PyObject_CallMethodObjArgs(handle->loop, PyLoop_str.call_exception_handler, context, NULL);
    if (!result)
        goto fail;
    Py_DECREF(result);
    goto done;

fail:
    if (PyLoop_IsFatalToRun())
        rc = -1;
    else
        PyErr_WriteUnraisable((PyObject *)handle);
done:
    Py_XDECREF(value);
    Py_XDECREF(source);
    Py_XDECREF(message);
    Py_XDECREF(context);
    return rc;
}

/* The call owns what it uses: cancel() clears handle->callback and
 * handle->args, and a GC pass can clear the context, while the call runs. */
static inline int handle_call(HandleObject *handle)
{
    PyObject *callback = handle->callback, *args = handle->args, *context = handle->context, *result = NULL;

    Py_INCREF(callback);
    Py_INCREF(args);
    Py_INCREF(context);
    if (PyContext_Enter(context) == 0) {
        result = PyObject_Vectorcall(callback, &PyTuple_GET_ITEM(args, 0), (size_t)PyTuple_GET_SIZE(args), NULL);
        PyContext_Exit(context);
    }
    Py_DECREF(context);
    Py_DECREF(args);
    Py_DECREF(callback);
    if (!result)
        return -1;
    Py_DECREF(result);
    return 0;
}

/* Debug mode: asyncio warns about callbacks slower than
 * loop.slow_callback_duration. */
static void warn_if_slow(HandleObject *handle, double started)
{
    LoopObject *loop = (LoopObject *)handle->loop;
    double elapsed = pyloop_time(loop->core) - started, limit;
    PyObject *limit_object, *formatted, *message, *seconds, *result;

    limit_object = PyObject_GetAttr((PyObject *)loop, PyLoop_str.slow_callback_duration);
    if (!limit_object) {
        PyErr_Clear();
        return;
    }
    limit = PyFloat_AsDouble(limit_object);
    Py_DECREF(limit_object);
    if (limit < 0 && PyErr_Occurred()) {
        PyErr_Clear();
        return;
    }
    if (elapsed < limit)
        return;
    formatted = PyObject_CallFunctionObjArgs(PyLoop_asyncio.format_handle, (PyObject *)handle, NULL);
    if (!formatted) {
        PyErr_Clear();
        return;
    }
    message = PyUnicode_FromString("Executing %s took %.3f seconds");
    seconds = message ? PyFloat_FromDouble(elapsed) : NULL;
    result = seconds ? PyObject_CallMethodObjArgs(PyLoop_asyncio.logger, PyLoop_str.warning, message, formatted,
                                                  seconds, NULL)
                     : NULL;
    Py_XDECREF(message);
    Py_XDECREF(seconds);
    Py_DECREF(formatted);
    if (!result)
        PyErr_Clear();
    Py_XDECREF(result);
}

int PyLoopHandle_Run(HandleObject *handle)
{
    LoopObject *loop = (LoopObject *)handle->loop;
    double started = 0.0;
    int rc;

    if (handle->cancelled || !handle->callback || !handle->context)
        return 0;
    if (loop && loop->debug) {
        Py_INCREF(loop);
        started = pyloop_time(loop->core);
        rc = handle_call(handle) < 0 ? PyLoopHandle_ReportError(handle) : 0;
        if (rc == 0)
            warn_if_slow(handle, started);
        Py_DECREF(loop);
        return rc;
    }
    return handle_call(handle) < 0 ? PyLoopHandle_ReportError(handle) : 0;
}

/* ---- Python methods ---- */

void PyLoopHandle_Cancel(HandleObject *handle)
{
    LoopObject *loop = (LoopObject *)handle->loop;

    if (handle->cancelled)
        return;
    handle->cancelled = 1;
    if (loop && loop->debug && !handle->repr) {
        /* Keep the repr of what was cancelled, as asyncio does. */
        handle->repr = PyObject_Repr((PyObject *)handle);
        if (!handle->repr)
            PyErr_Clear();
    }
    Py_CLEAR(handle->callback);
    Py_CLEAR(handle->args);
}

static PyObject *handle_cancel(HandleObject *handle, PyObject *Py_UNUSED(unused))
{
    PyLoopHandle_Cancel(handle);
    Py_RETURN_NONE;
}

static PyObject *timer_cancel(TimerHandleObject *timer, PyObject *Py_UNUSED(unused))
{
    LoopObject *loop = (LoopObject *)timer->base.loop;

    PyLoopHandle_Cancel(&timer->base);
    if (loop && pyloop_timer_started(&timer->timer)) {
        /* Out of the heap now (O(log n)), not lazily as asyncio does; the
         * heap's reference goes with it. */
        pyloop_timer_cancel(loop->core, &timer->timer);
        timer->scheduled = 0;
        Py_DECREF(timer);
    }
    Py_RETURN_NONE;
}

static PyObject *handle_cancelled(HandleObject *handle, PyObject *Py_UNUSED(unused)) { return PyBool_FromLong(handle->cancelled); }

static PyObject *handle_get_context(HandleObject *handle, PyObject *Py_UNUSED(unused))
{
    if (!handle->context)
        Py_RETURN_NONE;
    Py_INCREF(handle->context);
    return handle->context;
}

/* asyncio's Handle._run: KeyboardInterrupt and SystemExit propagate. */
static PyObject *handle_run_method(HandleObject *handle, PyObject *Py_UNUSED(unused))
{
    return PyLoopHandle_Run(handle) < 0 ? NULL : Py_NewRef(Py_None);
}

/* What call_at() or TimerHandle() was given, as asyncio keeps it. */
static PyObject *timer_when_object(TimerHandleObject *timer)
{
    if (timer->when) {
        Py_INCREF(timer->when);
        return timer->when;
    }
    return PyFloat_FromDouble(timer->timer.node.when);
}

static PyObject *timer_when(TimerHandleObject *timer, PyObject *Py_UNUSED(unused)) { return timer_when_object(timer); }

/* asyncio's Handle._repr_info(), as a list of strings. */
static PyObject *handle_repr_info(HandleObject *handle, PyObject *Py_UNUSED(unused))
{
    PyObject *info = PyList_New(0), *item;

    if (!info)
        return NULL;
    item = PyUnicode_FromString(PyLoop_TypeName((PyObject *)handle));
    if (!item || PyList_Append(info, item) < 0)
        goto fail;
    Py_DECREF(item);
    if (handle->cancelled) {
        item = PyUnicode_FromString("cancelled");
        if (!item || PyList_Append(info, item) < 0)
            goto fail;
        Py_DECREF(item);
    }
    if (PyObject_TypeCheck(handle, &PyLoop_TimerHandleType)) {
        PyObject *when = timer_when_object((TimerHandleObject *)handle);
        item = when ? PyUnicode_FromFormat("when=%R", when) : NULL;
        Py_XDECREF(when);
        if (!item || PyList_Append(info, item) < 0)
            goto fail;
        Py_DECREF(item);
    }
    if (handle->callback && handle->callback != Py_None) { /* `if self._callback is not None` */
        item = format_callback(handle);
        if (!item || PyList_Append(info, item) < 0)
            goto fail;
        Py_DECREF(item);
    }
    if (handle->source_traceback && PyList_Check(handle->source_traceback)
        && PyList_GET_SIZE(handle->source_traceback) > 0) {
        PyObject *frame = PyList_GET_ITEM(handle->source_traceback, PyList_GET_SIZE(handle->source_traceback) - 1);
        PyObject *filename = PySequence_GetItem(frame, 0), *line = PySequence_GetItem(frame, 1);
        item = filename && line ? PyUnicode_FromFormat("created at %S:%S", filename, line) : NULL;
        Py_XDECREF(filename);
        Py_XDECREF(line);
        if (!item || PyList_Append(info, item) < 0)
            goto fail;
        Py_DECREF(item);
    }
    return info;
fail:
    Py_XDECREF(item);
    Py_DECREF(info);
    return NULL;
}

static PyObject *handle_repr(HandleObject *handle)
{
    PyObject *info, *separator, *joined, *result;

    if (handle->repr) {
        Py_INCREF(handle->repr);
        return handle->repr;
    }
    info = handle_repr_info(handle, NULL);
    if (!info)
        return NULL;
    separator = PyUnicode_FromString(" ");
    joined = separator ? PyUnicode_Join(separator, info) : NULL;
    Py_XDECREF(separator);
    Py_DECREF(info);
    if (!joined)
        return NULL;
    result = PyUnicode_FromFormat("<%U>", joined);
    Py_DECREF(joined);
    return result;
}

/* TimerHandle: hash and order by deadline; equal when deadline, callback,
 * args and cancelled state are equal (asyncio's definitions). */
static Py_hash_t timer_hash(TimerHandleObject *timer)
{
    PyObject *when = PyFloat_FromDouble(timer->timer.node.when);
    Py_hash_t hash;
    if (!when)
        return -1;
    hash = PyObject_Hash(when);
    Py_DECREF(when);
    return hash;
}

static PyObject *timer_richcompare(PyObject *self, PyObject *other, int op)
{
    double mine, theirs;
    int equal;

    if (!PyObject_TypeCheck(other, &PyLoop_TimerHandleType))
        Py_RETURN_NOTIMPLEMENTED;
    mine = ((TimerHandleObject *)self)->timer.node.when;
    theirs = ((TimerHandleObject *)other)->timer.node.when;
    switch (op) {
    case Py_LT:
        return PyBool_FromLong(mine < theirs);
    case Py_GT:
        return PyBool_FromLong(mine > theirs);
    case Py_EQ:
    case Py_NE:
    case Py_LE:
    case Py_GE: {
        HandleObject *left = (HandleObject *)self, *right = (HandleObject *)other;
        if (op == Py_LE && mine < theirs)
            Py_RETURN_TRUE;
        if (op == Py_GE && mine > theirs)
            Py_RETURN_TRUE;
        equal = mine == theirs && left->cancelled == right->cancelled;
        if (equal && left != right) {
            int same_callback = left->callback == right->callback
                                    ? 1
                                    : (left->callback && right->callback
                                           ? PyObject_RichCompareBool(left->callback, right->callback, Py_EQ)
                                           : 0);
            if (same_callback < 0)
                return NULL;
            equal = same_callback;
            if (equal && left->args != right->args) {
                int same_args = left->args && right->args ? PyObject_RichCompareBool(left->args, right->args, Py_EQ) : 0;
                if (same_args < 0)
                    return NULL;
                equal = same_args;
            }
        }
        return PyBool_FromLong(op == Py_NE ? !equal : equal);
    }
    }
    Py_RETURN_NOTIMPLEMENTED;
}

static PyObject *handle_get_callback(HandleObject *handle, void *Py_UNUSED(closure)) { return PyLoop_NewRefOrNone(handle->callback); }
static PyObject *handle_get_args(HandleObject *handle, void *Py_UNUSED(closure)) { return PyLoop_NewRefOrNone(handle->args); }

static PyObject *handle_get_source_traceback(HandleObject *handle, void *Py_UNUSED(closure))
{
    return PyLoop_NewRefOrNone(handle->source_traceback);
}

static int handle_set_source_traceback(HandleObject *handle, PyObject *value, void *Py_UNUSED(closure))
{
    PyObject *old = handle->source_traceback;
    if (value == Py_None)
        value = NULL;
    Py_XINCREF(value);
    handle->source_traceback = value;
    Py_XDECREF(old);
    return 0;
}

static PyObject *timer_get_when(TimerHandleObject *timer, void *Py_UNUSED(closure)) { return timer_when_object(timer); }
static PyObject *timer_get_scheduled(TimerHandleObject *timer, void *Py_UNUSED(closure)) { return PyBool_FromLong(timer->scheduled); }

static PyMethodDef handle_methods[] = {
    {"cancel", (PyCFunction)handle_cancel, METH_NOARGS, "Cancel the callback; it will not run."},
    {"cancelled", (PyCFunction)handle_cancelled, METH_NOARGS, "Return True if the callback was cancelled."},
    {"get_context", (PyCFunction)handle_get_context, METH_NOARGS, "The contextvars.Context the callback runs in."},
    {"_run", (PyCFunction)handle_run_method, METH_NOARGS, "Run the callback now (asyncio's Handle._run)."},
    {"_repr_info", (PyCFunction)handle_repr_info, METH_NOARGS, NULL},
    {NULL, NULL, 0, NULL},
};

static PyMethodDef timer_methods[] = {
    {"cancel", (PyCFunction)timer_cancel, METH_NOARGS, "Cancel the timer; it is removed from the loop at once."},
    {"when", (PyCFunction)timer_when, METH_NOARGS, "The absolute time (loop.time()) the callback is due."},
    {NULL, NULL, 0, NULL},
};

static PyMemberDef handle_members[] = {
    {"_cancelled", T_BOOL, offsetof(HandleObject, cancelled), READONLY, NULL},
    {"_context", T_OBJECT, offsetof(HandleObject, context), READONLY, NULL},
    {"_loop", T_OBJECT, offsetof(HandleObject, loop), READONLY, NULL},
    {"_repr", T_OBJECT, offsetof(HandleObject, repr), READONLY, NULL},
    {NULL, 0, 0, 0, NULL},
};

static PyGetSetDef handle_getset[] = {
    {"_callback", (getter)handle_get_callback, NULL, NULL, NULL},
    {"_args", (getter)handle_get_args, NULL, NULL, NULL},
    {"_source_traceback", (getter)handle_get_source_traceback, (setter)handle_set_source_traceback, NULL, NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyGetSetDef timer_getset[] = {
    {"_when", (getter)timer_get_when, NULL, NULL, NULL},
    {"_scheduled", (getter)timer_get_scheduled, NULL, NULL, NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

PyTypeObject PyLoop_HandleType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "data_bridge.pyloop._pyloop.Handle",
    .tp_doc = "Object returned by callback registration methods (asyncio.Handle's surface).",
    .tp_basicsize = sizeof(HandleObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .tp_new = handle_tp_new,
    .tp_dealloc = (destructor)handle_dealloc,
    .tp_traverse = (traverseproc)handle_traverse,
    .tp_clear = (inquiry)handle_clear,
    .tp_repr = (reprfunc)handle_repr,
    .tp_weaklistoffset = offsetof(HandleObject, weakreflist),
    .tp_methods = handle_methods,
    .tp_members = handle_members,
    .tp_getset = handle_getset,
};

PyTypeObject PyLoop_TimerHandleType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "data_bridge.pyloop._pyloop.TimerHandle",
    .tp_doc = "Object returned by timed callback registration methods (asyncio.TimerHandle's surface).",
    .tp_basicsize = sizeof(TimerHandleObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .tp_base = &PyLoop_HandleType,
    .tp_new = timer_tp_new,
    .tp_dealloc = (destructor)timer_dealloc,
    .tp_traverse = (traverseproc)timer_traverse,
    .tp_clear = (inquiry)timer_clear,
    .tp_hash = (hashfunc)timer_hash,
    .tp_richcompare = timer_richcompare,
    .tp_methods = timer_methods,
    .tp_getset = timer_getset,
};

/* ---- call_soon_threadsafe's handle ---- */

/* asyncio 3.14's events._ThreadSafeHandle: cancel() and cancelled() take an
 * RLock that _run holds while the callback runs, so another thread's cancel
 * waits for the callback to finish (and then only marks it), and the
 * callback's own thread gets through (the lock is reentrant). Here the GIL
 * guards the fields; `lock` is only what another thread sleeps on, with the
 * GIL released, while `running`. call_soon's Handle is untouched: only
 * call_soon_threadsafe makes these, and only where asyncio has the class
 * (PyLoop_ThreadSafeHandles), so each version's threadsafe handle cancels as
 * its own asyncio's does. */
typedef struct ThreadSafeHandleObject {
    HandleObject base;
    PyThread_type_lock lock; /* held by the runner while `running` */
    unsigned long runner;    /* PyThread_get_thread_ident() of the runner */
    char running;
} ThreadSafeHandleObject;

static PyTypeObject ThreadSafeHandleType;
/* Kept with their lock, so a producer thread's call_soon_threadsafe reuses
 * both instead of allocating a lock per call. */
static free_list threadsafe_free_list;
int PyLoop_ThreadSafeHandles;
static PyObject *asyncio_threadsafe_handle; /* asyncio.events._ThreadSafeHandle */

HandleObject *PyLoopThreadSafeHandle_New(PyObject *callback, PyObject *args, LoopObject *loop, PyObject *context)
{
    int reused = threadsafe_free_list.count > 0;
    ThreadSafeHandleObject *handle =
        (ThreadSafeHandleObject *)free_list_take(&threadsafe_free_list, &ThreadSafeHandleType);

    if (!handle)
        return NULL;
    handle->running = 0;
    handle->runner = 0;
    if (!reused)
        handle->lock = PyThread_allocate_lock();
    if (!handle->lock) {
        /* handle_init_fields has not run: nothing to clear yet. */
        PyObject_GC_Del(handle);
        return (HandleObject *)PyErr_NoMemory();
    }
    return (HandleObject *)track(&handle->base, handle_init_fields(&handle->base, callback, args, loop, context));
}

/* Nobody waits on the lock (a waiter holds a reference) and nobody holds
 * it (the run holds one too): it is free, fit for the next handle. */
static void threadsafe_dealloc(ThreadSafeHandleObject *handle)
{
    PyObject_GC_UnTrack(handle);
    if (handle->base.weakreflist)
        PyObject_ClearWeakRefs((PyObject *)handle);
    handle_clear(&handle->base);
    if (free_list_keep(&threadsafe_free_list, (PyObject *)handle))
        return;
    PyThread_free_lock(handle->lock);
    Py_TYPE(handle)->tp_free(handle);
}

static void threadsafe_clear_free_list(void)
{
    while (threadsafe_free_list.count) {
        ThreadSafeHandleObject *handle =
            (ThreadSafeHandleObject *)threadsafe_free_list.items[--threadsafe_free_list.count];
        PyThread_free_lock(handle->lock);
        PyObject_GC_Del(handle);
    }
}

/* Another thread's wait for the run to end, as acquiring asyncio's RLock. */
static void threadsafe_wait(ThreadSafeHandleObject *handle)
{
    while (handle->running && handle->runner != PyThread_get_thread_ident()) {
        Py_BEGIN_ALLOW_THREADS
        PyThread_acquire_lock(handle->lock, WAIT_LOCK);
        PyThread_release_lock(handle->lock);
        Py_END_ALLOW_THREADS
    }
}

int PyLoopThreadSafeHandle_Run(HandleObject *base)
{
    ThreadSafeHandleObject *handle = (ThreadSafeHandleObject *)base;
    int rc;

    /* A nested _run() from the callback itself: the RLock lets it in. */
    if (handle->running && handle->runner == PyThread_get_thread_ident())
        return PyLoopHandle_Run(base);
    threadsafe_wait(handle);
    if (base->cancelled)
        return 0;
    /* Free unless a waiter of an earlier run is between its acquire and
     * release, which it does without the GIL: then wait for it without. */
    if (!PyThread_acquire_lock(handle->lock, NOWAIT_LOCK)) {
        Py_BEGIN_ALLOW_THREADS
        PyThread_acquire_lock(handle->lock, WAIT_LOCK);
        Py_END_ALLOW_THREADS
    }
    Py_INCREF(base);
    handle->running = 1;
    handle->runner = PyThread_get_thread_ident();
    rc = PyLoopHandle_Run(base); /* rechecks cancelled, as _ThreadSafeHandle._run */
    handle->running = 0;
    PyThread_release_lock(handle->lock);
    Py_DECREF(base);
    return rc;
}

static PyObject *threadsafe_cancel(ThreadSafeHandleObject *handle, PyObject *Py_UNUSED(unused))
{
    threadsafe_wait(handle);
    PyLoopHandle_Cancel(&handle->base);
    Py_RETURN_NONE;
}

static PyObject *threadsafe_cancelled(ThreadSafeHandleObject *handle, PyObject *Py_UNUSED(unused))
{
    threadsafe_wait(handle);
    return PyBool_FromLong(handle->base.cancelled);
}

static PyObject *threadsafe_run_method(ThreadSafeHandleObject *handle, PyObject *Py_UNUSED(unused))
{
    return PyLoopThreadSafeHandle_Run(&handle->base) < 0 ? NULL : Py_NewRef(Py_None);
}

static PyMethodDef threadsafe_methods[] = {
    {"cancel", (PyCFunction)threadsafe_cancel, METH_NOARGS,
     "Cancel the callback; from another thread, waits while it runs."},
    {"cancelled", (PyCFunction)threadsafe_cancelled, METH_NOARGS,
     "Return True if the callback was cancelled; from another thread, waits while it runs."},
    {"_run", (PyCFunction)threadsafe_run_method, METH_NOARGS, "Run the callback now (_ThreadSafeHandle._run)."},
    {NULL, NULL, 0, NULL},
};

/* isinstance(handle, events._ThreadSafeHandle) (and so asyncio.Handle) is
 * true, as for asyncio's: isinstance falls back to __class__ (as for a mock
 * with a spec), which CPython's test_events asserts from another thread
 * before it stops the loop. type(handle) stays the C type. */
static PyObject *threadsafe_get_class(PyObject *Py_UNUSED(handle), void *Py_UNUSED(closure))
{
    Py_INCREF(asyncio_threadsafe_handle);
    return asyncio_threadsafe_handle;
}

static PyGetSetDef threadsafe_getset[] = {
    {"__class__", (getter)threadsafe_get_class, NULL, NULL, NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

/* Named as asyncio's class, for the repr ("<_ThreadSafeHandle ...>"). */
static PyTypeObject ThreadSafeHandleType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "data_bridge.pyloop._pyloop._ThreadSafeHandle",
    .tp_doc = "Object returned by call_soon_threadsafe (asyncio.events._ThreadSafeHandle's surface).",
    .tp_basicsize = sizeof(ThreadSafeHandleObject),
    /* Only call_soon_threadsafe makes them (with their lock). */
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_DISALLOW_INSTANTIATION,
    .tp_base = &PyLoop_HandleType,
    .tp_dealloc = (destructor)threadsafe_dealloc,
    .tp_traverse = (traverseproc)handle_traverse,
    .tp_clear = (inquiry)handle_clear,
    .tp_methods = threadsafe_methods,
    .tp_getset = threadsafe_getset,
};

int PyLoopHandle_Add(PyObject *module)
{
    if (PyType_Ready(&PyLoop_HandleType) < 0 || PyType_Ready(&PyLoop_TimerHandleType) < 0
        || PyType_Ready(&ThreadSafeHandleType) < 0)
        return -1;
    if (PyLoop_ImportInto(&asyncio_threadsafe_handle, "asyncio.events", "_ThreadSafeHandle") < 0) {
        if (!PyErr_ExceptionMatches(PyExc_AttributeError)) /* before 3.14: none */
            return -1;
        PyErr_Clear();
    }
    PyLoop_ThreadSafeHandles = asyncio_threadsafe_handle != NULL;
    return PyModule_AddType(module, &PyLoop_HandleType) < 0 || PyModule_AddType(module, &PyLoop_TimerHandleType) < 0 ? -1
                                                                                                                  : 0;
}

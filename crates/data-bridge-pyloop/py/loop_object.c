/*
 * Loop: the C engine under PyLoop. The Python class (bindings/python) adds
 * asyncio's wide API by inheriting from the Unix selector loop; this type
 * supplies what that API stands on: scheduling, time, the run loop, stop
 * and fd watchers.
 */
#include "pyloop_module.h"

#include <errno.h>
#include <math.h>

/* ------------------------------------------------------------------ */
/* hooks around the blocking wait: release the GIL, then check signals  */
/* ------------------------------------------------------------------ */

static void release_gil(pyloop_loop *core, void *context)
{
    LoopObject *self = context;
    (void)core;
    self->waiting_thread = PyEval_SaveThread();
}

static void reacquire_gil(pyloop_loop *core, void *context)
{
    LoopObject *self = context;
    (void)core;
    PyEval_RestoreThread(self->waiting_thread);
    self->waiting_thread = NULL;
    /* A signal that cut the wait short: run its Python handler now, and
     * leave the loop if it raised (Ctrl+C gives KeyboardInterrupt). */
    if (PyErr_CheckSignals() < 0)
        pyloop_loop_set_pending_exception(self);
}

void pyloop_loop_set_pending_exception(LoopObject *self)
{
    PyObject *exception = pyloop_fetch_exception();

    if (self->pending_exception) {
        /* The first one wins; later ones would only hide it. */
        Py_XDECREF(exception);
    } else {
        self->pending_exception = exception;
    }
    pyloop_interrupt(self->core);
}

/* ------------------------------------------------------------------ */
/* argument checks shared by the scheduling methods                    */
/* ------------------------------------------------------------------ */

static int check_open(LoopObject *self)
{
    if (self->closed) {
        PyErr_SetString(PyExc_RuntimeError, "Event loop is closed");
        return -1;
    }
    return 0;
}

/* asyncio checks callbacks in debug mode only; a non-callable always fails
 * later, so it is refused here at once, with asyncio's debug-mode message. */
static int check_callback(LoopObject *self, PyObject *callback, const char *method)
{
    if (!PyCallable_Check(callback)) {
        if (PyCoro_CheckExact(callback) || PyGen_Check(callback))
            PyErr_Format(PyExc_TypeError, "coroutines cannot be used with %s()", method);
        else
            PyErr_Format(PyExc_TypeError, "a callable object was expected by %s(), got %R", method, callback);
        return -1;
    }
    if (self->debug) {
        PyObject *is_coroutine = PyObject_CallFunctionObjArgs(pyloop_refs.iscoroutinefunction, callback, NULL);
        int truth = is_coroutine ? PyObject_IsTrue(is_coroutine) : -1;
        Py_XDECREF(is_coroutine);
        if (truth < 0)
            return -1;
        if (truth) {
            PyErr_Format(PyExc_TypeError, "coroutines cannot be used with %s()", method);
            return -1;
        }
    }
    return 0;
}

static int check_thread(LoopObject *self)
{
    PyObject *result;
    if (!self->debug)
        return 0;
    result = PyObject_CallMethodObjArgs((PyObject *)self, pyloop_refs.str_check_thread, NULL);
    if (!result)
        return -1;
    Py_DECREF(result);
    return 0;
}

/* Finds context= among the keywords; anything else is an error. */
static int parse_context(PyObject *const *args, Py_ssize_t nargs, PyObject *keywords, const char *method,
                         PyObject **context)
{
    Py_ssize_t i;

    *context = NULL;
    if (!keywords)
        return 0;
    for (i = 0; i < PyTuple_GET_SIZE(keywords); i++) {
        PyObject *name = PyTuple_GET_ITEM(keywords, i);
        if (PyUnicode_CompareWithASCIIString(name, "context") != 0) {
            PyErr_Format(PyExc_TypeError, "%s() got an unexpected keyword argument '%U'", method, name);
            return -1;
        }
        *context = args[nargs + i];
    }
    return 0;
}

/* The callback's positional arguments, or NULL (no tuple) when none. */
static int pack_args(PyObject *const *args, Py_ssize_t count, PyObject **packed)
{
    Py_ssize_t i;

    *packed = NULL;
    if (count <= 0)
        return 0;
    *packed = PyTuple_New(count);
    if (!*packed)
        return -1;
    for (i = 0; i < count; i++) {
        Py_INCREF(args[i]);
        PyTuple_SET_ITEM(*packed, i, args[i]);
    }
    return 0;
}

static PyObject *error_from_core(int rc)
{
    if (rc == -ENOMEM)
        return PyErr_NoMemory();
    errno = -rc;
    return PyErr_SetFromErrno(PyExc_OSError);
}

/* ------------------------------------------------------------------ */
/* scheduling                                                          */
/* ------------------------------------------------------------------ */

static PyObject *schedule_soon(LoopObject *self, PyObject *const *args, size_t nargsf, PyObject *keywords,
                               const char *method, int threadsafe)
{
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    PyObject *context, *packed;
    HandleObject *handle;
    int rc;

    if (nargs < 1) {
        PyErr_Format(PyExc_TypeError, "%s() missing 1 required positional argument: 'callback'", method);
        return NULL;
    }
    if (parse_context(args, nargs, keywords, method, &context) < 0 || check_open(self) < 0
        || (!threadsafe && check_thread(self) < 0) || check_callback(self, args[0], method) < 0
        || pack_args(args + 1, nargs - 1, &packed) < 0)
        return NULL;
    handle = pyloop_handle_new(args[0], packed, self, context);
    Py_XDECREF(packed);
    if (!handle)
        return NULL;
    pyloop_handle_enqueue(handle);
    rc = threadsafe ? pyloop_call_soon_threadsafe(self->core, pyloop_handle_trampoline, handle)
                    : pyloop_call_soon(self->core, pyloop_handle_trampoline, handle);
    if (rc < 0) {
        pyloop_handle_dequeue(handle, 0);
        Py_DECREF(handle);
        return error_from_core(rc);
    }
    return (PyObject *)handle;
}

static PyObject *loop_call_soon(LoopObject *self, PyObject *const *args, size_t nargsf, PyObject *keywords)
{
    return schedule_soon(self, args, nargsf, keywords, "call_soon", 0);
}

static PyObject *loop_call_soon_threadsafe(LoopObject *self, PyObject *const *args, size_t nargsf,
                                           PyObject *keywords)
{
    return schedule_soon(self, args, nargsf, keywords, "call_soon_threadsafe", 1);
}

static PyObject *schedule_at(LoopObject *self, double when, PyObject *const *args, Py_ssize_t nargs,
                             PyObject *context, const char *method)
{
    PyObject *packed;
    TimerHandleObject *timer;
    int rc;

    if (check_open(self) < 0 || check_thread(self) < 0 || check_callback(self, args[0], method) < 0
        || pack_args(args + 1, nargs - 1, &packed) < 0)
        return NULL;
    timer = pyloop_timer_handle_new(when, args[0], packed, self, context);
    Py_XDECREF(packed);
    if (!timer)
        return NULL;
    pyloop_handle_enqueue(&timer->base); /* the heap's reference */
    rc = pyloop_timer_start(self->core, &timer->timer, when);
    if (rc < 0) {
        pyloop_handle_dequeue(&timer->base, 0);
        Py_DECREF(timer);
        return error_from_core(rc);
    }
    timer->scheduled = 1;
    return (PyObject *)timer;
}

/* A number of seconds as a double; None and NaN are refused by name. */
static int to_seconds(PyObject *value, double base, const char *name, double *seconds)
{
    if (value == Py_None) {
        PyErr_Format(PyExc_TypeError, base == 0.0 ? "%s cannot be None" : "%s must not be None", name);
        return -1;
    }
    if (PyFloat_CheckExact(value)) {
        *seconds = base + PyFloat_AS_DOUBLE(value);
    } else if (PyLong_CheckExact(value)) {
        double number = PyLong_AsDouble(value);
        if (number == -1.0 && PyErr_Occurred())
            return -1;
        *seconds = base + number;
    } else {
        /* Whatever asyncio would do with `time() + delay`, same errors. */
        PyObject *start = PyFloat_FromDouble(base), *sum;
        if (!start)
            return -1;
        sum = PyNumber_Add(start, value);
        Py_DECREF(start);
        if (!sum)
            return -1;
        *seconds = PyFloat_AsDouble(sum);
        Py_DECREF(sum);
        if (*seconds == -1.0 && PyErr_Occurred())
            return -1;
    }
    if (isnan(*seconds)) {
        PyErr_Format(PyExc_ValueError, "%s must not be NaN", name);
        return -1;
    }
    return 0;
}

static PyObject *loop_call_later(LoopObject *self, PyObject *const *args, size_t nargsf, PyObject *keywords)
{
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    PyObject *context;
    double when;

    if (nargs < 2) {
        PyErr_Format(PyExc_TypeError, "call_later() missing %d required positional argument%s", (int)(2 - nargs),
                     nargs == 1 ? ": 'callback'" : "s: 'delay' and 'callback'");
        return NULL;
    }
    if (parse_context(args, nargs, keywords, "call_later", &context) < 0
        || to_seconds(args[0], pyloop_time(self->core), "delay", &when) < 0)
        return NULL;
    return schedule_at(self, when, args + 1, nargs - 1, context, "call_later");
}

static PyObject *loop_call_at(LoopObject *self, PyObject *const *args, size_t nargsf, PyObject *keywords)
{
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    PyObject *context;
    double when;

    if (nargs < 2) {
        PyErr_Format(PyExc_TypeError, "call_at() missing %d required positional argument%s", (int)(2 - nargs),
                     nargs == 1 ? ": 'callback'" : "s: 'when' and 'callback'");
        return NULL;
    }
    if (parse_context(args, nargs, keywords, "call_at", &context) < 0 || to_seconds(args[0], 0.0, "when", &when) < 0)
        return NULL;
    return schedule_at(self, when, args + 1, nargs - 1, context, "call_at");
}

static PyObject *loop_time(LoopObject *self, PyObject *unused)
{
    (void)unused;
    return PyFloat_FromDouble(pyloop_time(self->core));
}

/* ------------------------------------------------------------------ */
/* running                                                             */
/* ------------------------------------------------------------------ */

static PyObject *finish_run(LoopObject *self, int rc)
{
    if (self->pending_exception) {
        PyObject *exception = self->pending_exception;
        self->pending_exception = NULL;
        pyloop_restore_exception(exception);
        return NULL;
    }
    if (PyErr_Occurred())
        return NULL;
    if (rc == -EBUSY) {
        PyErr_SetString(PyExc_RuntimeError, "This event loop is already running");
        return NULL;
    }
    if (rc < 0 && rc != -ECANCELED)
        return error_from_core(rc);
    Py_RETURN_NONE;
}

static PyObject *loop_run(LoopObject *self, PyObject *unused)
{
    (void)unused;
    if (check_open(self) < 0)
        return NULL;
    return finish_run(self, pyloop_run(self->core));
}

static PyObject *loop_run_once(LoopObject *self, PyObject *unused)
{
    (void)unused;
    if (check_open(self) < 0)
        return NULL;
    return finish_run(self, pyloop_run_once(self->core));
}

static PyObject *loop_stop(LoopObject *self, PyObject *unused)
{
    (void)unused;
    pyloop_stop(self->core);
    Py_RETURN_NONE;
}

/* ------------------------------------------------------------------ */
/* fd watchers                                                         */
/* ------------------------------------------------------------------ */

/* selectors' _fileobj_to_fd: an int or an object with fileno(). */
static int to_fd(PyObject *object)
{
    long fd;

    if (PyLong_Check(object)) {
        fd = PyLong_AsLong(object);
        if (fd == -1 && PyErr_Occurred())
            return -1;
    } else {
        PyObject *fileno = PyObject_CallMethod(object, "fileno", NULL);
        if (!fileno || !PyLong_Check(fileno)) {
            Py_XDECREF(fileno);
            PyErr_Clear();
            PyErr_Format(PyExc_ValueError, "Invalid file object: %R", object);
            return -1;
        }
        fd = PyLong_AsLong(fileno);
        Py_DECREF(fileno);
        if (fd == -1 && PyErr_Occurred())
            return -1;
    }
    if (fd < 0 || fd > INT32_MAX) {
        PyErr_Format(PyExc_ValueError, "Invalid file descriptor: %ld", fd);
        return -1;
    }
    return (int)fd;
}

/* An fd is ready: queue its handle like any other callback, as asyncio's
 * _process_events does, so I/O callbacks keep asyncio's ordering. */
static void fd_ready(pyloop_loop *core, int fd, int events, void *arg)
{
    HandleObject *handle = arg;
    (void)fd;
    (void)events;
    if (handle->cancelled)
        return;
    pyloop_handle_enqueue(handle);
    if (pyloop_call_soon(core, pyloop_handle_trampoline, handle) < 0) {
        LoopObject *loop = (LoopObject *)handle->loop;
        pyloop_handle_dequeue(handle, 0);
        PyErr_NoMemory();
        pyloop_loop_set_pending_exception(loop);
    }
}

static PyObject *add_watcher(LoopObject *self, PyObject *const *args, Py_ssize_t nargs, int event,
                             const char *method)
{
    void *reader = NULL, *writer = NULL;
    HandleObject *handle, *previous;
    PyObject *packed;
    int fd, rc;

    if (nargs < 2) {
        PyErr_Format(PyExc_TypeError, "%s() takes at least 2 arguments (%zd given)", method, nargs);
        return NULL;
    }
    if (check_open(self) < 0 || (fd = to_fd(args[0])) < 0 || check_callback(self, args[1], method) < 0
        || pack_args(args + 2, nargs - 2, &packed) < 0)
        return NULL;
    handle = pyloop_handle_new(args[1], packed, self, NULL);
    Py_XDECREF(packed);
    if (!handle)
        return NULL;
    pyloop_fd_events(self->core, fd, &reader, &writer);
    previous = event == PYLOOP_READABLE ? reader : writer;
    pyloop_handle_enqueue(handle); /* the fd table's reference */
    rc = event == PYLOOP_READABLE ? pyloop_fd_set_reader(self->core, fd, fd_ready, handle)
                                  : pyloop_fd_set_writer(self->core, fd, fd_ready, handle);
    if (rc < 0) {
        pyloop_handle_dequeue(handle, 0);
        Py_DECREF(handle);
        return error_from_core(rc);
    }
    if (previous) {
        pyloop_handle_cancel_internal(previous);
        pyloop_handle_dequeue(previous, 0);
    }
    return (PyObject *)handle;
}

static PyObject *remove_watcher(LoopObject *self, PyObject *fd_object, int event)
{
    void *reader = NULL, *writer = NULL;
    HandleObject *handle;
    int fd;

    if (self->closed)
        Py_RETURN_FALSE;
    fd = to_fd(fd_object);
    if (fd < 0)
        return NULL;
    if (!(pyloop_fd_events(self->core, fd, &reader, &writer) & event))
        Py_RETURN_FALSE;
    handle = event == PYLOOP_READABLE ? reader : writer;
    /* A kernel error here means the fd is gone already: the watcher is
     * removed from the table either way. */
    if (event == PYLOOP_READABLE)
        pyloop_fd_clear_reader(self->core, fd);
    else
        pyloop_fd_clear_writer(self->core, fd);
    pyloop_handle_cancel_internal(handle);
    pyloop_handle_dequeue(handle, 0);
    Py_RETURN_TRUE;
}

static PyObject *loop_add_reader(LoopObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    return add_watcher(self, args, nargs, PYLOOP_READABLE, "add_reader");
}

static PyObject *loop_add_writer(LoopObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    return add_watcher(self, args, nargs, PYLOOP_WRITABLE, "add_writer");
}

static PyObject *loop_remove_reader(LoopObject *self, PyObject *fd)
{
    return remove_watcher(self, fd, PYLOOP_READABLE);
}

static PyObject *loop_remove_writer(LoopObject *self, PyObject *fd)
{
    return remove_watcher(self, fd, PYLOOP_WRITABLE);
}

static PyObject *fd_key_tuple(int events, void *reader, void *writer)
{
    /* selectors.EVENT_READ == 1 and EVENT_WRITE == 2, like ours. */
    return Py_BuildValue("(iOO)", events, reader ? (PyObject *)reader : Py_None, writer ? (PyObject *)writer : Py_None);
}

/* (events, reader handle, writer handle) for a watched fd, else None. */
static PyObject *loop_fd_key(LoopObject *self, PyObject *fd_object)
{
    void *reader, *writer;
    int fd = to_fd(fd_object), events;

    if (fd < 0)
        return NULL;
    events = pyloop_fd_events(self->core, fd, &reader, &writer);
    if (!events)
        Py_RETURN_NONE;
    return fd_key_tuple(events, reader, writer);
}

static int add_fd_to_dict(int fd, int events, void *reader, void *writer, void *context)
{
    PyObject *key = PyLong_FromLong(fd), *value = fd_key_tuple(events, reader, writer);
    int rc = key && value ? PyDict_SetItem(context, key, value) : -1;
    Py_XDECREF(key);
    Py_XDECREF(value);
    return rc;
}

static PyObject *loop_fd_map(LoopObject *self, PyObject *unused)
{
    PyObject *map = PyDict_New();
    (void)unused;
    if (map && pyloop_foreach_fd(self->core, add_fd_to_dict, map) < 0)
        Py_CLEAR(map);
    return map;
}

/* ------------------------------------------------------------------ */
/* closing, GC                                                         */
/* ------------------------------------------------------------------ */

static int drop_queued(pyloop_callback fn, void *arg, void *context)
{
    int orphan = *(int *)context;
    if (fn == pyloop_timer_trampoline)
        ((TimerHandleObject *)arg)->scheduled = 0;
    pyloop_handle_dequeue(arg, orphan);
    return 0;
}

typedef struct fd_list {
    int fds[64];
    int count;
} fd_list;

static int collect_fd(int fd, int events, void *reader, void *writer, void *context)
{
    fd_list *list = context;
    (void)events;
    (void)reader;
    (void)writer;
    list->fds[list->count++] = fd;
    return list->count == 64; /* full: stop, drop these, come back */
}

/* Drops everything the core holds, without running it: queued callbacks,
 * timers, fd watchers (their handles are cancelled). `orphan` when the loop
 * is being deallocated: the handles must not take back a reference to it. */
static void release_core_references(LoopObject *self, int orphan)
{
    fd_list list;
    int i;

    if (!self->core)
        return;
    do {
        list.count = 0;
        pyloop_foreach_fd(self->core, collect_fd, &list);
        for (i = 0; i < list.count; i++) {
            void *reader = NULL, *writer = NULL;
            pyloop_fd_events(self->core, list.fds[i], &reader, &writer);
            pyloop_fd_forget(self->core, list.fds[i]);
            if (reader) {
                pyloop_handle_cancel_internal(reader);
                pyloop_handle_dequeue(reader, orphan);
            }
            if (writer) {
                pyloop_handle_cancel_internal(writer);
                pyloop_handle_dequeue(writer, orphan);
            }
        }
    } while (list.count);
    pyloop_clear_pending(self->core, drop_queued, &orphan);
}

static PyObject *loop_close_core(LoopObject *self, PyObject *unused)
{
    (void)unused;
    self->closed = 1;
    release_core_references(self, 0);
    Py_RETURN_NONE;
}

typedef struct gc_visit {
    visitproc visit;
    void *arg;
} gc_visit;

static int visit_queued(pyloop_callback fn, void *arg, void *context)
{
    gc_visit *gc = context;
    (void)fn;
    return gc->visit((PyObject *)arg, gc->arg);
}

static int visit_fd(int fd, int events, void *reader, void *writer, void *context)
{
    gc_visit *gc = context;
    int rc = 0;
    (void)fd;
    (void)events;
    if (reader)
        rc = gc->visit((PyObject *)reader, gc->arg);
    if (!rc && writer)
        rc = gc->visit((PyObject *)writer, gc->arg);
    return rc;
}

static int loop_traverse(LoopObject *self, visitproc visit, void *arg)
{
    gc_visit gc = {visit, arg};
    int rc;

    Py_VISIT(self->pending_exception);
    if (!self->core)
        return 0;
    rc = pyloop_foreach_pending(self->core, visit_queued, &gc);
    if (rc)
        return rc;
    return pyloop_foreach_fd(self->core, visit_fd, &gc);
}

static int loop_clear(LoopObject *self)
{
    Py_CLEAR(self->pending_exception);
    release_core_references(self, 0);
    return 0;
}

static void loop_dealloc(LoopObject *self)
{
    PyTypeObject *type = Py_TYPE(self);

    PyObject_GC_UnTrack(self);
    Py_CLEAR(self->pending_exception);
    self->closed = 1;
    release_core_references(self, 1);
    pyloop_loop_free(self->core);
    self->core = NULL;
    type->tp_free(self);
}

static PyObject *loop_new(PyTypeObject *type, PyObject *args, PyObject *keywords)
{
    LoopObject *self;
    (void)args;
    (void)keywords;

    self = (LoopObject *)type->tp_alloc(type, 0);
    if (!self)
        return NULL;
    self->core = pyloop_loop_new();
    if (!self->core) {
        Py_DECREF(self);
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    pyloop_set_wait_hooks(self->core, release_gil, reacquire_gil, self);
    return (PyObject *)self;
}

/* ------------------------------------------------------------------ */
/* attributes asyncio's Python code reads and writes                  */
/* ------------------------------------------------------------------ */

static PyObject *loop_get_debug(LoopObject *self, void *closure)
{
    (void)closure;
    return PyBool_FromLong(self->debug);
}

/* The truth of an attribute assignment (deleting it means False). */
static int assigned_truth(PyObject *value)
{
    return value ? PyObject_IsTrue(value) : 0;
}

static int loop_set_debug(LoopObject *self, PyObject *value, void *closure)
{
    int truth = assigned_truth(value);
    (void)closure;
    if (truth >= 0)
        self->debug = (char)truth;
    return truth < 0 ? -1 : 0;
}

static PyObject *loop_get_closed(LoopObject *self, void *closure)
{
    (void)closure;
    return PyBool_FromLong(self->closed);
}

static int loop_set_closed(LoopObject *self, PyObject *value, void *closure)
{
    int truth = assigned_truth(value);
    (void)closure;
    if (truth >= 0)
        self->closed = (char)truth;
    return truth < 0 ? -1 : 0;
}

/* BaseEventLoop.stop() sets _stopping = True and run_forever resets it:
 * both map onto the core's thread-safe flag (which the run clears itself). */
static PyObject *loop_get_stopping(LoopObject *self, void *closure)
{
    (void)closure;
    return PyBool_FromLong(pyloop_stopping(self->core));
}

static int loop_set_stopping(LoopObject *self, PyObject *value, void *closure)
{
    int truth = assigned_truth(value);
    (void)closure;
    if (truth > 0)
        pyloop_stop(self->core);
    return truth < 0 ? -1 : 0;
}

static PyObject *loop_stats(LoopObject *self, PyObject *unused)
{
    pyloop_stats stats;
    (void)unused;
    pyloop_get_stats(self->core, &stats);
    return Py_BuildValue("{sKsKsKsKsKsKsKsn}", "iterations", (unsigned long long)stats.iterations, "callbacks_run",
                         (unsigned long long)stats.callbacks_run, "timers_fired",
                         (unsigned long long)stats.timers_fired, "blocking_waits",
                         (unsigned long long)stats.blocking_waits, "wakeups_written",
                         (unsigned long long)stats.wakeups_written, "wakeups_consumed",
                         (unsigned long long)stats.wakeups_consumed, "io_events", (unsigned long long)stats.io_events,
                         "timers_pending", (Py_ssize_t)pyloop_timer_count(self->core));
}

static PyMethodDef loop_methods[] = {
    {"call_soon", (PyCFunction)(void (*)(void))loop_call_soon, METH_FASTCALL | METH_KEYWORDS,
     "call_soon(callback, *args, context=None): run callback on the next iteration."},
    {"call_soon_threadsafe", (PyCFunction)(void (*)(void))loop_call_soon_threadsafe, METH_FASTCALL | METH_KEYWORDS,
     "Like call_soon(), from any thread; wakes the loop only if it is waiting."},
    {"call_later", (PyCFunction)(void (*)(void))loop_call_later, METH_FASTCALL | METH_KEYWORDS,
     "call_later(delay, callback, *args, context=None) -> TimerHandle"},
    {"call_at", (PyCFunction)(void (*)(void))loop_call_at, METH_FASTCALL | METH_KEYWORDS,
     "call_at(when, callback, *args, context=None) -> TimerHandle"},
    {"time", (PyCFunction)loop_time, METH_NOARGS, "The loop's clock: time.monotonic()."},
    {"stop", (PyCFunction)loop_stop, METH_NOARGS, "Stop after the current iteration. Safe from any thread."},
    {"_run", (PyCFunction)loop_run, METH_NOARGS, "Run iterations until stop() (the body of run_forever)."},
    {"_run_once", (PyCFunction)loop_run_once, METH_NOARGS, "Run one iteration."},
    {"_add_reader", (PyCFunction)(void (*)(void))loop_add_reader, METH_FASTCALL, NULL},
    {"_add_writer", (PyCFunction)(void (*)(void))loop_add_writer, METH_FASTCALL, NULL},
    {"_remove_reader", (PyCFunction)loop_remove_reader, METH_O, NULL},
    {"_remove_writer", (PyCFunction)loop_remove_writer, METH_O, NULL},
    {"_fd_key", (PyCFunction)loop_fd_key, METH_O, "(events, reader, writer) for a watched fd, else None."},
    {"_fd_map", (PyCFunction)loop_fd_map, METH_NOARGS, "{fd: (events, reader, writer)} for every watched fd."},
    {"_close_core", (PyCFunction)loop_close_core, METH_NOARGS, "Drop queued callbacks, timers and fd watchers."},
    {"stats", (PyCFunction)loop_stats, METH_NOARGS, "The engine's counters, as a dict."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef loop_getset[] = {
    {"_debug", (getter)loop_get_debug, (setter)loop_set_debug, NULL, NULL},
    {"_closed", (getter)loop_get_closed, (setter)loop_set_closed, NULL, NULL},
    {"_stopping", (getter)loop_get_stopping, (setter)loop_set_stopping, NULL, NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

PyTypeObject PyLoop_LoopType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "data_bridge.pyloop._pyloop.Loop",
    .tp_doc = "The C event loop engine (subclassed by data_bridge.pyloop.PyLoop).",
    .tp_basicsize = sizeof(LoopObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .tp_new = loop_new,
    .tp_dealloc = (destructor)loop_dealloc,
    .tp_traverse = (traverseproc)loop_traverse,
    .tp_clear = (inquiry)loop_clear,
    .tp_methods = loop_methods,
    .tp_getset = loop_getset,
};

int pyloop_loop_type_ready(void)
{
    return PyType_Ready(&PyLoop_LoopType);
}

/*
 * Loop: the C engine under PyLoop. The Python class (bindings/python) adds
 * asyncio's wide API by inheriting from the Unix selector loop; this type
 * supplies what that API stands on: scheduling, time, the run loop, stop
 * and fd watchers.
 */
#include "pyloop_module.h"
#include "args.h"
#include "stream.h"

#include <errno.h>
#include <limits.h>
#include <math.h>

/* ---- ending a run, and the hooks around the blocking wait ---- */

static void end_run_with_exception(LoopObject *self);

/* Records the raised exception as the one that ends the run (loop thread,
 * GIL held): KeyboardInterrupt/SystemExit from a callback, or whatever a
 * signal handler raised. The first one wins; later ones would hide it. */
void PyLoopLoop_EndRun(LoopObject *self) { end_run_with_exception(self); }

static void end_run_with_exception(LoopObject *self)
{
    PyObject *exception = PyLoop_FetchException();

    if (self->pending_exception)
        Py_XDECREF(exception);
    else
        self->pending_exception = exception;
    pyloop_interrupt(self->core);
}

static void before_wait(pyloop_loop *Py_UNUSED(core), void *context)
{
    LoopObject *self = context;
    self->waiting_thread = PyEval_SaveThread();
}

static void after_wait(pyloop_loop *Py_UNUSED(core), void *context)
{
    LoopObject *self = context;
    PyEval_RestoreThread(self->waiting_thread);
    self->waiting_thread = NULL;
    /* A signal that cut the wait short: run its Python handler now, and
     * leave the loop if it raised (Ctrl+C gives KeyboardInterrupt). */
    if (PyErr_CheckSignals() < 0)
        end_run_with_exception(self);
    PyLoopLoop_RunDeferred(self); /* what a handler wrote leaves now */
}

/* ---- a replaced `time` ---- */

static PyObject *loop_time(LoopObject *self, PyObject *unused);

/* The engine's clock while `time` is replaced: self.time(), as asyncio's
 * _run_once reads it. What it raises ends the run, as it leaves asyncio's
 * run_forever; the engine then takes no timer as due (NaN). */
static double overridden_now(pyloop_loop *Py_UNUSED(core), void *context)
{
    LoopObject *self = context;
    PyObject *now;
    double seconds;

    if (self->pending_exception)
        return NAN; /* the run ends already */
    now = PyObject_CallMethodNoArgs((PyObject *)self, PyLoop_str.time);
    seconds = now ? PyFloat_AsDouble(now) : -1.0;
    Py_XDECREF(now);
    if (seconds == -1.0 && PyErr_Occurred()) {
        end_run_with_exception(self);
        return NAN;
    }
    if (isnan(seconds)) {
        /* asyncio's selector fails on it (math.ceil of a NaN timeout); the
         * engine would otherwise spin without a deadline. */
        PyErr_SetString(PyExc_ValueError, "loop.time() returned NaN");
        end_run_with_exception(self);
    }
    return seconds;
}

/* Is self.time the C method? A getattr, so at set-up, at each run's start
 * and when `time` is assigned or deleted on the instance, never per
 * callback. A `time` that cannot be looked up counts as replaced: the run
 * then raises what asyncio's self.time() would. */
static void sync_clock(LoopObject *self)
{
    PyObject *method = PyObject_GetAttr((PyObject *)self, PyLoop_str.time);
    int own = method && PyCFunction_Check(method) && PyCFunction_GET_SELF(method) == (PyObject *)self
              && PyCFunction_GET_FUNCTION(method) == (PyCFunction)loop_time;

    if (!method)
        PyErr_Clear();
    Py_XDECREF(method);
    self->clock_overridden = (char)!own;
    if (self->core)
        pyloop_set_clock(self->core, own ? NULL : overridden_now, self);
}

/* Instance attributes go where object's would; `time` re-checks the clock
 * (mock.patch.object(loop, "time") sets it, and deletes it on exit). */
static int loop_setattro(PyObject *self, PyObject *name, PyObject *value)
{
    int rc = PyObject_GenericSetAttr(self, name, value);

    if (rc == 0 && PyUnicode_Check(name) && PyUnicode_GET_LENGTH(name) == 4
        && PyUnicode_Compare(name, PyLoop_str.time) == 0)
        sync_clock((LoopObject *)self);
    return rc;
}

/* ---- work deferred to the end of the running callback ---- */

int PyLoopLoop_Defer(LoopObject *loop, PyLoopDeferred *entry)
{
    if (entry->queued)
        return 1;
    /* Another thread (the loop asleep, or inside a callback that let the
     * GIL go) has no callback end to wait for: asyncio's write sends at
     * once there too. One pointer compare on the hot path. */
    if (!loop->core || loop->running_thread != PyThreadState_Get() || !pyloop_is_running(loop->core))
        return 0;
    entry->queued = 1;
    entry->next = NULL;
    Py_INCREF(entry->owner);
    if (!loop->deferred_head)
        loop->deferred_tail = &loop->deferred_head;
    *loop->deferred_tail = entry;
    loop->deferred_tail = &entry->next;
    return 1;
}

/* Entries queued while this runs (a flush that makes a protocol write)
 * run in the same pass. An exception an entry leaves is reported. */
static void run_deferred(LoopObject *loop)
{
    while (loop->deferred_head) {
        PyLoopDeferred *entry = loop->deferred_head;
        PyObject *owner = entry->owner;
        loop->deferred_head = entry->next;
        entry->queued = 0;
        entry->run(entry);
        Py_DECREF(owner);
    }
}

void PyLoopLoop_RunDeferred(LoopObject *loop)
{
    if (loop->deferred_head)
        run_deferred(loop);
}

/* Every trampoline empties the list on its way out, so it holds something
 * only under a running callback, when the loop can be neither closed nor
 * collected; this is for completeness. */
static void drop_deferred(LoopObject *loop)
{
    while (loop->deferred_head) {
        PyLoopDeferred *entry = loop->deferred_head;
        loop->deferred_head = entry->next;
        entry->queued = 0;
        Py_DECREF(entry->owner);
    }
}

/* ---- the trampolines the core calls for queued handles ---- */

/* The loop whose queue a handle sits in. Queued handles keep their loop
 * reference: only the collector clears it, and it clears the loop's queues
 * first or together, never under a running iteration. */
static inline LoopObject *handle_loop(HandleObject *handle) { return (LoopObject *)handle->loop; }

/* The queue's reference is released after the run: it keeps the handle
 * alive while its callback runs. KeyboardInterrupt/SystemExit end the run. */
static inline void run_queued(HandleObject *handle, int (*run)(HandleObject *))
{
    LoopObject *loop = handle_loop(handle);
    handle->queued = 0;
    if (loop->last_queued == handle)
        Py_CLEAR(loop->last_queued); /* it goes when it has run, as in asyncio */
    if (run(handle) < 0)
        end_run_with_exception(loop);
    PyLoopLoop_RunDeferred(loop);
    /* Someone took a reference while it ran (an exception handler kept
     * context["handle"]): from now on it may sit in a cycle. */
    if (Py_REFCNT(handle) > 1 && !PyObject_GC_IsTracked((PyObject *)handle))
        PyObject_GC_Track(handle);
    Py_DECREF(handle);
}

static void run_queued_handle(pyloop_loop *Py_UNUSED(core), void *arg) { run_queued(arg, PyLoopHandle_Run); }

/* call_soon_threadsafe's, where it is asyncio's _ThreadSafeHandle. */
static void run_queued_threadsafe_handle(pyloop_loop *Py_UNUSED(core), void *arg) { run_queued(arg, PyLoopThreadSafeHandle_Run); }

/* By the next call_soon its caller has usually dropped `last_queued`: then
 * only the loop can reach it, so it is untracked and loop_traverse reports
 * its contents ("Who owns what" in pyloop_module.h). */
static void settle_last_queued(LoopObject *self)
{
    HandleObject *last = self->last_queued;

    if (!last)
        return;
    self->last_queued = NULL;
    if (Py_REFCNT(last) == 2 && last->queued && !last->weakreflist)
        PyObject_GC_UnTrack(last);
    Py_DECREF(last);
}

static void run_timer(pyloop_loop *core, void *arg)
{
    ((TimerHandleObject *)arg)->scheduled = 0;
    run_queued_handle(core, arg);
}

/* ---- argument checks shared by the scheduling methods ---- */

static int check_open(LoopObject *self)
{
    if (self->closed) {
        PyErr_SetString(PyExc_RuntimeError, "Event loop is closed");
        return -1;
    }
    return 0;
}

/* asyncio.coroutines.iscoroutine, for check_callback (set by PyLoopLoop_Add). */
static PyObject *asyncio_iscoroutine;

/* `coroutines.iscoroutine(callback) or coroutines.iscoroutinefunction(callback)`:
 * 1, 0, or -1 with an exception. */
static int is_coroutine_or_function(PyObject *callback)
{
    PyObject *checks[2] = {asyncio_iscoroutine, PyLoop_asyncio.iscoroutinefunction}, *found;
    int i, truth = 0;

    for (i = 0; i < 2 && !truth; i++) {
        found = PyObject_CallOneArg(checks[i], callback);
        truth = found ? PyObject_IsTrue(found) : -1;
        Py_XDECREF(found);
    }
    return truth;
}

/* asyncio's _check_callback, which call_soon, call_at (so call_later, which
 * calls call_at) and call_soon_threadsafe make in debug mode only. Outside
 * it nothing is checked: a non-callable is queued, and its TypeError reaches
 * the exception handler when the handle runs, as in asyncio. */
static int check_callback(LoopObject *self, PyObject *callback, const char *method)
{
    int coroutine;

    if (!self->debug)
        return 0;
    coroutine = is_coroutine_or_function(callback);
    if (coroutine < 0)
        return -1;
    if (coroutine) {
        PyErr_Format(PyExc_TypeError, "coroutines cannot be used with %s()", method);
        return -1;
    }
    if (!PyCallable_Check(callback)) {
        PyErr_Format(PyExc_TypeError, "a callable object was expected by %s(), got %R", method, callback);
        return -1;
    }
    return 0;
}

static int check_thread(LoopObject *self)
{
    PyObject *result;
    if (!self->debug)
        return 0;
    result = PyObject_CallMethodObjArgs((PyObject *)self, PyLoop_str._check_thread, NULL);
    if (!result)
        return -1;
    Py_DECREF(result);
    return 0;
}

/* asyncio's call_soon(callback, *args, context=None), call_soon_threadsafe
 * (same), call_at(when, callback, ...) and call_later(delay, callback, ...):
 * `params` names the leading parameters, `required` of them; the call gives
 * them positionally (then *args may follow), or, when fewer are given, as
 * keywords. Binds them into args_out (the call's own array when it has them
 * all, else `slots`), with context= apart, and CPython's TypeError texts for
 * a Python function of that signature otherwise. */
static const PyLoopParams soon_params = {"BaseEventLoop.call_soon", {"callback"}, 1, 1};
static const PyLoopParams soon_threadsafe_params = {"BaseEventLoop.call_soon_threadsafe", {"callback"}, 1, 1};
static const PyLoopParams later_params = {"BaseEventLoop.call_later", {"delay", "callback"}, 2, 2};
static const PyLoopParams at_params = {"BaseEventLoop.call_at", {"when", "callback"}, 2, 2};

static int bind_schedule(const PyLoopParams *params, PyObject *const *args, Py_ssize_t nargs, PyObject *keywords,
                         PyObject **slots, PyObject *const **args_out, Py_ssize_t *nargs_out, PyObject **context)
{
    Py_ssize_t i;

    *context = NULL;
    *args_out = args;
    *nargs_out = nargs;
    for (i = 0; i < params->required; i++)
        slots[i] = i < nargs ? args[i] : NULL;
    for (i = 0; keywords && i < PyTuple_GET_SIZE(keywords); i++) {
        PyObject *name = PyTuple_GET_ITEM(keywords, i);
        int j;

        if (PyUnicode_CompareWithASCIIString(name, "context") == 0) {
            *context = args[nargs + i];
            continue;
        }
        if ((j = PyLoopArgs_KeywordIndex(params, name, nargs, slots)) < 0)
            return -1;
        slots[j] = args[nargs + i];
    }
    if (nargs >= params->required)
        return 0;
    if (PyLoopArgs_CheckMissing(params, slots) < 0)
        return -1;
    *args_out = slots;
    *nargs_out = params->required;
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

/* ---- scheduling ---- */

/* A producer on another thread that outruns the loop waits for it here,
 * with the GIL released (see pyloop_throttle). */
static void throttle_producer(LoopObject *self)
{
    if (pyloop_throttle_needed(self->core)) {
        Py_BEGIN_ALLOW_THREADS
        pyloop_throttle(self->core);
        Py_END_ALLOW_THREADS
    }
}

static PyObject *schedule_soon(LoopObject *self, PyObject *const *args, size_t nargsf, PyObject *keywords,
                               const char *method, int threadsafe)
{
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    PyObject *context, *packed, *slots[2];
    HandleObject *handle;
    int rc;

    if (bind_schedule(threadsafe ? &soon_threadsafe_params : &soon_params, args, nargs, keywords, slots, &args,
                      &nargs, &context) < 0
        || check_open(self) < 0
        || (!threadsafe && check_thread(self) < 0) || check_callback(self, args[0], method) < 0
        || pack_args(args + 1, nargs - 1, &packed) < 0)
        return NULL;
    handle = threadsafe && PyLoop_ThreadSafeHandles ? PyLoopThreadSafeHandle_New(args[0], packed, self, context)
                                                    : PyLoopHandle_New(args[0], packed, self, context);
    Py_XDECREF(packed);
    if (!handle)
        return NULL;
    Py_INCREF(handle); /* the queue's reference */
    rc = threadsafe ? pyloop_call_soon_threadsafe(self->core,
                                                  PyLoop_ThreadSafeHandles ? run_queued_threadsafe_handle
                                                                           : run_queued_handle,
                                                  handle)
                    : pyloop_call_soon(self->core, run_queued_handle, handle);
    if (rc < 0) {
        Py_DECREF(handle);
        Py_DECREF(handle);
        return error_from_core(rc);
    }
    handle->queued = 1;
    settle_last_queued(self);
    Py_INCREF(handle);
    self->last_queued = handle;
    if (threadsafe)
        throttle_producer(self);
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

/* `when_object`: what call_at() was given, which when() returns as is. */
static PyObject *schedule_at(LoopObject *self, double when, PyObject *when_object, PyObject *const *args,
                             Py_ssize_t nargs, PyObject *context, const char *method)
{
    PyObject *packed;
    TimerHandleObject *timer;
    int rc;

    if (check_open(self) < 0 || check_thread(self) < 0 || check_callback(self, args[0], method) < 0
        || pack_args(args + 1, nargs - 1, &packed) < 0)
        return NULL;
    timer = PyLoopTimerHandle_New(when, when_object, args[0], packed, self, context);
    Py_XDECREF(packed);
    if (!timer)
        return NULL;
    timer->timer.fn = run_timer; /* how this loop runs a due timer */
    Py_INCREF(timer);            /* the heap's reference */
    rc = pyloop_timer_start(self->core, &timer->timer, when);
    if (rc < 0) {
        Py_DECREF(timer);
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
    PyObject *context, *slots[2];
    double when;

    if (bind_schedule(&later_params, args, nargs, keywords, slots, &args, &nargs, &context) < 0)
        return NULL;
    if (self->clock_overridden && args[0] != Py_None) {
        /* asyncio's call_at(self.time() + delay, ...): when() is that sum. */
        PyObject *now = PyObject_CallMethodNoArgs((PyObject *)self, PyLoop_str.time), *sum, *timer;

        sum = now ? PyNumber_Add(now, args[0]) : NULL;
        Py_XDECREF(now);
        if (!sum)
            return NULL;
        timer = to_seconds(sum, 0.0, "delay", &when) < 0
                    ? NULL
                    : schedule_at(self, when, sum, args + 1, nargs - 1, context, "call_at");
        Py_DECREF(sum);
        return timer;
    }
    if (to_seconds(args[0], pyloop_time(self->core), "delay", &when) < 0)
        return NULL;
    return schedule_at(self, when, NULL, args + 1, nargs - 1, context, "call_at");
}

static PyObject *loop_call_at(LoopObject *self, PyObject *const *args, size_t nargsf, PyObject *keywords)
{
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    PyObject *context, *slots[2];
    double when;

    if (bind_schedule(&at_params, args, nargs, keywords, slots, &args, &nargs, &context) < 0
        || to_seconds(args[0], 0.0, "when", &when) < 0)
        return NULL;
    return schedule_at(self, when, args[0], args + 1, nargs - 1, context, "call_at");
}

static PyObject *loop_time(LoopObject *self, PyObject *Py_UNUSED(unused)) { return PyFloat_FromDouble(pyloop_time(self->core)); }

/* ---- running ---- */

static PyObject *finish_run(LoopObject *self, int rc)
{
    if (self->pending_exception) {
        PyObject *exception = self->pending_exception;
        self->pending_exception = NULL;
        PyLoop_RestoreException(exception);
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

/* pyloop_run or pyloop_run_once, with running_thread set around it (not
 * touched by a call the core refuses because the loop already runs). */
static PyObject *run_here(LoopObject *self, int once)
{
    PyThreadState *outer = self->running_thread;
    int rc;

    if (check_open(self) < 0)
        return NULL;
    sync_clock(self); /* a subclass's or class-level `time` changed since */
    if (!outer)
        self->running_thread = PyThreadState_Get();
    rc = once ? pyloop_run_once(self->core) : pyloop_run(self->core);
    if (!outer)
        self->running_thread = NULL;
    return finish_run(self, rc);
}

static PyObject *loop_run(LoopObject *self, PyObject *Py_UNUSED(unused)) { return run_here(self, 0); }
static PyObject *loop_run_once(LoopObject *self, PyObject *Py_UNUSED(unused)) { return run_here(self, 1); }

static PyObject *loop_stop(LoopObject *self, PyObject *Py_UNUSED(unused))
{
    pyloop_stop(self->core);
    Py_RETURN_NONE;
}

/* ---- fd watchers ---- */

/* No fd can be this large: epoll and poll take a C int. */
#define FD_TOO_LARGE ((long)INT_MAX + 1)

/* selectors' _fileobj_to_fd: the fd of an int, or int(fileobj.fileno()).
 * Returns 0 with *fd set (FD_TOO_LARGE for any number above INT_MAX), or -1
 * with ValueError ("Invalid file object: ..." / "Invalid file descriptor:
 * ...") or whatever else fileno() raised. */
static int fileobj_to_fd(PyObject *object, long *fd)
{
    PyObject *number;
    int overflow;

    if (PyLong_Check(object)) {
        Py_INCREF(object);
        number = object;
    } else {
        PyObject *fileno = PyObject_CallMethodNoArgs(object, PyLoop_str.fileno);
        number = fileno ? PyNumber_Long(fileno) : NULL;
        Py_XDECREF(fileno);
        if (!number) {
            if (PyErr_ExceptionMatches(PyExc_AttributeError) || PyErr_ExceptionMatches(PyExc_TypeError)
                || PyErr_ExceptionMatches(PyExc_ValueError)) {
                PyErr_Clear();
                PyErr_Format(PyExc_ValueError, "Invalid file object: %R", object);
            }
            return -1;
        }
    }
    *fd = PyLong_AsLongAndOverflow(number, &overflow);
    if (overflow < 0 || (*fd < 0 && !overflow)) {
        if (!PyErr_Occurred())
            PyErr_Format(PyExc_ValueError, "Invalid file descriptor: %S", number);
        Py_DECREF(number);
        return -1;
    }
    Py_DECREF(number);
    if (overflow > 0 || *fd > INT_MAX)
        *fd = FD_TOO_LARGE;
    return 0;
}

/* The fd registered for `object`: its fd number, or else (it is closed, so
 * fileno() says -1) the fd it was registered with, found by identity as
 * selectors' _fileobj_lookup does. -1 with the ValueError when neither. */
static int lookup_fd(LoopObject *self, PyObject *object, long *fd)
{
    PyObject *key, *value, *error;
    Py_ssize_t position = 0;

    if (fileobj_to_fd(object, fd) == 0)
        return 0;
    if (!self->fd_objects || !PyErr_ExceptionMatches(PyExc_ValueError))
        return -1;
    error = PyLoop_FetchException();
    while (PyDict_Next(self->fd_objects, &position, &key, &value)) {
        if (value == object) {
            Py_DECREF(error);
            *fd = PyLong_AsLong(key);
            return 0;
        }
    }
    PyLoop_RestoreException(error);
    return -1;
}

/* The object an fd is watched through, while it has watchers. */
static int remember_fd_object(LoopObject *self, int fd, PyObject *object)
{
    PyObject *key;
    int rc;

    if (PyLong_Check(object))
        return 0;
    if (!self->fd_objects && !(self->fd_objects = PyDict_New()))
        return -1;
    key = PyLong_FromLong(fd);
    rc = key ? PyDict_SetItem(self->fd_objects, key, object) : -1;
    Py_XDECREF(key);
    return rc;
}

static void forget_fd_object(LoopObject *self, int fd)
{
    PyObject *key;

    if (!self->fd_objects || pyloop_fd_events(self->core, fd, NULL, NULL))
        return;
    key = PyLong_FromLong(fd);
    if (!key || PyDict_DelItem(self->fd_objects, key) < 0)
        PyErr_Clear(); /* not there: registered through an int */
    Py_XDECREF(key);
}

/* The object the fd was first registered through (the int itself if so). */
static PyObject *fd_object(LoopObject *self, int fd)
{
    PyObject *key = PyLong_FromLong(fd), *object;

    if (!key)
        return NULL;
    object = self->fd_objects ? PyDict_GetItemWithError(self->fd_objects, key) : NULL;
    if (object) {
        Py_DECREF(key);
        Py_INCREF(object);
        return object;
    }
    if (PyErr_Occurred()) {
        Py_DECREF(key);
        return NULL;
    }
    return key;
}

/* An fd is ready: queue its handle like any other callback, as asyncio's
 * _process_events does, so I/O callbacks keep asyncio's ordering. */
static void fd_ready(pyloop_loop *core, int Py_UNUSED(fd), int Py_UNUSED(events), void *arg)
{
    HandleObject *handle = arg;
    if (handle->cancelled)
        return;
    Py_INCREF(handle);
    if (pyloop_call_soon(core, run_queued_handle, handle) < 0) {
        PyErr_NoMemory();
        end_run_with_exception(handle_loop(handle));
        Py_DECREF(handle);
    }
}

/* An fd's watchers, told apart: handles set by add_reader/add_writer
 * (fd_ready), and streams, which a transport's stream layer set. */
typedef struct fd_watchers {
    int events;
    HandleObject *reader, *writer;
    pyloop_stream *reader_stream, *writer_stream;
} fd_watchers;

static void watchers_of(LoopObject *self, int fd, fd_watchers *watchers)
{
    pyloop_io_callback reader_fn, writer_fn;
    void *reader = NULL, *writer = NULL;

    watchers->events = pyloop_fd_events(self->core, fd, &reader, &writer);
    pyloop_fd_callbacks(self->core, fd, &reader_fn, &writer_fn);
    watchers->reader = reader && reader_fn == fd_ready ? reader : NULL;
    watchers->writer = writer && writer_fn == fd_ready ? writer : NULL;
    watchers->reader_stream = reader && reader_fn != fd_ready ? reader : NULL;
    watchers->writer_stream = writer && writer_fn != fd_ready ? writer : NULL;
}

/* The transport whose stream watches fd, for asyncio's error message. */
static int refuse_transport_fd(fd_watchers *watchers, long fd)
{
    pyloop_stream *stream = watchers->reader_stream ? watchers->reader_stream : watchers->writer_stream;

    if (!stream)
        return 0;
    PyErr_Format(PyExc_RuntimeError, "File descriptor %ld is used by transport %R", fd, (PyObject *)stream->context);
    return -1;
}

/* The fd table's reference to a watcher's handle goes; the handle is
 * cancelled, as asyncio cancels a replaced or removed one. */
static void drop_watcher_handle(void *handle)
{
    if (!handle)
        return;
    PyLoopHandle_Cancel(handle);
    Py_DECREF((PyObject *)handle);
}

/* _add_reader/_add_writer(fileobj, callback, *args); `packed`: the args
 * tuple, or NULL for none (the handle takes its own reference). */
static PyObject *watch_fd(LoopObject *self, PyObject *fileobj, PyObject *callback, PyObject *packed, int event)
{
    fd_watchers watchers;
    HandleObject *handle;
    long fd;
    int rc, first;

    if (check_open(self) < 0 || fileobj_to_fd(fileobj, &fd) < 0)
        return NULL;
    if (fd == FD_TOO_LARGE) {
        /* What epoll.register() says of it in asyncio. */
        PyErr_SetString(PyExc_OverflowError, "Python int too large to convert to C int");
        return NULL;
    }
    watchers_of(self, (int)fd, &watchers);
    if (refuse_transport_fd(&watchers, fd) < 0) /* no callback check: _add_reader makes none */
        return NULL;
    handle = PyLoopHandle_New(callback, packed, self, NULL);
    if (!handle)
        return NULL;
    first = !watchers.events;
    if (first && remember_fd_object(self, (int)fd, fileobj) < 0) {
        Py_DECREF(handle);
        return NULL;
    }
    Py_INCREF(handle); /* the fd table's reference */
    rc = event == PYLOOP_READABLE ? pyloop_fd_set_reader(self->core, (int)fd, fd_ready, handle)
                                  : pyloop_fd_set_writer(self->core, (int)fd, fd_ready, handle);
    if (rc < 0) {
        Py_DECREF(handle);
        Py_DECREF(handle);
        if (rc == -ENOENT && !first) {
            /* The fd was closed behind the loop and the number may be a
             * newcomer's. selectors' modify() unregisters the fd before it
             * raises FileNotFoundError, so the next add_reader starts afresh:
             * the same here, the old handles dropped, not cancelled. */
            pyloop_fd_forget(self->core, (int)fd);
            Py_XDECREF(watchers.reader);
            Py_XDECREF(watchers.writer);
        }
        forget_fd_object(self, (int)fd);
        return error_from_core(rc);
    }
    drop_watcher_handle(event == PYLOOP_READABLE ? watchers.reader : watchers.writer);
    return (PyObject *)handle;
}

static PyObject *add_watcher(LoopObject *self, PyObject *const *args, Py_ssize_t nargs, int event,
                             const char *method)
{
    PyObject *packed, *handle;

    if (nargs < 2) {
        PyErr_Format(PyExc_TypeError, "%s() takes at least 2 arguments (%zd given)", method, nargs);
        return NULL;
    }
    if (pack_args(args + 2, nargs - 2, &packed) < 0)
        return NULL;
    handle = watch_fd(self, args[0], args[1], packed, event);
    Py_XDECREF(packed);
    return handle;
}

static PyObject *remove_watcher(LoopObject *self, PyObject *object, int event)
{
    fd_watchers watchers;
    HandleObject *handle;
    long fd;

    if (self->closed)
        Py_RETURN_FALSE;
    if (lookup_fd(self, object, &fd) < 0)
        return NULL;
    if (fd == FD_TOO_LARGE)
        Py_RETURN_FALSE;
    watchers_of(self, (int)fd, &watchers);
    handle = event == PYLOOP_READABLE ? watchers.reader : watchers.writer;
    /* Not one of add_reader/add_writer's (a transport's stream): its owner
     * stops it, through the transport's own methods. */
    if (!handle)
        Py_RETURN_FALSE;
    /* A kernel error here means the fd is gone already: the watcher is
     * removed from the table either way. */
    if (event == PYLOOP_READABLE)
        pyloop_fd_clear_reader(self->core, (int)fd);
    else
        pyloop_fd_clear_writer(self->core, (int)fd);
    forget_fd_object(self, (int)fd);
    drop_watcher_handle(handle);
    Py_RETURN_TRUE;
}

HandleObject *PyLoopLoop_AddWatcher(LoopObject *self, PyObject *fileobj, int event, PyObject *callback,
                                   PyObject *args)
{
    return (HandleObject *)watch_fd(self, fileobj, callback, args, event);
}

int PyLoopLoop_RemoveWatcher(LoopObject *self, PyObject *fileobj, int event)
{
    PyObject *removed = remove_watcher(self, fileobj, event);

    if (!removed)
        return -1;
    Py_DECREF(removed);
    return removed == Py_True;
}

static PyObject *loop_add_reader(LoopObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    return add_watcher(self, args, nargs, PYLOOP_READABLE, "add_reader");
}

static PyObject *loop_add_writer(LoopObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    return add_watcher(self, args, nargs, PYLOOP_WRITABLE, "add_writer");
}

static PyObject *loop_remove_reader(LoopObject *self, PyObject *fd) { return remove_watcher(self, fd, PYLOOP_READABLE); }
static PyObject *loop_remove_writer(LoopObject *self, PyObject *fd) { return remove_watcher(self, fd, PYLOOP_WRITABLE); }

/* (fileobj, fd, events, reader handle, writer handle): a SelectorKey's
 * fields. selectors.EVENT_READ == 1 and EVENT_WRITE == 2, like ours. */
static PyObject *fd_key_tuple(LoopObject *self, int fd)
{
    PyObject *object = fd_object(self, fd), *key;
    fd_watchers watchers;

    if (!object)
        return NULL;
    watchers_of(self, fd, &watchers);
    key = Py_BuildValue("(OiiOO)", object, fd, watchers.events,
                        watchers.reader ? (PyObject *)watchers.reader : Py_None,
                        watchers.writer ? (PyObject *)watchers.writer : Py_None);
    Py_DECREF(object);
    return key;
}

/* The key for a watched fd (found as remove_reader finds it), else None. */
static PyObject *loop_fd_key(LoopObject *self, PyObject *object)
{
    long fd;

    if (lookup_fd(self, object, &fd) < 0)
        return NULL;
    if (fd == FD_TOO_LARGE || !pyloop_fd_events(self->core, (int)fd, NULL, NULL))
        Py_RETURN_NONE;
    return fd_key_tuple(self, (int)fd);
}

typedef struct fd_map_context {
    LoopObject *self;
    PyObject *map;
} fd_map_context;

static int add_fd_to_dict(int fd, int Py_UNUSED(events), void *Py_UNUSED(reader), void *Py_UNUSED(writer),
                          void *context)
{
    fd_map_context *map = context;
    PyObject *key = PyLong_FromLong(fd), *value = key ? fd_key_tuple(map->self, fd) : NULL;
    int rc = value ? PyDict_SetItem(map->map, key, value) : -1;
    Py_XDECREF(key);
    Py_XDECREF(value);
    return rc;
}

static PyObject *loop_fd_map(LoopObject *self, PyObject *Py_UNUSED(unused))
{
    fd_map_context map = {self, PyDict_New()};
    if (map.map && pyloop_foreach_fd(self->core, add_fd_to_dict, &map) < 0)
        Py_CLEAR(map.map);
    return map.map;
}

/* A quiet fd does not make a busy iteration look at I/O (pyloop_fd_set_quiet). */
static PyObject *loop_set_fd_quiet(LoopObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    long fd;
    int quiet;

    if (nargs != 2) {
        PyErr_Format(PyExc_TypeError, "_set_fd_quiet() takes 2 arguments (%zd given)", nargs);
        return NULL;
    }
    if (fileobj_to_fd(args[0], &fd) < 0 || (quiet = PyObject_IsTrue(args[1])) < 0)
        return NULL;
    if (fd == FD_TOO_LARGE || pyloop_fd_set_quiet(self->core, (int)fd, quiet) < 0)
        Py_RETURN_FALSE;
    Py_RETURN_TRUE;
}

/* ---- closing, GC ---- */

static int is_handle_task(pyloop_callback fn) { return fn == run_queued_handle || fn == run_timer || fn == run_queued_threadsafe_handle; }

static int drop_queued(pyloop_callback fn, void *arg, void *Py_UNUSED(context))
{
    HandleObject *handle = arg;
    if (!is_handle_task(fn)) {
        /* A stream's task: the hold it took goes. */
        if (pyloop_stream_of_task(fn, arg))
            pyloop_stream_drop_task(fn, arg);
        return 0;
    }
    if (fn == run_timer)
        ((TimerHandleObject *)arg)->scheduled = 0;
    handle->queued = 0;
    if (Py_REFCNT(handle) > 1 && !PyObject_GC_IsTracked(arg))
        PyObject_GC_Track(handle);
    Py_DECREF(handle);
    return 0;
}

typedef struct fd_list {
    int fds[64];
    int count;
} fd_list;

static int collect_fd(int fd, int Py_UNUSED(events), void *Py_UNUSED(reader), void *Py_UNUSED(writer),
                      void *context)
{
    fd_list *list = context;
    list->fds[list->count++] = fd;
    return list->count == 64; /* full: stop, drop these, come back */
}

/* Drops everything the core holds, without running it: queued callbacks,
 * timers, fd watchers (their handles are cancelled). Releasing a handle can
 * run arbitrary code (a finalizer), which may queue more: each pass pops
 * before it releases, and the last step clears what that queued too. */
static void release_core_references(LoopObject *self)
{
    fd_list list;
    int i;

    do {
        list.count = 0;
        pyloop_foreach_fd(self->core, collect_fd, &list);
        for (i = 0; i < list.count; i++) {
            fd_watchers watchers;
            watchers_of(self, list.fds[i], &watchers);
            /* A transport's stream stops watching (its holds go); its socket
             * stays open, as asyncio's transports outlive a closed loop. */
            if (watchers.reader_stream)
                pyloop_stream_close(watchers.reader_stream);
            if (watchers.writer_stream && watchers.writer_stream != watchers.reader_stream)
                pyloop_stream_close(watchers.writer_stream);
            if (watchers.reader || watchers.writer)
                pyloop_fd_forget(self->core, list.fds[i]);
            drop_watcher_handle(watchers.reader);
            drop_watcher_handle(watchers.writer);
        }
    } while (list.count);
    Py_CLEAR(self->fd_objects);
    Py_CLEAR(self->last_queued);
    drop_deferred(self);
    pyloop_clear_pending(self->core, drop_queued, NULL);
}

/* What BaseEventLoop.close() leaves to the engine: everything queued or
 * watched is dropped and the engine's own fds (poller, wakeup) are closed.
 * asyncio refuses to close a running loop; so does this, also from inside
 * an iteration that _run_once() runs. */
static PyObject *loop_close_core(LoopObject *self, PyObject *Py_UNUSED(unused))
{
    if (pyloop_is_running(self->core)) {
        PyErr_SetString(PyExc_RuntimeError, "Cannot close a running event loop");
        return NULL;
    }
    self->closed = 1;
    release_core_references(self);
    pyloop_loop_close(self->core);
    Py_RETURN_NONE;
}

typedef struct gc_visit {
    LoopObject *self;
    visitproc visit;
    void *arg;
} gc_visit;

/* An untracked queued handle is the loop's alone: its fields are the loop's. */
static int visit_queued(pyloop_callback fn, void *arg, void *context)
{
    gc_visit *gc = context;
    if (!is_handle_task(fn)) {
        /* A stream's task holds the transport it belongs to. */
        pyloop_stream *stream = pyloop_stream_of_task(fn, arg);
        return stream ? gc->visit((PyObject *)stream->context, gc->arg) : 0;
    }
    if (!PyObject_GC_IsTracked((PyObject *)arg))
        return PyLoopHandle_TraverseContents(arg, gc->visit, gc->arg);
    return gc->visit((PyObject *)arg, gc->arg);
}

/* One reference per watcher: a handle, or the transport a stream's
 * watcher holds. */
static int visit_fd(int fd, int Py_UNUSED(events), void *Py_UNUSED(reader), void *Py_UNUSED(writer), void *context)
{
    gc_visit *gc = context;
    fd_watchers watchers;
    int rc = 0;

    watchers_of(gc->self, fd, &watchers);
    if (watchers.reader)
        rc = gc->visit((PyObject *)watchers.reader, gc->arg);
    if (!rc && watchers.writer)
        rc = gc->visit((PyObject *)watchers.writer, gc->arg);
    if (!rc && watchers.reader_stream)
        rc = gc->visit((PyObject *)watchers.reader_stream->context, gc->arg);
    if (!rc && watchers.writer_stream)
        rc = gc->visit((PyObject *)watchers.writer_stream->context, gc->arg);
    return rc;
}

static int loop_traverse(LoopObject *self, visitproc visit, void *arg)
{
    gc_visit gc = {self, visit, arg};
    int rc;

    Py_VISIT(self->pending_exception);
    Py_VISIT(self->fd_objects);
    Py_VISIT(self->last_queued);
    for (PyLoopDeferred *entry = self->deferred_head; entry; entry = entry->next)
        Py_VISIT(entry->owner);
    if (!self->core)
        return 0;
    rc = pyloop_foreach_pending(self->core, visit_queued, &gc);
    if (rc)
        return rc;
    return pyloop_foreach_fd(self->core, visit_fd, &gc);
}

/* The collector breaks a cycle through the queues here. A running loop is
 * reachable from the stack, so this never runs under an iteration. */
static int loop_clear(LoopObject *self)
{
    Py_CLEAR(self->pending_exception);
    if (self->core)
        release_core_references(self);
    return 0;
}

static void loop_dealloc(LoopObject *self)
{
    PyTypeObject *type = Py_TYPE(self);

    PyObject_GC_UnTrack(self);
    Py_CLEAR(self->pending_exception);
    self->closed = 1;
    if (self->core) {
        release_core_references(self);
        pyloop_loop_free(self->core);
        self->core = NULL;
    }
    type->tp_free(self);
}

static PyObject *loop_new(PyTypeObject *type, PyObject *Py_UNUSED(args), PyObject *Py_UNUSED(keywords))
{
    LoopObject *self;

    self = (LoopObject *)type->tp_alloc(type, 0);
    if (!self)
        return NULL;
    self->core = pyloop_loop_new();
    if (!self->core) {
        Py_DECREF(self);
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    pyloop_set_wait_hooks(self->core, before_wait, after_wait, self);
    sync_clock(self); /* a subclass's own `time` */
    return (PyObject *)self;
}

/* ---- attributes asyncio's Python code reads and writes ---- */

static PyObject *loop_get_debug(LoopObject *self, void *Py_UNUSED(closure)) { return PyBool_FromLong(self->debug); }

/* `*flag = bool(value)` (deleting sets False), as asyncio's attribute. */
static int set_flag(char *flag, PyObject *value)
{
    int truth = value ? PyObject_IsTrue(value) : 0;
    if (truth >= 0)
        *flag = (char)truth;
    return truth < 0 ? -1 : 0;
}
static int loop_set_debug(LoopObject *self, PyObject *value, void *Py_UNUSED(c)) { return set_flag(&self->debug, value); }
static PyObject *loop_get_closed(LoopObject *self, void *Py_UNUSED(closure)) { return PyBool_FromLong(self->closed); }
static int loop_set_closed(LoopObject *self, PyObject *value, void *Py_UNUSED(c)) { return set_flag(&self->closed, value); }

/* BaseEventLoop.stop() sets _stopping = True and run_forever resets it:
 * both map onto the core's thread-safe flag (which the run clears itself). */
static PyObject *loop_get_stopping(LoopObject *self, void *Py_UNUSED(closure)) { return PyBool_FromLong(pyloop_stopping(self->core)); }

static int loop_set_stopping(LoopObject *self, PyObject *value, void *Py_UNUSED(closure))
{
    int truth = value ? PyObject_IsTrue(value) : 0;
    if (truth > 0)
        pyloop_stop(self->core);
    return truth < 0 ? -1 : 0;
}

static PyObject *loop_stats(LoopObject *self, PyObject *Py_UNUSED(unused))
{
    pyloop_stats stats;
    pyloop_get_stats(self->core, &stats);
    return Py_BuildValue("{sKsKsKsKsKsKsKsKsnsnsnsn}", "iterations", (unsigned long long)stats.iterations,
                         "callbacks_run", (unsigned long long)stats.callbacks_run, "timers_fired",
                         (unsigned long long)stats.timers_fired, "blocking_waits",
                         (unsigned long long)stats.blocking_waits, "wakeups_written",
                         (unsigned long long)stats.wakeups_written, "wakeups_consumed",
                         (unsigned long long)stats.wakeups_consumed, "io_events", (unsigned long long)stats.io_events,
                         "throttled", (unsigned long long)stats.throttled, "timers_pending",
                         (Py_ssize_t)pyloop_timer_count(self->core), "ready_capacity",
                         (Py_ssize_t)stats.ready_capacity, "inbox_capacity", (Py_ssize_t)stats.inbox_capacity,
                         "timers_capacity", (Py_ssize_t)stats.timers_capacity);
}

static PyMethodDef loop_methods[] = {
    {"call_soon", (PyCFunction)(void (*)(void))loop_call_soon, METH_FASTCALL | METH_KEYWORDS,
     "call_soon($self, callback, *args, context=None)\n--\n\nRun callback on the next iteration."},
    {"call_soon_threadsafe", (PyCFunction)(void (*)(void))loop_call_soon_threadsafe, METH_FASTCALL | METH_KEYWORDS,
     "call_soon_threadsafe($self, callback, *args, context=None)\n--\n\n"
     "Like call_soon(), from any thread; wakes the loop only if it is waiting."},
    {"call_later", (PyCFunction)(void (*)(void))loop_call_later, METH_FASTCALL | METH_KEYWORDS,
     "call_later($self, delay, callback, *args, context=None)\n--\n\nA TimerHandle: callback after delay seconds."},
    {"call_at", (PyCFunction)(void (*)(void))loop_call_at, METH_FASTCALL | METH_KEYWORDS,
     "call_at($self, when, callback, *args, context=None)\n--\n\nA TimerHandle: callback at the loop time when."},
    {"time", (PyCFunction)loop_time, METH_NOARGS, "time($self, /)\n--\n\nThe loop's clock: time.monotonic()."},
    {"stop", (PyCFunction)loop_stop, METH_NOARGS, "stop($self, /)\n--\n\nStop after the current iteration. Safe from any thread."},
    {"_run", (PyCFunction)loop_run, METH_NOARGS, "Run iterations until stop() (the body of run_forever)."},
    {"_run_once", (PyCFunction)loop_run_once, METH_NOARGS, "Run one iteration."},
    {"_add_reader", (PyCFunction)(void (*)(void))loop_add_reader, METH_FASTCALL, NULL},
    {"_add_writer", (PyCFunction)(void (*)(void))loop_add_writer, METH_FASTCALL, NULL},
    {"_remove_reader", (PyCFunction)loop_remove_reader, METH_O, NULL},
    {"_remove_writer", (PyCFunction)loop_remove_writer, METH_O, NULL},
    {"_fd_key", (PyCFunction)loop_fd_key, METH_O, "(fileobj, fd, events, reader, writer) for a watched fd, else None."},
    {"_fd_map", (PyCFunction)loop_fd_map, METH_NOARGS, "{fd: (fileobj, fd, events, reader, writer)} for every watched fd."},
    {"_set_fd_quiet", (PyCFunction)(void (*)(void))loop_set_fd_quiet, METH_FASTCALL,
     "_set_fd_quiet(fd, quiet): a quiet fd does not make a busy iteration look at I/O."},
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
    .tp_setattro = loop_setattro,
};

int PyLoopLoop_Add(PyObject *module)
{
    if (!asyncio_iscoroutine && PyLoop_ImportInto(&asyncio_iscoroutine, "asyncio.coroutines", "iscoroutine") < 0)
        return -1;
    PyLoopHandle_LoopType = &PyLoop_LoopType;
    return PyModule_AddType(module, &PyLoop_LoopType);
}

/*
 * py: the CPython extension data_bridge.pyloop._pyloop, the only code that
 * knows about Python. It owns every PyObject reference; the C core stores
 * handles as `void *` and calls the trampolines declared here.
 *
 *   Loop          the engine under PyLoop: call_soon, call_soon_threadsafe,
 *                 call_later, call_at, time, the run loop, stop, fd watchers
 *   Handle        asyncio.Handle's surface: cancel, cancelled, get_context
 *   TimerHandle   + when(), ordering and hashing by deadline
 */
#ifndef PYLOOP_PY_MODULE_H
#define PYLOOP_PY_MODULE_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "loop.h"

typedef struct LoopObject {
    PyObject_HEAD
    pyloop_loop *core;
    PyThreadState *waiting_thread; /* saved while the GIL is released */
    /* KeyboardInterrupt/SystemExit (or a signal handler's exception) raised
     * inside the run; re-raised when the run returns. */
    PyObject *pending_exception;
    char closed;
    char debug;
} LoopObject;

typedef struct HandleObject {
    PyObject_HEAD
    PyObject *callback; /* NULL once cancelled (asyncio sets None) */
    PyObject *args;     /* a tuple; NULL once cancelled */
    PyObject *context;
    PyObject *loop;
    PyObject *source_traceback;
    PyObject *repr; /* cached at cancel() in debug mode, like asyncio */
    PyObject *weakreflist;
    /* How many engine queues (ready queue, timer heap, fd table) hold a
     * reference. While > 0 the handle is not GC-tracked and `loop` is a
     * borrowed pointer: the loop owns the queues, so it outlives the entry,
     * and a burst of queued handles costs the cyclic GC nothing. */
    int queued;
    char cancelled;
} HandleObject;

typedef struct TimerHandleObject {
    HandleObject base;
    pyloop_timer timer; /* the heap holds a reference while started */
    char scheduled;
} TimerHandleObject;

extern PyTypeObject PyLoop_LoopType;
extern PyTypeObject PyLoop_HandleType;
extern PyTypeObject PyLoop_TimerHandleType;

/* Python objects the extension calls on slow paths, imported once. */
typedef struct pyloop_python_refs {
    PyObject *format_callback_source; /* asyncio.format_helpers._format_callback_source */
    PyObject *extract_stack;          /* asyncio.format_helpers.extract_stack */
    PyObject *format_handle;          /* asyncio.base_events._format_handle */
    PyObject *logger;                 /* asyncio.log.logger */
    PyObject *iscoroutinefunction;    /* asyncio.coroutines.iscoroutinefunction */
    PyObject *str_call_exception_handler;
    PyObject *str_check_thread;
    PyObject *str_slow_callback_duration;
} pyloop_python_refs;
extern pyloop_python_refs pyloop_refs;

/* The raised exception as one object, on every supported version. */
static inline PyObject *pyloop_fetch_exception(void)
{
#if PY_VERSION_HEX >= 0x030C0000
    return PyErr_GetRaisedException();
#else
    PyObject *type, *value, *traceback;
    PyErr_Fetch(&type, &value, &traceback);
    PyErr_NormalizeException(&type, &value, &traceback);
    if (value && traceback)
        PyException_SetTraceback(value, traceback);
    Py_XDECREF(type);
    Py_XDECREF(traceback);
    return value;
#endif
}

/* Steals the reference. */
static inline void pyloop_restore_exception(PyObject *exception)
{
#if PY_VERSION_HEX >= 0x030C0000
    PyErr_SetRaisedException(exception);
#else
    PyObject *type = (PyObject *)Py_TYPE(exception);
    Py_INCREF(type);
    PyErr_Restore(type, exception, PyException_GetTraceback(exception));
#endif
}

/* handle.c */
void pyloop_handle_free_lists_clear(void);
int pyloop_handle_types_ready(void);
HandleObject *pyloop_handle_new(PyObject *callback, PyObject *args, LoopObject *loop, PyObject *context);
TimerHandleObject *pyloop_timer_handle_new(double when, PyObject *callback, PyObject *args, LoopObject *loop,
                                           PyObject *context);
/* Runs the handle unless cancelled; reports errors like Handle._run. */
void pyloop_handle_run(HandleObject *handle);
/* Core trampolines: the argument is a handle whose reference the queue owns. */
void pyloop_handle_trampoline(pyloop_loop *core, void *arg);
void pyloop_timer_trampoline(pyloop_loop *core, void *arg);
void pyloop_handle_cancel_internal(HandleObject *handle);
/* A queue takes a new reference to the handle (increments the count). */
void pyloop_handle_enqueue(HandleObject *handle);
/* A queue drops its reference. `orphan`: the loop is being deallocated, so
 * the handle forgets it instead of taking back a reference. */
void pyloop_handle_dequeue(HandleObject *handle, int orphan);

/* loop_object.c */
int pyloop_loop_type_ready(void);
/* Records an exception that must end run_forever (loop thread, GIL held). */
void pyloop_loop_set_pending_exception(LoopObject *loop);

#endif

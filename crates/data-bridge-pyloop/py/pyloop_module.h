/*
 * py: the CPython extension data_bridge.pyloop._pyloop, the only code that
 * knows about Python. It owns every PyObject reference; the C core stores
 * handles as `void *` and calls the trampolines in loop_object.c.
 *
 *   Loop          the engine under PyLoop: call_soon, call_soon_threadsafe,
 *                 call_later, call_at, time, the run loop, stop, fd watchers,
 *                 the sock_* coroutines (sockops.c)
 *   Handle        asyncio.Handle's surface: cancel, cancelled, get_context
 *   TimerHandle   + when(), ordering and hashing by deadline
 *
 * Names: PyLoop* are this binding's own (types, functions shared between its
 * files); pyloop_* is the C core's public API, pyloop__* the core's insides.
 *
 * Who owns what (asyncio's model, so the cyclic GC sees what asyncio's sees):
 *   - A Handle owns its callback, args, context, when (TimerHandle) and a
 *     strong reference to its loop. A Handle is GC-tracked from creation to
 *     deallocation, like asyncio's Python Handle objects, with one
 *     exception: a call_soon handle that nothing but its queue references
 *     (the caller dropped what call_soon returned, and no weak reference
 *     exists) is untracked, and the Loop reports its contents to the
 *     collector as its own. That is sound because nobody can obtain a new
 *     reference to it but the loop: when the loop runs it and someone took a
 *     reference meanwhile (an exception handler keeping context["handle"]),
 *     it is tracked again. It spares the collector a burst of queued
 *     handles, which asyncio's collector does traverse.
 *   - The engine's queues (ready ring, inbox, timer heap, fd table) each own
 *     one reference to every handle they hold; the Loop's tp_traverse visits
 *     them all (an untracked one through its contents) and its tp_clear
 *     drops them. So a loop nobody closed and nobody references (a cycle
 *     through a handle's callback, such as the self-pipe reader) is
 *     collected: asyncio's __del__ warns "unclosed event loop" and closes
 *     it, which releases every fd.
 *   - A running handle holds its own references to the callback, the args
 *     tuple and the context for the length of the call, so cancel() or a GC
 *     pass inside the call (from this thread, or another one while the
 *     callable has released the GIL) frees nothing it is using. The queue's
 *     reference keeps the handle itself alive until the call returns.
 *   - A sock_* coroutine (sockops.c) owns its loop and its arguments until
 *     it returns, raises or is closed. Waiting, it is asyncio's model again:
 *     the watcher's Handle owns the callback's arguments (fut, sock, ...)
 *     and drops them when cancelled; the future owns its done callback (a
 *     sock_done, owning loop, fd and watcher handle) until it runs it. All
 *     of them are GC-tracked and traversed.
 *   - Handles depend on the loop, never the other way round in control: a
 *     handle reports an ordinary exception to its loop's exception handler
 *     and hands KeyboardInterrupt/SystemExit back to its caller; the loop's
 *     trampoline decides to end the run (uvloop's Handle._run/_on_idle).
 */
#ifndef PYLOOP_PY_MODULE_H
#define PYLOOP_PY_MODULE_H

#include "names.h"

#include "loop.h"

/* Work that must happen before the current callback hands control back to
 * the loop: a transport's writes of one callback leave in one writev. An
 * entry owns a reference to `owner` while it is queued. */
typedef struct PyLoopDeferred {
    struct PyLoopDeferred *next;
    void (*run)(struct PyLoopDeferred *entry);
    PyObject *owner;
    char queued;
} PyLoopDeferred;

typedef struct LoopObject {
    PyObject_HEAD
    pyloop_loop *core;
    PyThreadState *waiting_thread; /* saved while the GIL is released */
    /* KeyboardInterrupt/SystemExit (or a signal handler's exception) raised
     * inside the run; re-raised when the run returns. */
    PyObject *pending_exception;
    /* The handle call_soon returned last, with a reference: settled (see
     * "Who owns what") at the next call_soon or iteration. */
    struct HandleObject *last_queued;
    /* {fd: object} for fds watched through an object with fileno(), so a
     * watcher can be removed through that object once it is closed, as
     * selectors' identity lookup allows. NULL while empty. */
    PyObject *fd_objects;
    /* PyLoopDeferred entries, run when the callback that queued them
     * returns (PyLoopLoop_RunDeferred), in the order they were queued. */
    PyLoopDeferred *deferred_head, **deferred_tail;
    /* The thread running the loop (run/run_once), NULL otherwise: work is
     * deferred only for a caller on it, inside a callback. */
    PyThreadState *running_thread;
    char closed;
    char debug;
    /* `time` is not the C one (an instance's patched `time`, a subclass's):
     * the engine's timers and call_later follow self.time(), as asyncio's. */
    char clock_overridden;
} LoopObject;

typedef struct HandleObject {
    PyObject_HEAD
    PyObject *callback; /* NULL once cancelled (asyncio sets None) */
    PyObject *args;     /* a tuple; NULL once cancelled */
    PyObject *context;
    PyObject *loop;     /* a LoopObject (NULL only after tp_clear) */
    PyObject *source_traceback;
    PyObject *repr; /* cached at cancel() in debug mode, like asyncio */
    PyObject *weakreflist;
    char cancelled;
    char queued; /* in the ready ring or inbox (set and cleared by loop_object.c) */
} HandleObject;

typedef struct TimerHandleObject {
    HandleObject base;
    pyloop_timer timer; /* the heap holds a reference while started */
    PyObject *when;     /* the object call_at() was given; NULL: a float */
    char scheduled;
} TimerHandleObject;

extern PyTypeObject PyLoop_LoopType;
extern PyTypeObject PyLoop_HandleType;
extern PyTypeObject PyLoop_TimerHandleType;

/* handle.c */
void PyLoopHandle_ClearFreeLists(void);
int PyLoopHandle_Add(PyObject *module);
/* The loop type Handle(..., loop) accepts: loop_object.c sets it
 * (PyLoopLoop_Add), so handle.c refers to nothing of loop_object.c. */
extern PyTypeObject *PyLoopHandle_LoopType;
/* Whether the running asyncio has events._ThreadSafeHandle (3.14: a
 * cancel() or cancelled() from another thread waits while the callback
 * runs); call_soon_threadsafe then returns PyLoopThreadSafeHandle_New's. */
extern int PyLoop_ThreadSafeHandles;
HandleObject *PyLoopThreadSafeHandle_New(PyObject *callback, PyObject *args, LoopObject *loop, PyObject *context);
/* PyLoopHandle_Run for a handle of PyLoopThreadSafeHandle_New, under its
 * lock as asyncio's _ThreadSafeHandle._run. */
int PyLoopThreadSafeHandle_Run(HandleObject *handle);
/* New handles, GC-tracked, owning a reference to `loop`. `when_object`:
 * what call_at() was given (NULL: call_later's float). */
HandleObject *PyLoopHandle_New(PyObject *callback, PyObject *args, LoopObject *loop, PyObject *context);
TimerHandleObject *PyLoopTimerHandle_New(double when, PyObject *when_object, PyObject *callback, PyObject *args,
                                         LoopObject *loop, PyObject *context);
/* Runs the callback unless cancelled, as asyncio's Handle._run: an exception
 * goes to the loop's exception handler and 0 is returned; KeyboardInterrupt
 * and SystemExit are left raised and -1 returned, for the caller to decide. */
int PyLoopHandle_Run(HandleObject *handle);
/* handle.cancel() minus the timer heap: marks it and drops callback/args. */
void PyLoopHandle_Cancel(HandleObject *handle);
/* Handle._run's report of the exception raised now (to the loop's exception
 * handler, "Exception in callback ..."), for C code that runs what asyncio
 * runs in a handle. -1: KeyboardInterrupt/SystemExit, left raised. */
int PyLoopHandle_ReportError(HandleObject *handle);
/* tp_traverse of the handle's fields, for a loop that owns an untracked one. */
int PyLoopHandle_TraverseContents(HandleObject *handle, visitproc visit, void *arg);

/* loop_object.c */
int PyLoopLoop_Add(PyObject *module);
/* Queues `entry` (once) to run when the running callback returns; takes a
 * reference to entry->owner. Only while an iteration is under way: returns
 * 0 without queueing otherwise, and the caller does the work now. */
int PyLoopLoop_Defer(LoopObject *loop, PyLoopDeferred *entry);
/* Runs what callbacks deferred: every trampoline calls it on its way out. */
void PyLoopLoop_RunDeferred(LoopObject *loop);
/* Ends the run with the exception raised now (KeyboardInterrupt/SystemExit
 * from a loop task that is not a handle: a transport's protocol call). */
void PyLoopLoop_EndRun(LoopObject *loop);
/* loop._add_reader/_add_writer(fileobj, callback, *args) for C callers
 * (event: PYLOOP_READABLE or PYLOOP_WRITABLE; args: a tuple, or NULL for
 * none). Returns the new watcher's handle (a new reference), which the fd
 * table also holds, exactly as the Python method's. */
HandleObject *PyLoopLoop_AddWatcher(LoopObject *loop, PyObject *fileobj, int event, PyObject *callback,
                                   PyObject *args);
/* loop._remove_reader/_remove_writer(fileobj): 1 removed, 0 nothing to
 * remove, -1 with an exception. */
int PyLoopLoop_RemoveWatcher(LoopObject *loop, PyObject *fileobj, int event);

/* sockops.c: loop.sock_recv, sock_recv_into, sock_sendall, sock_accept,
 * sock_connect (and, from 3.11, sock_recvfrom, sock_recvfrom_into,
 * sock_sendto) as C methods of Loop, which PyLoopSock_Add puts on the type
 * (after PyLoopLoop_Add: loop_object.c knows nothing of them). Each returns
 * a C coroutine (sock_coro.c: send, throw, close, __await__, a
 * collections.abc.Coroutine, so asyncio takes it for one) that tries the
 * system call when first resumed and waits on a watcher of the loop's fd
 * table (PyLoopLoop_AddWatcher) only when it would block, as asyncio's
 * selector loop does. */
int PyLoopSock_Add(PyObject *module);

/* socket_transport.c */
extern PyTypeObject *PyLoop_SocketTransportType;
int PyLoopSocketTransport_Add(PyObject *module);
/* A C transport type over asyncio's Python classes (bases; the first is the
 * layout base, _FlowControlMixin): its C data (data_size bytes, __dict__
 * and weak-reference slots at dict_at and weaklist_at within it) starts at
 * *data_offset, the base's size aligned. members: the type's static
 * Py_tp_members array of 3, filled here. Shared by SocketTransport and
 * DatagramTransport. */
PyTypeObject *PyLoopTransport_TypeFromSpec(PyType_Spec *spec, PyObject *bases, size_t data_size, size_t dict_at,
                                           size_t weaklist_at, struct PyMemberDef *members, Py_ssize_t *data_offset);

/* Helpers socket_transport.c shares with the other transports (pipe_transport.c). */
/* loop.call_soon(callable, first, second) (NULL ends the arguments); the
 * handle is dropped. */
int PyLoopTransport_CallSoon(LoopObject *loop, PyObject *callable, PyObject *first, PyObject *second);
/* asyncio's logger.<level>(message, transport); failures are unraisable. */
void PyLoopTransport_Log(PyObject *transport, const char *level, const char *message);
/* The exception raised now, from a protocol call asyncio makes inside a
 * Handle of the transport's: reported as that Handle's ("Exception in
 * callback <Type>.<callback>()"), or the run ends (KeyboardInterrupt,
 * SystemExit). */
void PyLoopTransport_ReportAsCallback(PyObject *self, LoopObject *loop, PyObject *callback);
/* OSError for -error's errno, as a new exception object (not raised). */
PyObject *PyLoopTransport_OSError(int error);
/* The report half of asyncio's _fatal_error: log_only (an error asyncio
 * only logs) goes to logger.debug in debug mode, anything else to the
 * loop's exception handler with message, exception, transport, protocol.
 * KeyboardInterrupt/SystemExit from the handler end the loop's run. */
void PyLoopTransport_ReportFatal(LoopObject *loop, PyObject *transport, PyObject *protocol, PyObject *exception,
                                 const char *message, int log_only);
/* protocol.<name>() for flow control (pause_writing/resume_writing), its
 * failure to the exception handler with `failure`, as _FlowControlMixin. */
void PyLoopTransport_CallProtocolFlow(LoopObject *loop, PyObject *transport, PyObject *protocol, PyObject *name,
                                      const char *failure);
/* set_write_buffer_limits(high=None, low=None)'s arguments, checked and
 * defaulted as asyncio's _set_write_buffer_limits. 0, or -1 raised. */
int PyLoopTransport_ParseWriteLimits(PyObject *args, PyObject *keywords, size_t *high, size_t *low);
/* self.max_size, as asyncio's read call takes it: the 256 KiB default
 * without a lookup when self is exactly own_type and its __dict__ (dict)
 * does not shadow it. Negative: ValueError "negative buffersize in <call>"
 * as socket.recv raises it, or with call NULL OSError(EINVAL) as os.read. */
int PyLoopTransport_ReadSize(PyObject *self, PyObject *dict, PyTypeObject *own_type, PyObject *name,
                             const char *call, Py_ssize_t *size);
/* get_extra_info(name, default=None) over the transport's extra mapping. */
PyObject *PyLoopTransport_GetExtraInfo(PyObject *extra, PyObject *args, PyObject *keywords);
/* What a stream queues: a bytes object (referenced, or a copy of any other
 * buffer), released by PyLoopTransport_ReleaseOwner. */
PyObject *PyLoopTransport_ImmutableBytes(PyObject *data);
void PyLoopTransport_ReleaseOwner(void *owner);
/* The process's one read buffer for data_received reads (filled and copied
 * out with the GIL held, no Python code in between). */
char *PyLoopTransport_SharedReadBuffer(size_t *size);
/* The contextvars contexts a stream transport's protocol callbacks run in.
 * asyncio runs a transport's reads in its reader Handle's context and its
 * sends in its writer Handle's, each a copy of the context current where
 * _add_reader/_add_writer made the Handle (the constructor's call_soon for
 * the first reader; resume_reading's caller; write()'s caller when the
 * kernel refuses bytes). The stream's on_watch takes the copy, task_enter/
 * task_exit enter it around one whole loop task (one enter per read, not
 * per protocol call). `given` is for a context= argument (CPython 3.15
 * passes the server's context to _make_socket_transport): when set, every
 * watcher uses it itself instead of a copy, and so do the transport's own
 * call_soon()s (3.15's _SelectorTransport._call_soon). `deferred`: a copy
 * of the context where a write was deferred to the end of its callback
 * (SocketTransport's write rule), entered for that flush; a copy even with
 * `given`, as asyncio's write() sends in its caller's context. Strong
 * references: the owner traverses and clears them. */
typedef struct PyLoopContexts {
    PyObject *given, *reader, *writer, *deferred;
} PyLoopContexts;
void PyLoopContexts_Watch(PyLoopContexts *contexts, int writing, PyObject *owner);
void *PyLoopContexts_Enter(PyLoopContexts *contexts, int writing, PyObject *owner);
void PyLoopContexts_Exit(void *entered, PyObject *owner);
int PyLoopContexts_Traverse(PyLoopContexts *contexts, visitproc visit, void *arg);
void PyLoopContexts_Clear(PyLoopContexts *contexts);

/* pipe_transport.c: ReadPipeTransport and WritePipeTransport, asyncio's
 * _UnixReadPipeTransport / _UnixWritePipeTransport. */
extern PyTypeObject *PyLoop_ReadPipeTransportType;
extern PyTypeObject *PyLoop_WritePipeTransportType;
int PyLoopPipe_Add(PyObject *module);

/* datagram_transport.c: DatagramTransport, asyncio's _SelectorDatagramTransport. */
extern PyTypeObject *PyLoop_DatagramTransportType;
int PyLoopDatagram_Add(PyObject *module);

#endif

/*
 * py: the CPython extension data_bridge.pyloop._pyloop, the only code that
 * knows about Python. It owns every PyObject reference; the C core stores
 * handles as `void *` and calls the trampolines in loop_object.c.
 *
 *   Loop          the engine under PyLoop: call_soon, call_soon_threadsafe,
 *                 call_later, call_at, time, the run loop, stop, fd watchers
 *                 (loop_object.c); the sock_* methods are put on it by
 *                 sockops.c
 *   Handle        asyncio.Handle's surface: cancel, cancelled, get_context
 *   TimerHandle   + when(), ordering and hashing by deadline
 *   (threadsafe handle)
 *                 3.14+: what call_soon_threadsafe returns, a Handle whose
 *                 cancel() from another thread waits while it runs
 *                 (handle.c; its __class__ is asyncio's _ThreadSafeHandle)
 *   sock_coroutine, sock_done
 *                 the coroutine a sock_* method returns and the done
 *                 callback its future runs (sock_coro.c, sockops.c)
 *   SocketTransport, DatagramTransport, ReadPipeTransport,
 *   WritePipeTransport
 *                 asyncio's selector and pipe transports, each on the one
 *                 transport base (transport_base.h), the stream transports
 *                 on the stream layer; accept_connections (accept.c) is
 *                 asyncio's accept loop making SocketTransports
 *
 * Files, each including and calling only those below it (module.c adds the
 * parts bottom-up, from one table):
 *   module.c                            the parts table, build_info()
 *   tls_transport.c                     asyncio's SSLProtocol in C: the types,
 *                                       the hot path
 *   tls_handshake.c, tls_app.c          its cold paths; the app transport and
 *                                       the constructors
 *   tls_support.[ch]                    what the TLS files share
 *   accept.c                            the accept loop
 *   socket_transport.c, socket_support.c, pipe_transport.c,
 *   datagram_transport.c, datagram_socket.c
 *                                       the transports
 *   transport_base.[ch]                 what the transports share
 *   sockops.c, sock_coro.[ch]           the sock_* methods, their coroutine
 *   loop_object.c, handle.c             Loop, Handle, TimerHandle
 *   names.[ch], args.[ch], sockaddr.[ch]
 *                                       Python-only helpers: interned names,
 *                                       argument binding, socket addresses
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

/* sockops.c: the sock_* methods, put on Loop by PyLoopSock_Add (after
 * PyLoopLoop_Add: loop_object.c knows nothing of them); sockops.c's top. */
int PyLoopSock_Add(PyObject *module);

/* socket_transport.c: SocketTransport, asyncio's _SelectorSocketTransport
 * (TCP, Unix stream sockets), on the transport base (transport_base.h). */
extern PyTypeObject *PyLoop_SocketTransportType;
int PyLoopSocketTransport_Add(PyObject *module);

/* socket_support.c: what the socket transport asks of its socket and of the
 * running asyncio (PyLoopSocket_Load, once). The head of CPython's socket
 * object (Modules/socketmodule.h, PySocketSockObject: PyObject_HEAD;
 * SOCKET_T sock_fd; ..., the same in 3.9-3.15), trusted for
 * PyLoopSocket_rules.socket_type only: the load checks it on a real
 * socket. */
typedef struct PyLoopSocketHead {
    PyObject_HEAD
    int sock_fd; /* -1 once close() or detach() ran */
} PyLoopSocketHead;
typedef struct PyLoopSocketRules {
    PyTypeObject *socket_type;  /* _socket.socket; NULL: its layout is not PyLoopSocketHead */
    int writelines_counts_lost; /* writelines() once _conn_lost: counted and dropped, as write() */
    int drain_counts_lost;      /* close after the drain sets _conn_lost before connection_lost */
    int close_clears_write_ready; /* close() sets _write_ready None: writelines() then raises TypeError */
} PyLoopSocketRules;
extern PyLoopSocketRules PyLoopSocket_rules;
int PyLoopSocket_Load(void);
/* The fd of a PyLoopSocket_rules.socket_type instance: one field read. */
static inline int PyLoopSocket_Fd(PyObject *sock)
{
    return ((PyLoopSocketHead *)sock)->sock_fd;
}
/* base_events._set_nodelay(sock) on its fd; 0, or -1 where asyncio raises. */
int PyLoopSocket_SetNodelay(PyObject *sock, int fd);

/* accept.c: accept_connections(), asyncio's accept loop without TLS, making
 * SocketTransports. */
int PyLoopAccept_Add(PyObject *module);

/* pipe_transport.c: ReadPipeTransport and WritePipeTransport, asyncio's
 * _UnixReadPipeTransport / _UnixWritePipeTransport. */
extern PyTypeObject *PyLoop_ReadPipeTransportType;
extern PyTypeObject *PyLoop_WritePipeTransportType;
int PyLoopPipe_Add(PyObject *module);

/* datagram_transport.c: DatagramTransport, asyncio's _SelectorDatagramTransport. */
extern PyTypeObject *PyLoop_DatagramTransportType;
int PyLoopDatagram_Add(PyObject *module);

/* tls_transport.c: SSLProtocol and _SSLProtocolTransport, asyncio's 3.11+
 * sslproto classes in C. On 3.10 (its asyncio's sslproto is older) made
 * on 3.11's bases, or NULL when the build's C TLS is not complete
 * (asyncio's own is used). */
extern PyTypeObject *PyLoop_TlsProtocolType;
extern PyTypeObject *PyLoop_TlsAppTransportType;
int PyLoopTls_Add(PyObject *module);

#endif

/*
 * sock_coro: the coroutine a loop.sock_*() method returns (sockops.c), as a
 * C type with the coroutine protocol. sockops.c gives it its body (what runs
 * up to the first await, and after the resolving await) and uses it; this
 * file knows nothing of sockets.
 */
#ifndef PYLOOP_PY_SOCK_CORO_H
#define PYLOOP_PY_SOCK_CORO_H

#include "pyloop_module.h"

enum coro_state {
    CORO_CREATED,   /* not started */
    CORO_RESOLVING, /* sock_connect: awaiting loop._ensure_resolved() */
    CORO_WAITING,   /* awaiting the future */
    CORO_DONE       /* returned, raised or closed */
};

/* One resumption's outcome: raised, returned (*result), or yielded (*result). */
typedef enum { STEP_ERROR = -1, STEP_RETURN = 0, STEP_NEXT = 1 } step_result;

typedef struct SockCoroBody SockCoroBody;

typedef struct SockCoro {
    PyObject_HEAD
    LoopObject *loop;
    PyObject *sock, *arg, *arg2; /* the call's arguments (arg2: nbytes or address) */
    PyObject *awaiting;          /* what `await` delegates to: fut.__await__() or _ensure_resolved() */
    PyObject *weakreflist;
    const SockCoroBody *body;
    unsigned char kind, state, running; /* kind: the body's own (sockops.c's method) */
} SockCoro;

/* What a coroutine runs, given by its maker. */
struct SockCoroBody {
    /* The body up to its first await (PyLoopSockCoro_Await). */
    step_result (*start)(SockCoro *self, PyObject **result);
    /* The await made in state CORO_RESOLVING returned `value` (borrowed):
     * the body goes on from there (awaiting is cleared, state CORO_CREATED). */
    step_result (*resolved)(SockCoro *self, PyObject *value, PyObject **result);
    PyObject *name, *qualname; /* __name__, __qualname__ */
};

/* Readies the type; 0, or -1 with an exception. */
int PyLoopSockCoro_Ready(void);
/* A new coroutine of `body`, not started, owning loop and the arguments
 * (arg and arg2 may be NULL). */
PyObject *PyLoopSockCoro_New(LoopObject *loop, const SockCoroBody *body, int kind, PyObject *sock, PyObject *arg,
                             PyObject *arg2);
/* `return await awaitable` in the body: from now on the coroutine
 * delegates to it, in `state` (CORO_RESOLVING or CORO_WAITING). */
step_result PyLoopSockCoro_Await(SockCoro *self, PyObject *awaitable, int state, PyObject **result);

#endif

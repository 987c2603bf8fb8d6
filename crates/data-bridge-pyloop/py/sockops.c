/*
 * The sock_* methods of Loop: sock_recv, sock_recv_into, sock_sendall,
 * sock_accept, sock_connect and, where asyncio has them (3.11+),
 * sock_recvfrom, sock_recvfrom_into and sock_sendto. asyncio's selector loop
 * (selector_events.py) written again in C, call for call:
 *
 *   - The method returns a coroutine, as asyncio's `async def` does: a
 *     sock_coroutine (sock_coro.c, the coroutine protocol), whose body is
 *     here (SockCoroBody: coro_start, and resolved for sock_connect).
 *     Nothing runs until it is first resumed.
 *   - First resumed, it makes asyncio's checks (an SSLSocket: TypeError; in
 *     debug mode a socket with a timeout: ValueError) and tries the call on
 *     the socket at once, through the socket's own method (sock.recv(n),
 *     ...), so subclasses and mocks see what asyncio does to them. Done:
 *     the coroutine returns, with no future, watcher or Python frame.
 *     recv and recv_into of a socket whose methods are _socket.socket's own
 *     and whose timeout is 0 are made here (recv_direct): the same recv(2)
 *     and the same errors, but a read that would block raises nothing, so
 *     a wait costs no BlockingIOError.
 *   - Would block (BlockingIOError/InterruptedError): as asyncio does,
 *     loop.create_future(), fd = sock.fileno(), _ensure_fd_no_transport(fd),
 *     a watcher through the loop's own _add_reader/_add_writer
 *     (PyLoopLoop_AddWatcher: the same Handle in the same fd table, so
 *     remove_reader, _fd_key/_selector, the GC and close() see it as they
 *     see any other) whose callback is a C function with asyncio's
 *     arguments, (fut, sock, n) for sock_recv; and a done callback on the
 *     future (SockDone, asyncio's partial(_sock_read_done, fd, handle=h)):
 *     when the future is done, unless the handle was cancelled meanwhile,
 *     remove_reader(fd). So a cancelled await removes the watcher, in the
 *     callback order asyncio has. Then the coroutine delegates to
 *     fut.__await__(), as `await fut` does: the task sees the future.
 *   - sock_connect resolves an AF_INET/AF_INET6 address through
 *     loop._ensure_resolved() (a coroutine it awaits first), as asyncio
 *     does; connect() in progress waits for writability and reads SO_ERROR.
 *     sock_sendall keeps sending from a memoryview until all is sent; the
 *     position is kept in its SockDone (asyncio's list [n]).
 *
 * Who owns what: pyloop_module.h's top comment (a cycle future -> SockDone
 * -> handle -> future is collectable).
 */
#include "args.h"
#include "sock_coro.h"

#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <sys/socket.h>

/* ---- the methods ---- */

enum sock_kind {
    SOCK_RECV,
    SOCK_RECV_INTO,
    SOCK_RECVFROM,
    SOCK_RECVFROM_INTO,
    SOCK_SENDALL,
    SOCK_SENDTO,
    SOCK_CONNECT,
    SOCK_ACCEPT,
    SOCK_KINDS
};

typedef struct sock_method {
    const char *name;    /* the method */
    PyLoopParams params; /* params.qualname: what asyncio's coroutine is called */
} sock_method;

#define SOCK_METHOD(name, ...) {name, {"BaseSelectorEventLoop." name, __VA_ARGS__}}
static const sock_method sock_methods[SOCK_KINDS] = {
    [SOCK_RECV] = SOCK_METHOD("sock_recv", {"sock", "n"}, 2, 2),
    [SOCK_RECV_INTO] = SOCK_METHOD("sock_recv_into", {"sock", "buf"}, 2, 2),
    [SOCK_RECVFROM] = SOCK_METHOD("sock_recvfrom", {"sock", "bufsize"}, 2, 2),
    [SOCK_RECVFROM_INTO] = SOCK_METHOD("sock_recvfrom_into", {"sock", "buf", "nbytes"}, 2, 3),
    [SOCK_SENDALL] = SOCK_METHOD("sock_sendall", {"sock", "data"}, 2, 2),
    [SOCK_SENDTO] = SOCK_METHOD("sock_sendto", {"sock", "data", "address"}, 3, 3),
    [SOCK_CONNECT] = SOCK_METHOD("sock_connect", {"sock", "address"}, 2, 2),
    [SOCK_ACCEPT] = SOCK_METHOD("sock_accept", {"sock"}, 1, 1),
};
#undef SOCK_METHOD

/* Names, constants and asyncio objects, set up once by PyLoopSock_Add. */
static struct {
    PyObject *zero, *af_inet, *af_inet6, *sol_socket, *so_error, *resolve_kwnames;
    PyObject *ready[SOCK_KINDS];        /* the watchers' callbacks, one per method */
    PyObject *weak_value_dictionary;    /* weakref.WeakValueDictionary */
    PyObject *base_ensure_fd_no_transport; /* BaseSelectorEventLoop._ensure_fd_no_transport */
    PyObject *ssl_socket;               /* ssl.SSLSocket as asyncio sees it, or NULL */
    PyObject *base_events;              /* asyncio.base_events, for _HAS_IPv6 */
    /* _socket.socket's own methods, for the direct reads (recv_direct) */
    PyObject *socket_recv, *socket_recv_into, *socket_fileno, *socket_gettimeout;
    int accept_checks_done;             /* asyncio's _sock_accept looks at fut.done() first */
} S;

/* ---- asyncio's small helpers ---- */

/* Calls a method for its effect; 0, or -1 with its exception. */
static int call_for_effect(PyObject *result)
{
    if (!result)
        return -1;
    Py_DECREF(result);
    return 0;
}

/* base_events._check_ssl_socket(sock) */
static int check_ssl_socket(PyObject *sock)
{
    int is_ssl;

    if (!S.ssl_socket)
        return 0;
    is_ssl = PyObject_IsInstance(sock, S.ssl_socket);
    if (is_ssl > 0)
        PyErr_SetString(PyExc_TypeError, "Socket cannot be of type SSLSocket");
    return is_ssl ? -1 : 0;
}

/* `if self._debug and sock.gettimeout() != 0` */
static int check_nonblocking(LoopObject *loop, PyObject *sock)
{
    PyObject *timeout;
    int blocking;

    if (!loop->debug)
        return 0;
    timeout = PyObject_CallMethodNoArgs(sock, PyLoop_str.gettimeout);
    if (!timeout)
        return -1;
    blocking = PyObject_RichCompareBool(timeout, S.zero, Py_NE);
    Py_DECREF(timeout);
    if (blocking > 0)
        PyErr_SetString(PyExc_ValueError, "the socket must be non-blocking");
    return blocking ? -1 : 0;
}

/* self._ensure_fd_no_transport(fd): with asyncio's method and _transports
 * asyncio's WeakValueDictionary, an fd absent from its data (almost always)
 * has no transport; the method (and its KeyError) is called otherwise. */
static int ensure_fd_no_transport(LoopObject *loop, PyObject *fd)
{
    if (_PyType_Lookup(Py_TYPE(loop), PyLoop_str._ensure_fd_no_transport) == S.base_ensure_fd_no_transport) {
        PyObject *transports = PyObject_GetAttr((PyObject *)loop, PyLoop_str._transports), *data, *found = NULL;
        int absent = 0;

        if (!transports)
            return -1;
        if ((PyObject *)Py_TYPE(transports) == S.weak_value_dictionary) {
            data = PyObject_GetAttr(transports, PyLoop_str.data);
            if (!data) {
                Py_DECREF(transports);
                return -1;
            }
            if (PyDict_CheckExact(data)) {
                found = PyDict_GetItemWithError(data, fd);
                absent = !found && !PyErr_Occurred();
            }
            Py_DECREF(data);
        }
        Py_DECREF(transports);
        if (PyErr_Occurred())
            return -1;
        if (absent)
            return 0;
    }
    return call_for_effect(PyObject_CallMethodOneArg((PyObject *)loop, PyLoop_str._ensure_fd_no_transport, fd));
}

static PyObject *create_future(LoopObject *loop) { return PyObject_CallMethodNoArgs((PyObject *)loop, PyLoop_str.create_future); }

/* fut.done(): 1, 0, or -1 with an exception. */
static int future_done(PyObject *future)
{
    PyObject *done = PyObject_CallMethodNoArgs(future, PyLoop_str.done);
    int truth;

    if (!done)
        return -1;
    truth = PyObject_IsTrue(done);
    Py_DECREF(done);
    return truth;
}

/* The end of asyncio's try/except around a watcher's socket call: `result`
 * (stolen) to fut.set_result; BlockingIOError/InterruptedError: try again
 * next time; SystemExit/KeyboardInterrupt propagate; else set_exception. */
static PyObject *settle(PyObject *future, PyObject *result)
{
    PyObject *exception, *returned;

    if (result) {
        returned = PyObject_CallMethodOneArg(future, PyLoop_str.set_result, result);
        Py_DECREF(result);
        return returned;
    }
    if (!PyErr_Occurred() || PyLoop_WouldBlock()) { /* nothing raised: recv_direct's EAGAIN */
        PyErr_Clear();
        Py_RETURN_NONE;
    }
    if (PyLoop_IsFatalToRun())
        return NULL;
    exception = PyLoop_FetchException();
    returned = PyObject_CallMethodOneArg(future, PyLoop_str.set_exception, exception);
    Py_DECREF(exception);
    return returned;
}

/* `a, b, ... = value` for n names: a tuple of n, or -1 with Python's error. */
static PyObject *unpack(PyObject *value, Py_ssize_t n)
{
    PyObject *items;

    if (PyTuple_CheckExact(value)) {
        Py_INCREF(value);
        items = value;
    } else {
        PyObject *iterator = PyObject_GetIter(value);
        if (!iterator) {
            if (PyErr_ExceptionMatches(PyExc_TypeError)) {
                PyErr_Clear();
                PyErr_Format(PyExc_TypeError, "cannot unpack non-iterable %.200s object", Py_TYPE(value)->tp_name);
            }
            return NULL;
        }
        items = PySequence_Tuple(iterator);
        Py_DECREF(iterator);
        if (!items)
            return NULL;
    }
    if (PyTuple_GET_SIZE(items) > n) {
        PyErr_Format(PyExc_ValueError, "too many values to unpack (expected %zd)", n);
        Py_DECREF(items);
        return NULL;
    }
    if (PyTuple_GET_SIZE(items) < n) {
        PyErr_Format(PyExc_ValueError, "not enough values to unpack (expected %zd, got %zd)", n,
                     PyTuple_GET_SIZE(items));
        Py_DECREF(items);
        return NULL;
    }
    return items;
}

/* The fd of a socket whose recv/recv_into (kind) is _socket.socket's own
 * (not overridden, no instance dict) and whose timeout is 0.0, or -2 when
 * the socket is not one recv_direct stands for (nothing raised). */
static long direct_fd(int kind, PyObject *sock)
{
    PyTypeObject *type = Py_TYPE(sock);
    PyObject *value;
    double timeout;
    long fd;

    if (type->tp_dictoffset
        || _PyType_Lookup(type, kind == SOCK_RECV ? PyLoop_str.recv : PyLoop_str.recv_into)
               != (kind == SOCK_RECV ? S.socket_recv : S.socket_recv_into)
        || !S.socket_recv)
        return -2;
    value = PyObject_Vectorcall(S.socket_gettimeout, &sock, 1, NULL);
    if (!value || !PyFloat_CheckExact(value)) {
        Py_XDECREF(value); /* None: blocking; then the method blocks */
        PyErr_Clear();
        return -2;
    }
    timeout = PyFloat_AS_DOUBLE(value);
    Py_DECREF(value);
    if (timeout != 0.0)
        return -2;
    value = PyObject_Vectorcall(S.socket_fileno, &sock, 1, NULL);
    fd = value ? PyLong_AsLong(value) : -1;
    Py_XDECREF(value);
    if (PyErr_Occurred() || fd < -1 || fd > INT_MAX) {
        PyErr_Clear();
        return -2;
    }
    return fd;
}

/* recv(2) into buffer, as socket.recv's sock_call: retried on EINTR after
 * the signal handlers ran. The count, or -1 with OSError raised, or -2 when
 * it would block (nothing raised). */
static Py_ssize_t direct_recv(int fd, char *buffer, Py_ssize_t size)
{
    Py_ssize_t received;

    for (;;) {
        received = recv(fd, buffer, (size_t)size, 0);
        if (received >= 0)
            return received;
        if (errno == EINTR) {
            if (PyErr_CheckSignals() == 0)
                continue;
            return -1;
        }
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return -2;
        PyErr_SetFromErrno(PyExc_OSError);
        return -1;
    }
}

/* sock.recv(n) or sock.recv_into(buf) made here for a socket direct_fd
 * accepts: one recv (direct_recv), and for a size of 0 nothing (recv(0) is
 * b'' at once, recv_into of an empty buffer 0). A recv that would block then
 * raises nothing, which spares the BlockingIOError most waits begin with,
 * and the argument parsing. Returns 1 when it made the call (*result, or
 * NULL with the exception), 0 when it would block (nothing raised), -1 when
 * the socket or the argument is not one for this (the method then decides). */
static int recv_direct(int kind, PyObject *sock, PyObject *arg, PyObject **result)
{
    PyObject *data = NULL;
    Py_buffer view;
    Py_ssize_t size, received;
    long fd = direct_fd(kind, sock);

    *result = NULL;
    if (fd == -2)
        return -1;
    if (kind == SOCK_RECV) {
        if (!PyLong_CheckExact(arg))
            return -1;
        size = PyLong_AsSsize_t(arg);
        if (size < 0) {
            PyErr_Clear(); /* negative or too large: the method's errors */
            return -1;
        }
        if (!(data = PyBytes_FromStringAndSize(NULL, size)))
            return 1;
        received = size ? direct_recv((int)fd, PyBytes_AS_STRING(data), size) : 0;
    } else {
        if (PyObject_GetBuffer(arg, &view, PyBUF_WRITABLE) < 0) {
            PyErr_Clear();
            return -1;
        }
        if (!PyBuffer_IsContiguous(&view, 'C')) {
            PyBuffer_Release(&view);
            return -1;
        }
        size = view.len;
        received = size ? direct_recv((int)fd, view.buf, size) : 0;
        PyBuffer_Release(&view);
        if (received >= 0)
            *result = PyLong_FromSsize_t(received);
        return received == -2 ? 0 : 1;
    }
    if (received < 0) {
        Py_DECREF(data);
        return received == -2 ? 0 : 1;
    }
    if (received != size && _PyBytes_Resize(&data, received) < 0)
        return 1;
    *result = data;
    return 1;
}

/* The call each read method makes on the socket: the result, or NULL with
 * its exception, or NULL and nothing raised when it would block. */
static PyObject *read_call(int kind, PyObject *sock, PyObject *arg, PyObject *arg2)
{
    PyObject *result;

    if ((kind == SOCK_RECV || kind == SOCK_RECV_INTO) && recv_direct(kind, sock, arg, &result) >= 0)
        return result;
    switch (kind) {
    case SOCK_RECV:
        return PyObject_CallMethodOneArg(sock, PyLoop_str.recv, arg);
    case SOCK_RECV_INTO:
        return PyObject_CallMethodOneArg(sock, PyLoop_str.recv_into, arg);
    case SOCK_RECVFROM:
        return PyObject_CallMethodOneArg(sock, PyLoop_str.recvfrom, arg);
    default:
        return PyObject_CallMethodObjArgs(sock, PyLoop_str.recvfrom_into, arg, arg2, NULL);
    }
}

/* ---- SockDone: the future's done callback ---- */

/* functools.partial(self._sock_read_done, fd, handle=handle) (or
 * _sock_write_done): when the future is done, remove_reader(fd) unless the
 * handle was cancelled meanwhile (the watcher was replaced or removed). It
 * also keeps sock_sendall's position (asyncio's list [n]). */
typedef struct SockDone {
    PyObject_HEAD
    vectorcallfunc vectorcall;
    LoopObject *loop;
    PyObject *fd;
    HandleObject *handle;
    Py_ssize_t position;
    int event;
} SockDone;

static PyTypeObject SockDoneType;

static PyObject *sock_done_call(SockDone *self, PyObject *const *Py_UNUSED(args), size_t Py_UNUSED(nargsf),
                                PyObject *Py_UNUSED(kwnames))
{
    if (self->loop && (!self->handle || !self->handle->cancelled)) {
        /* remove_reader(fd): asyncio's public method, transport check first. */
        if (ensure_fd_no_transport(self->loop, self->fd) < 0
            || PyLoopLoop_RemoveWatcher(self->loop, self->fd, self->event) < 0)
            return NULL;
    }
    Py_RETURN_NONE;
}

static SockDone *sock_done_new(LoopObject *loop, PyObject *fd, int event, Py_ssize_t position)
{
    SockDone *self = PyObject_GC_New(SockDone, &SockDoneType);

    if (!self)
        return NULL;
    self->vectorcall = (vectorcallfunc)sock_done_call;
    Py_INCREF(loop);
    self->loop = loop;
    Py_INCREF(fd);
    self->fd = fd;
    self->handle = NULL;
    self->position = position;
    self->event = event;
    PyObject_GC_Track(self);
    return self;
}

static int sock_done_traverse(SockDone *self, visitproc visit, void *arg)
{
    Py_VISIT(self->loop);
    Py_VISIT(self->fd);
    Py_VISIT(self->handle);
    return 0;
}

static int sock_done_clear(SockDone *self)
{
    Py_CLEAR(self->loop);
    Py_CLEAR(self->fd);
    Py_CLEAR(self->handle);
    return 0;
}

static void sock_done_dealloc(SockDone *self)
{
    PyObject_GC_UnTrack(self);
    sock_done_clear(self);
    PyObject_GC_Del(self);
}

static PyObject *sock_done_repr(SockDone *self)
{
    return PyUnicode_FromFormat("<%s fd=%R>", self->event == PYLOOP_READABLE ? "_sock_read_done" : "_sock_write_done",
                                self->fd ? self->fd : Py_None);
}

static PyTypeObject SockDoneType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "data_bridge.pyloop._pyloop.sock_done",
    .tp_doc = "A sock_* future's done callback: removes the watcher unless it was cancelled.",
    .tp_basicsize = sizeof(SockDone),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_HAVE_VECTORCALL,
    .tp_vectorcall_offset = offsetof(SockDone, vectorcall),
    .tp_call = PyVectorcall_Call,
    .tp_dealloc = (destructor)sock_done_dealloc,
    .tp_traverse = (traverseproc)sock_done_traverse,
    .tp_clear = (inquiry)sock_done_clear,
    .tp_repr = (reprfunc)sock_done_repr,
};

/* ---- the watchers' callbacks: asyncio's _sock_recv, _sock_sendall, ... ---- */

static int check_ready_args(const char *name, Py_ssize_t nargs, Py_ssize_t expected)
{
    if (nargs != expected) {
        PyErr_Format(PyExc_TypeError, "%s() takes exactly %zd arguments (%zd given)", name, expected, nargs);
        return -1;
    }
    return 0;
}

/* _sock_recv(fut, sock, n), _sock_recv_into(fut, sock, buf),
 * _sock_recvfrom(fut, sock, bufsize), _sock_recvfrom_into(fut, sock, buf, nbytes) */
static PyObject *read_ready(int kind, const char *name, PyObject *const *args, Py_ssize_t nargs)
{
    int done;

    if (check_ready_args(name, nargs, kind == SOCK_RECVFROM_INTO ? 4 : 3) < 0)
        return NULL;
    done = future_done(args[0]);
    if (done)
        return done < 0 ? NULL : PyLoop_NewRefOrNone(NULL);
    return settle(args[0], read_call(kind, args[1], args[2], kind == SOCK_RECVFROM_INTO ? args[3] : NULL));
}

/* _sock_recv(fut, sock, n) and its kin: read_ready for the kind. */
#define READ_READY(function, kind, callback)                                                                         \
    static PyObject *function(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargs)                  \
    {                                                                                                                \
        return read_ready(kind, callback, args, nargs);                                                              \
    }
READ_READY(recv_ready, SOCK_RECV, "_sock_recv")
READ_READY(recv_into_ready, SOCK_RECV_INTO, "_sock_recv_into")
READ_READY(recvfrom_ready, SOCK_RECVFROM, "_sock_recvfrom")
READ_READY(recvfrom_into_ready, SOCK_RECVFROM_INTO, "_sock_recvfrom_into")

/* _sock_sendall(fut, sock, view, state): state is the SockDone holding pos. */
static PyObject *sendall_ready(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargs)
{
    PyObject *future, *sock, *view, *rest, *sent;
    SockDone *state;
    Py_ssize_t start, count, size;
    int done;

    if (check_ready_args("_sock_sendall", nargs, 4) < 0)
        return NULL;
    future = args[0], sock = args[1], view = args[2];
    if (!Py_IS_TYPE(args[3], &SockDoneType)) {
        PyErr_SetString(PyExc_TypeError, "_sock_sendall() needs its sock_sendall's state");
        return NULL;
    }
    state = (SockDone *)args[3];
    done = future_done(future);
    if (done) /* cancellation can be scheduled on a previous iteration */
        return done < 0 ? NULL : PyLoop_NewRefOrNone(NULL);
    start = state->position;
    rest = PySequence_GetSlice(view, start, PY_SSIZE_T_MAX);
    sent = rest ? PyObject_CallMethodOneArg(sock, PyLoop_str.send, rest) : NULL;
    Py_XDECREF(rest);
    if (!sent) {
        if (PyLoop_WouldBlock()) {
            PyErr_Clear();
            Py_RETURN_NONE;
        }
        return settle(future, NULL);
    }
    count = PyNumber_AsSsize_t(sent, PyExc_OverflowError);
    Py_DECREF(sent);
    if (count == -1 && PyErr_Occurred())
        return NULL;
    start += count;
    size = PyObject_Size(view);
    if (size < 0)
        return NULL;
    if (start == size)
        return PyObject_CallMethodOneArg(future, PyLoop_str.set_result, Py_None);
    state->position = start;
    Py_RETURN_NONE;
}

/* _sock_sendto(fut, sock, data, address): sock.sendto(data, 0, address) */
static PyObject *sendto_ready(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargs)
{
    int done;

    if (check_ready_args("_sock_sendto", nargs, 4) < 0)
        return NULL;
    done = future_done(args[0]);
    if (done)
        return done < 0 ? NULL : PyLoop_NewRefOrNone(NULL);
    return settle(args[0], PyObject_CallMethodObjArgs(args[1], PyLoop_str.sendto, args[2], S.zero, args[3], NULL));
}

/* _sock_connect_cb(fut, sock, address): the connect in progress is over
 * when the socket is writable; SO_ERROR says how it went. */
static PyObject *connect_ready(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargs)
{
    PyObject *error;
    int done, failed;

    if (check_ready_args("_sock_connect_cb", nargs, 3) < 0)
        return NULL;
    done = future_done(args[0]);
    if (done)
        return done < 0 ? NULL : PyLoop_NewRefOrNone(NULL);
    error = PyObject_CallMethodObjArgs(args[1], PyLoop_str.getsockopt, S.sol_socket, S.so_error, NULL);
    if (!error) {
        if (PyLoop_WouldBlock()) { /* still registered: retried later */
            PyErr_Clear();
            Py_RETURN_NONE;
        }
        return settle(args[0], NULL);
    }
    failed = PyObject_RichCompareBool(error, S.zero, Py_NE);
    if (failed > 0) {
        /* raise OSError(err, f'Connect call failed {address}') */
        PyObject *message = PyUnicode_FromFormat("Connect call failed %S", args[2]), *exception = NULL;
        if (message)
            exception = PyObject_CallFunctionObjArgs(PyExc_OSError, error, message, NULL);
        Py_XDECREF(message);
        if (exception) {
            PyErr_SetObject((PyObject *)Py_TYPE(exception), exception);
            Py_DECREF(exception);
        }
    }
    Py_DECREF(error);
    if (failed)
        return settle(args[0], NULL);
    return settle(args[0], PyLoop_NewRefOrNone(NULL));
}

/* sock.accept(), then conn.setblocking(False): (conn, address). */
static PyObject *accept_now(PyObject *sock)
{
    PyObject *accepted = PyObject_CallMethodNoArgs(sock, PyLoop_str.accept), *pair, *result;

    if (!accepted)
        return NULL;
    pair = unpack(accepted, 2);
    Py_DECREF(accepted);
    if (!pair)
        return NULL;
    result = PyObject_CallMethodOneArg(PyTuple_GET_ITEM(pair, 0), PyLoop_str.setblocking, Py_False);
    if (!result) {
        Py_DECREF(pair);
        return NULL;
    }
    Py_DECREF(result);
    return pair; /* (conn, address) */
}

/* _sock_accept(fut, sock). Where asyncio's looks at fut.done() first
 * (gh-153761: 3.13.x, 3.14+; probed), so does this, leaving the connection
 * to the next accept; elsewhere it is accepted and set_result fails, as
 * there. Where asyncio's registers itself again, this watcher stays. */
static PyObject *accept_ready(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargs)
{
    if (check_ready_args("_sock_accept", nargs, 2) < 0)
        return NULL;
    if (S.accept_checks_done) {
        int done = future_done(args[0]);
        if (done)
            return done < 0 ? NULL : PyLoop_NewRefOrNone(NULL);
    }
    return settle(args[0], accept_now(args[1]));
}

static PyMethodDef ready_functions[SOCK_KINDS] = {
    [SOCK_RECV] = {"_sock_recv", (PyCFunction)(void (*)(void))recv_ready, METH_FASTCALL, NULL},
    [SOCK_RECV_INTO] = {"_sock_recv_into", (PyCFunction)(void (*)(void))recv_into_ready, METH_FASTCALL, NULL},
    [SOCK_RECVFROM] = {"_sock_recvfrom", (PyCFunction)(void (*)(void))recvfrom_ready, METH_FASTCALL, NULL},
    [SOCK_RECVFROM_INTO] = {"_sock_recvfrom_into", (PyCFunction)(void (*)(void))recvfrom_into_ready, METH_FASTCALL,
                            NULL},
    [SOCK_SENDALL] = {"_sock_sendall", (PyCFunction)(void (*)(void))sendall_ready, METH_FASTCALL, NULL},
    [SOCK_SENDTO] = {"_sock_sendto", (PyCFunction)(void (*)(void))sendto_ready, METH_FASTCALL, NULL},
    [SOCK_CONNECT] = {"_sock_connect_cb", (PyCFunction)(void (*)(void))connect_ready, METH_FASTCALL, NULL},
    [SOCK_ACCEPT] = {"_sock_accept", (PyCFunction)(void (*)(void))accept_ready, METH_FASTCALL, NULL},
};

/* The would-block path shared by every method (asyncio's, call for call):
 *     fut = self.create_future()
 *     fd = sock.fileno()            (given when already taken)
 *     self._ensure_fd_no_transport(fd)
 *     handle = self._add_reader(fd, self._sock_recv, fut, sock, n)
 *     fut.add_done_callback(functools.partial(self._sock_read_done, fd, handle=handle))
 *     return await fut
 * `extra`: the callback's arguments after (fut, sock); a NULL `last` with
 * `with_state` set puts the SockDone there (sock_sendall's position). */
static step_result wait_for_io(SockCoro *self, int event, PyObject *fd, PyObject *arg, PyObject *last, int with_state,
                               Py_ssize_t position, PyObject **result)
{
    LoopObject *loop = self->loop;
    PyObject *future, *args = NULL;
    SockDone *done = NULL;
    HandleObject *handle;
    step_result step = STEP_ERROR;

    future = create_future(loop);
    if (!future)
        return STEP_ERROR;
    if (fd)
        Py_INCREF(fd);
    else if (!(fd = PyObject_CallMethodNoArgs(self->sock, PyLoop_str.fileno)))
        goto out;
    if (ensure_fd_no_transport(loop, fd) < 0 || !(done = sock_done_new(loop, fd, event, position)))
        goto out;
    if (with_state)
        last = (PyObject *)done;
    args = !arg ? PyTuple_Pack(2, future, self->sock)
                : !last ? PyTuple_Pack(3, future, self->sock, arg) : PyTuple_Pack(4, future, self->sock, arg, last);
    if (!args)
        goto out;
    handle = PyLoopLoop_AddWatcher(loop, fd, event, S.ready[self->kind], args);
    if (!handle)
        goto out;
    done->handle = handle;
    if (call_for_effect(PyObject_CallMethodOneArg(future, PyLoop_str.add_done_callback, (PyObject *)done)) < 0)
        goto out;
    step = PyLoopSockCoro_Await(self, future, CORO_WAITING, result);
out:
    Py_XDECREF(args);
    Py_XDECREF((PyObject *)done);
    Py_XDECREF(fd);
    Py_DECREF(future);
    return step;
}

static step_result start_read(SockCoro *self, PyObject **result)
{
    PyObject *data;

    if (self->kind == SOCK_RECVFROM_INTO) {
        /* if not nbytes: nbytes = len(buf) */
        int given = self->arg2 ? PyObject_IsTrue(self->arg2) : 0;
        if (given < 0)
            return STEP_ERROR;
        if (!given) {
            Py_ssize_t size = PyObject_Size(self->arg);
            PyObject *nbytes = size < 0 ? NULL : PyLong_FromSsize_t(size);
            if (!nbytes)
                return STEP_ERROR;
            Py_XSETREF(self->arg2, nbytes);
        }
    }
    data = read_call(self->kind, self->sock, self->arg, self->arg2);
    if (data) {
        *result = data;
        return STEP_RETURN;
    }
    if (PyErr_Occurred() && !PyLoop_WouldBlock())
        return STEP_ERROR;
    PyErr_Clear();
    return wait_for_io(self, PYLOOP_READABLE, NULL, self->arg, self->arg2, 0, 0, result);
}

static step_result start_sendall(SockCoro *self, PyObject **result)
{
    PyObject *sent = PyObject_CallMethodOneArg(self->sock, PyLoop_str.send, self->arg), *size, *view;
    Py_ssize_t length, position;
    step_result step;
    int all;

    if (!sent) {
        if (!PyLoop_WouldBlock())
            return STEP_ERROR;
        PyErr_Clear();
        Py_INCREF(S.zero);
        sent = S.zero;
    }
    length = PyObject_Size(self->arg);
    size = length < 0 ? NULL : PyLong_FromSsize_t(length);
    all = size ? PyObject_RichCompareBool(sent, size, Py_EQ) : -1;
    Py_XDECREF(size);
    if (all) {
        Py_DECREF(sent);
        if (all < 0)
            return STEP_ERROR;
        *result = PyLoop_NewRefOrNone(NULL);
        return STEP_RETURN;
    }
    position = PyNumber_AsSsize_t(sent, PyExc_OverflowError);
    Py_DECREF(sent);
    if (position == -1 && PyErr_Occurred())
        return STEP_ERROR;
    view = PyMemoryView_FromObject(self->arg);
    if (!view)
        return STEP_ERROR;
    step = wait_for_io(self, PYLOOP_WRITABLE, NULL, view, NULL, 1, position, result);
    Py_DECREF(view);
    return step;
}

static step_result start_sendto(SockCoro *self, PyObject **result)
{
    PyObject *sent = PyObject_CallMethodObjArgs(self->sock, PyLoop_str.sendto, self->arg, self->arg2, NULL);

    if (sent) {
        *result = sent;
        return STEP_RETURN;
    }
    if (!PyLoop_WouldBlock())
        return STEP_ERROR;
    PyErr_Clear();
    return wait_for_io(self, PYLOOP_WRITABLE, NULL, self->arg, self->arg2, 0, 0, result);
}

/* The tail of _sock_connect and _sock_accept (fd taken before, released
 * here): `done` (NULL: raised) is the coroutine's result at once; a
 * BlockingIOError/InterruptedError waits for event on fd (wait_for_io, `arg`
 * the callback's); any other error propagates. */
static step_result done_or_wait(SockCoro *self, PyObject *done, int event, PyObject *fd, PyObject *arg,
                                PyObject **result)
{
    step_result step;

    if (done) {
        Py_DECREF(fd);
        *result = done;
        return STEP_RETURN;
    }
    if (!PyLoop_WouldBlock()) {
        Py_DECREF(fd);
        return STEP_ERROR;
    }
    PyErr_Clear();
    step = wait_for_io(self, event, fd, arg, NULL, 0, 0, result);
    Py_DECREF(fd);
    return step;
}

/* asyncio's _sock_connect(fut, sock, address), then `await fut`. */
static step_result connect_to(SockCoro *self, PyObject *address, PyObject **result)
{
    PyObject *fd = PyObject_CallMethodNoArgs(self->sock, PyLoop_str.fileno), *connected;

    if (!fd)
        return STEP_ERROR;
    connected = PyObject_CallMethodOneArg(self->sock, PyLoop_str.connect, address);
    if (connected) { /* fut.set_result(None), whatever connect() returned */
        Py_DECREF(connected);
        connected = PyLoop_NewRefOrNone(NULL);
    }
    return done_or_wait(self, connected, PYLOOP_WRITABLE, fd, address, result);
}

/* sock.family == AF_INET or (base_events._HAS_IPv6 and sock.family == AF_INET6) */
static int is_inet(PyObject *sock)
{
    PyObject *family = PyObject_GetAttr(sock, PyLoop_str.family), *has_ipv6;
    int inet;

    if (!family)
        return -1;
    inet = PyObject_RichCompareBool(family, S.af_inet, Py_EQ);
    Py_DECREF(family);
    if (inet)
        return inet;
    has_ipv6 = PyObject_GetAttr(S.base_events, PyLoop_str._HAS_IPv6);
    inet = has_ipv6 ? PyObject_IsTrue(has_ipv6) : -1;
    Py_XDECREF(has_ipv6);
    if (inet <= 0)
        return inet;
    family = PyObject_GetAttr(sock, PyLoop_str.family);
    if (!family)
        return -1;
    inet = PyObject_RichCompareBool(family, S.af_inet6, Py_EQ);
    Py_DECREF(family);
    return inet;
}

/* await self._ensure_resolved(address, family=sock.family, type=sock.type,
 *                             proto=sock.proto, loop=self) */
static step_result start_connect(SockCoro *self, PyObject **result)
{
    PyObject *args[6] = {(PyObject *)self->loop, self->arg, NULL, NULL, NULL, (PyObject *)self->loop}, *resolving;
    step_result step;
    int inet = is_inet(self->sock), i;

    if (inet < 0)
        return STEP_ERROR;
    if (!inet)
        return connect_to(self, self->arg, result);
    args[2] = PyObject_GetAttr(self->sock, PyLoop_str.family);
    args[3] = args[2] ? PyObject_GetAttr(self->sock, PyLoop_str.type) : NULL;
    args[4] = args[3] ? PyObject_GetAttr(self->sock, PyLoop_str.proto) : NULL;
    resolving = args[4] ? PyObject_VectorcallMethod(PyLoop_str._ensure_resolved, args, 2, S.resolve_kwnames) : NULL;
    for (i = 2; i < 5; i++)
        Py_XDECREF(args[i]);
    if (!resolving)
        return STEP_ERROR;
    step = PyLoopSockCoro_Await(self, resolving, CORO_RESOLVING, result);
    Py_DECREF(resolving);
    return step;
}

/* `_, _, _, _, address = resolved[0]`, then on to connect. */
static step_result resolved(SockCoro *self, PyObject *infos, PyObject **result)
{
    PyObject *first = PyObject_GetItem(infos, S.zero), *info;
    step_result step;

    if (!first)
        return STEP_ERROR;
    info = unpack(first, 5);
    Py_DECREF(first);
    if (!info)
        return STEP_ERROR;
    step = connect_to(self, PyTuple_GET_ITEM(info, 4), result);
    Py_DECREF(info);
    return step;
}

/* asyncio's _sock_accept(fut, sock), then `await fut`. */
static step_result start_accept(SockCoro *self, PyObject **result)
{
    PyObject *fd = PyObject_CallMethodNoArgs(self->sock, PyLoop_str.fileno);

    if (!fd)
        return STEP_ERROR;
    return done_or_wait(self, accept_now(self->sock), PYLOOP_READABLE, fd, NULL, result);
}

/* The body of the coroutine up to its first await. */
static step_result coro_start(SockCoro *self, PyObject **result)
{
    if (check_ssl_socket(self->sock) < 0 || check_nonblocking(self->loop, self->sock) < 0)
        return STEP_ERROR;
    switch (self->kind) {
    case SOCK_SENDALL:
        return start_sendall(self, result);
    case SOCK_SENDTO:
        return start_sendto(self, result);
    case SOCK_CONNECT:
        return start_connect(self, result);
    case SOCK_ACCEPT:
        return start_accept(self, result);
    default:
        return start_read(self, result);
    }
}

/* ---- the methods: argument binding as Python's, then a coroutine ---- */

/* Each method's coroutine body (sock_coro.h), set up by PyLoopSock_Add. */
static SockCoroBody bodies[SOCK_KINDS];

static PyObject *sock_method_call(int kind, PyObject *loop, PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    PyObject *bound[PYLOOP_MAX_PARAMS];

    if (PyLoopArgs_Bind(&sock_methods[kind].params, args, PyVectorcall_NARGS(nargsf), kwnames, bound) < 0)
        return NULL;
    return PyLoopSockCoro_New((LoopObject *)loop, &bodies[kind], kind, bound[0], bound[1], bound[2]);
}

/* loop.sock_<name>(...): the kind's parameters bound, then its coroutine. */
#define LOOP_SOCK_METHOD(function, kind)                                                                             \
    static PyObject *function(PyObject *loop, PyObject *const *args, size_t nargsf, PyObject *kwnames)               \
    {                                                                                                                \
        return sock_method_call(kind, loop, args, nargsf, kwnames);                                                  \
    }
LOOP_SOCK_METHOD(loop_sock_recv, SOCK_RECV)
LOOP_SOCK_METHOD(loop_sock_recv_into, SOCK_RECV_INTO)
LOOP_SOCK_METHOD(loop_sock_sendall, SOCK_SENDALL)
LOOP_SOCK_METHOD(loop_sock_connect, SOCK_CONNECT)
LOOP_SOCK_METHOD(loop_sock_accept, SOCK_ACCEPT)
#if PY_VERSION_HEX >= 0x030B0000
LOOP_SOCK_METHOD(loop_sock_recvfrom, SOCK_RECVFROM)
LOOP_SOCK_METHOD(loop_sock_recvfrom_into, SOCK_RECVFROM_INTO)
LOOP_SOCK_METHOD(loop_sock_sendto, SOCK_SENDTO)
#endif

/* The methods of Loop (asyncio's coroutines). This file puts them on the
 * type (add_loop_methods), so loop_object.c needs nothing of it. */
static PyMethodDef loop_methods[] = {
    {"sock_recv", (PyCFunction)(void (*)(void))loop_sock_recv, METH_FASTCALL | METH_KEYWORDS,
     "sock_recv($self, sock, n)\n--\n\nReceive up to n bytes from the non-blocking socket (a coroutine)."},
    {"sock_recv_into", (PyCFunction)(void (*)(void))loop_sock_recv_into, METH_FASTCALL | METH_KEYWORDS,
     "sock_recv_into($self, sock, buf)\n--\n\nReceive into the writable buffer; the number of bytes (a coroutine)."},
#if PY_VERSION_HEX >= 0x030B0000
    {"sock_recvfrom", (PyCFunction)(void (*)(void))loop_sock_recvfrom, METH_FASTCALL | METH_KEYWORDS,
     "sock_recvfrom($self, sock, bufsize)\n--\n\nReceive a datagram; (bytes, address) (a coroutine)."},
    {"sock_recvfrom_into", (PyCFunction)(void (*)(void))loop_sock_recvfrom_into, METH_FASTCALL | METH_KEYWORDS,
     "sock_recvfrom_into($self, sock, buf, nbytes=0)\n--\n\nReceive a datagram into buf; (nbytes, address) (a coroutine)."},
#endif
    {"sock_sendall", (PyCFunction)(void (*)(void))loop_sock_sendall, METH_FASTCALL | METH_KEYWORDS,
     "sock_sendall($self, sock, data)\n--\n\nSend all of data to the connected socket (a coroutine)."},
#if PY_VERSION_HEX >= 0x030B0000
    {"sock_sendto", (PyCFunction)(void (*)(void))loop_sock_sendto, METH_FASTCALL | METH_KEYWORDS,
     "sock_sendto($self, sock, data, address)\n--\n\nSend a datagram; the number of bytes sent (a coroutine)."},
#endif
    {"sock_connect", (PyCFunction)(void (*)(void))loop_sock_connect, METH_FASTCALL | METH_KEYWORDS,
     "sock_connect($self, sock, address)\n--\n\nConnect the socket to a remote address (a coroutine)."},
    {"sock_accept", (PyCFunction)(void (*)(void))loop_sock_accept, METH_FASTCALL | METH_KEYWORDS,
     "sock_accept($self, sock)\n--\n\nAccept a connection; (conn, address), conn non-blocking (a coroutine)."},
    {NULL, NULL, 0, NULL},
};

/* Loop's dict gets the methods, as its tp_methods would have given them. */
static int add_loop_methods(void)
{
    PyMethodDef *def;

    if (PyType_Ready(&PyLoop_LoopType) < 0) /* PyLoopLoop_Add readied it: again, a no-op */
        return -1;
    for (def = loop_methods; def->ml_name; def++) {
        PyObject *name = PyUnicode_InternFromString(def->ml_name);
        PyObject *method = name ? PyDescr_NewMethod(&PyLoop_LoopType, def) : NULL;
        int rc = method ? PyDict_SetItem(PyLoop_LoopType.tp_dict, name, method) : -1;

        Py_XDECREF(name);
        Py_XDECREF(method);
        if (rc < 0)
            return -1;
    }
    PyType_Modified(&PyLoop_LoopType);
    return 0;
}

/* ---- set-up ---- */

/* The method descriptors of _socket.socket that recv_direct stands for. */
static int load_socket_methods(void)
{
    PyObject *type;

    if (PyLoop_ImportInto(&type, "_socket", "socket") < 0)
        return -1;
    if (PyType_Check(type)) {
        S.socket_recv = _PyType_Lookup((PyTypeObject *)type, PyLoop_str.recv);
        S.socket_recv_into = _PyType_Lookup((PyTypeObject *)type, PyLoop_str.recv_into);
        S.socket_fileno = _PyType_Lookup((PyTypeObject *)type, PyLoop_str.fileno);
        S.socket_gettimeout = _PyType_Lookup((PyTypeObject *)type, PyLoop_str.gettimeout);
    }
    if (!S.socket_recv || !S.socket_recv_into || !S.socket_fileno || !S.socket_gettimeout) {
        /* Not what this expects: always call the methods. */
        S.socket_recv = S.socket_recv_into = S.socket_fileno = S.socket_gettimeout = NULL;
    } else {
        Py_INCREF(S.socket_recv);
        Py_INCREF(S.socket_recv_into);
        Py_INCREF(S.socket_fileno);
        Py_INCREF(S.socket_gettimeout);
    }
    Py_DECREF(type);
    return 0;
}

static int load_asyncio(void)
{
    PyObject *selector_loop, *ssl;

    if (PyLoop_ImportInto(&S.weak_value_dictionary, "weakref", "WeakValueDictionary") < 0
        || PyLoop_ImportInto(&selector_loop, "asyncio.selector_events", "BaseSelectorEventLoop") < 0)
        return -1;
    /* The function as the class's dict holds it (what _PyType_Lookup finds). */
    S.base_ensure_fd_no_transport = _PyType_Lookup((PyTypeObject *)selector_loop, PyLoop_str._ensure_fd_no_transport);
    Py_XINCREF(S.base_ensure_fd_no_transport);
    Py_DECREF(selector_loop);
    S.base_events = PyImport_ImportModule("asyncio.base_events");
    if (!S.base_events)
        return -1;
    ssl = PyObject_GetAttrString(S.base_events, "ssl");
    if (!ssl)
        return -1;
    if (ssl != Py_None) {
        S.ssl_socket = PyObject_GetAttrString(ssl, "SSLSocket");
        if (!S.ssl_socket) {
            Py_DECREF(ssl);
            return -1;
        }
    }
    Py_DECREF(ssl);
    return load_socket_methods();
}

/* Does asyncio's _sock_accept return at once on a done future (gh-153761)?
 * Asked of asyncio's own, with a done stand-in future and a socket that
 * raises on any call. */
static const char accept_probe_source[] =
    "from asyncio import selector_events\n"
    "class Done:\n"
    "    def done(self):\n"
    "        return True\n"
    "class Sock:\n"
    "    def fileno(self):\n"
    "        raise LookupError\n"
    "    accept = fileno\n"
    "try:\n"
    "    selector_events.BaseSelectorEventLoop._sock_accept(None, Done(), Sock())\n"
    "    result = True\n"
    "except LookupError:\n"
    "    result = False\n";

static int probe_sock_accept(void)
{
    S.accept_checks_done = PyLoop_ProbeFlag(accept_probe_source, "asyncio's _sock_accept");
    return S.accept_checks_done < 0 ? -1 : 0;
}

int PyLoopSock_Add(PyObject *Py_UNUSED(module))
{
    int kind;

    if (PyLoopSockCoro_Ready() < 0 || PyType_Ready(&SockDoneType) < 0)
        return -1;
    S.zero = PyLong_FromLong(0);
    S.af_inet = PyLong_FromLong(AF_INET);
    S.af_inet6 = PyLong_FromLong(AF_INET6);
    S.sol_socket = PyLong_FromLong(SOL_SOCKET);
    S.so_error = PyLong_FromLong(SO_ERROR);
    S.resolve_kwnames = Py_BuildValue("(ssss)", "family", "type", "proto", "loop");
    if (!S.zero || !S.af_inet || !S.af_inet6 || !S.sol_socket || !S.so_error || !S.resolve_kwnames)
        return -1;
    for (kind = 0; kind < SOCK_KINDS; kind++) {
        bodies[kind].start = coro_start;
        bodies[kind].resolved = resolved;
        if (PyLoop_InternInto(&bodies[kind].name, sock_methods[kind].name) < 0
            || PyLoop_InternInto(&bodies[kind].qualname, sock_methods[kind].params.qualname) < 0)
            return -1;
        S.ready[kind] = PyCFunction_NewEx(&ready_functions[kind], NULL, NULL);
        if (!S.ready[kind])
            return -1;
    }
    if (probe_sock_accept() < 0 || load_asyncio() < 0)
        return -1;
    return add_loop_methods();
}

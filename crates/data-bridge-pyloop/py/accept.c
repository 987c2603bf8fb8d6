/*
 * accept_connections: asyncio's accept loop (BaseSelectorEventLoop.
 * _accept_connection and _accept_connection2) for a listening socket, in
 * C, making a SocketTransport for each connection, or for a TLS server
 * the loop's _make_ssl_transport (the C SSLProtocol over a SocketTransport)
 * with _accept_connection2's wait for the handshake. It is its own part of
 * the module (PyLoopAccept_Add): it uses the socket transport only as a
 * type to call, and the TLS one only through the loop.
 */
#include "transport_base.h"

#include <errno.h>

static int accept_aborted_continues; /* asyncio's accept loop goes on past ConnectionAbortedError */
static PyObject *kw_context;         /* ("context",): SocketTransport's keyword */
static PyObject *str_make_ssl_transport, *str_waiter, *str_server_side, *str_extra, *str_server, *str_exception,
    *str_cancelled;

/* The handshake waiter's done callback (bound to the app transport):
 * asyncio's _accept_connection2 awaits the waiter and closes the transport
 * when that raises (a failed handshake, a cancelled waiter); outside debug
 * mode nothing is reported, so nothing is here (debug mode takes asyncio's
 * own path). */
static PyObject *tls_waiter_done(PyObject *transport, PyObject *waiter)
{
    PyObject *cancelled = PyObject_CallMethodNoArgs(waiter, str_cancelled), *exception = NULL, *closed;
    int failed;

    if (!cancelled)
        return NULL;
    failed = cancelled == Py_True;
    Py_DECREF(cancelled);
    if (!failed) {
        if (!(exception = PyObject_CallMethodNoArgs(waiter, str_exception)))
            return NULL;
        failed = exception != Py_None;
        Py_DECREF(exception);
    }
    if (!failed)
        Py_RETURN_NONE;
    closed = PyObject_CallMethodNoArgs(transport, PyLoop_str.close);
    if (!closed)
        return NULL;
    Py_DECREF(closed);
    Py_RETURN_NONE;
}

static PyMethodDef tls_waiter_done_def = {"_accept_connection2", tls_waiter_done, METH_O, NULL};

/* _accept_connection2's TLS half: transport = loop._make_ssl_transport(
 * conn, protocol, sslcontext, waiter=waiter, server_side=True, extra=extra,
 * server=server, **timeouts[, context=context]), then the wait for the
 * handshake as a done callback. tls is (sslcontext, {timeout keywords}).
 * A new reference, or NULL raised. */
static PyObject *accept_tls(PyObject *loop, PyObject *conn, PyObject *protocol, PyObject *extra, PyObject *server,
                            PyObject *tls, PyObject *context)
{
    PyObject *waiter = PyObject_CallMethodNoArgs(loop, PyLoop_str.create_future), *kwargs = NULL, *make = NULL,
             *args = NULL, *transport = NULL, *callback = NULL, *added;

    if (!waiter || !(kwargs = PyDict_Copy(PyTuple_GET_ITEM(tls, 1))) ||
        PyDict_SetItem(kwargs, str_waiter, waiter) < 0 || PyDict_SetItem(kwargs, str_server_side, Py_True) < 0 ||
        PyDict_SetItem(kwargs, str_extra, extra) < 0 || PyDict_SetItem(kwargs, str_server, server) < 0 ||
        (context && PyDict_SetItem(kwargs, PyLoop_str.context, context) < 0) ||
        !(make = PyObject_GetAttr(loop, str_make_ssl_transport)) ||
        !(args = PyTuple_Pack(3, conn, protocol, PyTuple_GET_ITEM(tls, 0))) ||
        !(transport = PyObject_Call(make, args, kwargs)) ||
        !(callback = PyCFunction_New(&tls_waiter_done_def, transport)))
        goto done;
    if (!(added = PyObject_CallMethodOneArg(waiter, PyLoop_str.add_done_callback, callback)))
        Py_CLEAR(transport);
    Py_XDECREF(added);
done:
    Py_XDECREF(waiter);
    Py_XDECREF(kwargs);
    Py_XDECREF(make);
    Py_XDECREF(args);
    Py_XDECREF(callback);
    return transport;
}

/* One accepted connection: asyncio's _accept_connection2 without TLS, done
 * at once rather than in a task one iteration later (docs/usage.md lists
 * the difference). Returns -1 only for KeyboardInterrupt/SystemExit; any
 * other failure is dropped, as asyncio drops it outside debug mode (the
 * caller takes debug mode to asyncio's own path). */
static int accept_one(PyObject *loop, PyObject *factory, PyObject *conn, PyObject *addr, PyObject *server,
                      PyObject *server_context, PyObject *tls)
{
    PyObject *protocol = NULL, *extra = NULL, *transport = NULL;
    /* asyncio runs _accept_connection2 as a task, in its own copy of the
     * accept Handle's context: the factory's context changes stay with its
     * connection (its callbacks see them), and the next one starts afresh.
     * 3.15 passes the server's context (Server._context): each connection
     * gets a copy of it, its task runs in it and so does every callback of
     * its transport (context=). */
    int given = server_context != Py_None;
    PyObject *context = given ? PyContext_Copy(server_context) : PyContext_CopyCurrent();

    if (context && PyContext_Enter(context) == 0) {
        protocol = PyObject_CallNoArgs(factory);
        if (protocol && (extra = PyDict_New()) && PyDict_SetItem(extra, PyLoop_str.peername, addr) == 0 && tls) {
            transport = accept_tls(loop, conn, protocol, extra, server, tls, given ? context : NULL);
        } else if (protocol && extra && !PyErr_Occurred()) {
            PyObject *args[] = {loop, conn, protocol, Py_None, extra, server, context};
            transport = PyObject_Vectorcall((PyObject *)PyLoop_SocketTransportType, args, 6,
                                            given ? kw_context : NULL);
        }
        if (PyContext_Exit(context) < 0)
            Py_CLEAR(transport);
    }
    Py_XDECREF(context);
    Py_XDECREF(protocol);
    Py_XDECREF(extra);
    if (transport) {
        Py_DECREF(transport); /* the loop holds it while it reads */
        return 0;
    }
    if (PyLoop_IsFatalToRun())
        return -1;
    PyErr_Clear();
    return 0;
}

static PyObject *accept_rest_function; /* accept_rest, as a callable for call_soon */

/* Gives each accepted connection of `accepted` (accept()'s (conn, addr)
 * pairs) its protocol and transport, in accept order. asyncio calls every
 * protocol factory of a readiness after its accept loop (each in a task):
 * a factory that closes the server then finds the others accepted, and
 * their transports fail Server._attach and are dropped. Returns -1 only
 * for KeyboardInterrupt/SystemExit, which end the run where asyncio's task
 * raised it; the connections after it are left for the next iteration,
 * as asyncio's tasks are. */
static int make_accepted(PyObject *loop, PyObject *factory, PyObject *server, PyObject *accepted,
                         PyObject *context, PyObject *tls)
{
    Py_ssize_t i;

    for (i = 0; i < PyList_GET_SIZE(accepted); i++) {
        PyObject *pair = PyList_GET_ITEM(accepted, i);
        int rc;

        /* The list lets go of it: a dropped connection closes now. */
        Py_INCREF(Py_None);
        PyList_SET_ITEM(accepted, i, Py_None);
        /* Only accept()'s pairs are made (a caller's list may hold else). */
        rc = PyTuple_CheckExact(pair) && PyTuple_GET_SIZE(pair) == 2
                 ? accept_one(loop, factory, PyTuple_GET_ITEM(pair, 0), PyTuple_GET_ITEM(pair, 1), server, context,
                              tls)
                 : 0;
        Py_DECREF(pair);
        if (rc < 0) {
            PyObject *interrupt = PyLoop_FetchException(), *handle = NULL,
                     *rest = PyList_GetSlice(accepted, i + 1, PyList_GET_SIZE(accepted));

            if (rest && PyList_GET_SIZE(rest))
                handle = PyObject_CallMethodObjArgs(loop, PyLoop_str.call_soon, accept_rest_function, loop, factory,
                                                    server, rest, context, tls ? tls : Py_None, NULL);
            if (!handle)
                PyErr_Clear(); /* the interrupt is what the run reports */
            Py_XDECREF(handle);
            Py_XDECREF(rest);
            PyLoop_RestoreException(interrupt);
            return -1;
        }
    }
    return 0;
}

/* accept_rest(loop, protocol_factory, server, accepted, context, tls):
 * make_accepted() for the connections an interrupt left behind. */
static PyObject *accept_rest(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    (void)module;
    if (nargs != 6 || !PyList_CheckExact(args[3]) || (args[4] != Py_None && !PyContext_CheckExact(args[4]))) {
        PyErr_SetString(PyExc_TypeError,
                        "accept_rest(loop, protocol_factory, server, accepted: list, context, tls)");
        return NULL;
    }
    if (make_accepted(args[0], args[1], args[2], args[3], args[4], args[5] == Py_None ? NULL : args[5]) < 0)
        return NULL;
    Py_RETURN_NONE;
}

static PyMethodDef accept_rest_def = {"accept_rest", (PyCFunction)(void (*)(void))accept_rest, METH_FASTCALL, NULL};

/* asyncio's _accept_connection for a listening socket without TLS, in C:
 * at most `backlog` accepts per readiness (_loop.py passes asyncio's count:
 * backlog + 1 in the bug-fix releases that make one more), then each
 * connection given its protocol and transport at once, in accept order, in
 * a copy of `context` when one is given (3.15's Server._context). Returns
 * None, or
 * (OSError, accepts left of the backlog, the connections accepted so far)
 * on a resource shortage (EMFILE, ENFILE, ENOBUFS, ENOMEM) for _loop.py to
 * handle as asyncio does (report it, stop watching, retry later, and go on
 * through the backlog, passing those connections back as `accepted`); any
 * other error is raised, to the loop's exception handler, after the
 * connections accepted before it are made, as asyncio's tasks still make
 * them. The socket's own accept() and setblocking() are called, as asyncio
 * calls them. */
/* accept_connections()'s arguments: -1 raised, else `accepted` is a new
 * reference (the caller's list, or a new one). */
static int accept_args(PyObject *const *args, Py_ssize_t nargs, Py_ssize_t *backlog, PyObject **accepted,
                       PyObject **context, PyObject **tls)
{
    if (nargs < 5 || nargs > 8) {
        PyErr_Format(PyExc_TypeError, "accept_connections() takes 5 to 8 arguments (%zd given)", nargs);
        return -1;
    }
    *tls = nargs == 8 && args[7] != Py_None ? args[7] : NULL;
    if (*tls && !(PyTuple_CheckExact(*tls) && PyTuple_GET_SIZE(*tls) == 2 &&
                  PyDict_CheckExact(PyTuple_GET_ITEM(*tls, 1)))) {
        PyErr_SetString(PyExc_TypeError, "accept_connections(): tls must be (sslcontext, timeouts: dict) or None");
        return -1;
    }
    *context = nargs >= 7 ? args[6] : Py_None;
    if (*context != Py_None && !PyContext_CheckExact(*context)) {
        PyErr_SetString(PyExc_TypeError, "accept_connections(): context must be a contextvars.Context or None");
        return -1;
    }
    *backlog = PyLong_AsSsize_t(args[4]);
    if (*backlog == -1 && PyErr_Occurred())
        return -1;
    if (nargs >= 6 && args[5] != Py_None) {
        if (!PyList_CheckExact(args[5])) {
            PyErr_SetString(PyExc_TypeError, "accept_connections(): accepted must be a list");
            return -1;
        }
        *accepted = args[5];
        Py_INCREF(*accepted);
        return 0;
    }
    *accepted = PyList_New(0);
    return *accepted ? 0 : -1;
}

/* conn, addr = sock.accept(); conn.setblocking(False): *items is the pair
 * (a new reference), or NULL with accept()'s or setblocking()'s exception,
 * which asyncio's except clauses look at; -1: the unpacking failed, raised
 * as is. */
static int accept_pair(PyObject *sock, PyObject **items)
{
    PyObject *pair = PyObject_CallMethodNoArgs(sock, PyLoop_str.accept), *done;

    *items = NULL;
    if (!pair)
        return 0;
    *items = PySequence_Tuple(pair);
    Py_DECREF(pair);
    if (!*items)
        return -1;
    if (PyTuple_GET_SIZE(*items) != 2) {
        PyErr_Format(PyExc_ValueError, "expected 2 values to unpack from accept() (got %zd)",
                     PyTuple_GET_SIZE(*items));
        Py_CLEAR(*items);
        return -1;
    }
    done = PyObject_CallMethodOneArg(PyTuple_GET_ITEM(*items, 0), PyLoop_str.setblocking, Py_False);
    if (!done)
        Py_CLEAR(*items);
    Py_XDECREF(done);
    return 0;
}

/* What accept()'s raised exception means, as asyncio's except clauses
 * take it: ACCEPT_NEXT (discarded, go on), ACCEPT_EMPTY (the backlog is
 * empty), ACCEPT_SHORT (a resource shortage: *shortage is the OSError),
 * ACCEPT_RAISE (left raised). */
enum { ACCEPT_NEXT, ACCEPT_EMPTY, ACCEPT_SHORT, ACCEPT_RAISE };

static int accept_failure(PyObject **shortage)
{
    PyObject *exception, *number;
    long error;

    if (accept_aborted_continues && PyErr_ExceptionMatches(PyExc_ConnectionAbortedError)) {
        PyErr_Clear(); /* discarded, as asyncio's `continue` */
        return ACCEPT_NEXT;
    }
    if (PyLoop_WouldBlock() || PyErr_ExceptionMatches(PyExc_ConnectionAbortedError)) {
        PyErr_Clear();
        return ACCEPT_EMPTY;
    }
    if (!PyErr_ExceptionMatches(PyExc_OSError))
        return ACCEPT_RAISE;
    exception = PyLoop_FetchException();
    number = exception ? PyObject_GetAttr(exception, PyLoop_str.errno_) : NULL;
    error = number && PyLong_Check(number) ? PyLong_AsLong(number) : 0;
    Py_XDECREF(number);
    PyErr_Clear();
    if (error == EMFILE || error == ENFILE || error == ENOBUFS || error == ENOMEM) {
        *shortage = exception;
        return ACCEPT_SHORT;
    }
    PyLoop_RestoreException(exception);
    return ACCEPT_RAISE;
}

/* asyncio's _accept_connection for a listening socket without TLS, in C:
 * at most `backlog` accepts per readiness (_loop.py passes asyncio's count:
 * backlog + 1 in the bug-fix releases that make one more), then each
 * connection given its protocol and transport at once, in accept order, in
 * a copy of `context` when one is given (3.15's Server._context). Returns
 * None, or
 * (OSError, accepts left of the backlog, the connections accepted so far)
 * on a resource shortage (EMFILE, ENFILE, ENOBUFS, ENOMEM) for _loop.py to
 * handle as asyncio does (report it, stop watching, retry later, and go on
 * through the backlog, passing those connections back as `accepted`); any
 * other error is raised, to the loop's exception handler, after the
 * connections accepted before it are made, as asyncio's tasks still make
 * them. The socket's own accept() and setblocking() are called, as asyncio
 * calls them. */
static PyObject *accept_connections(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    PyObject *accepted, *context, *tls, *result = NULL, *raised, *shortage = NULL;
    Py_ssize_t backlog, i;
    int failure = ACCEPT_EMPTY;

    (void)module;
    if (accept_args(args, nargs, &backlog, &accepted, &context, &tls) < 0)
        return NULL;
    for (i = 0; i < backlog; i++) {
        PyObject *items;

        if (accept_pair(args[2], &items) < 0) {
            failure = ACCEPT_RAISE;
            break;
        }
        if (!items && (failure = accept_failure(&shortage)) == ACCEPT_NEXT)
            continue;
        if (!items)
            break;
        failure = PyList_Append(accepted, items) < 0 ? ACCEPT_RAISE : ACCEPT_EMPTY;
        Py_DECREF(items);
        if (failure == ACCEPT_RAISE)
            break;
    }
    if (failure == ACCEPT_SHORT) {
        result = Py_BuildValue("(NnO)", shortage, backlog - i - 1, accepted);
    } else if (failure == ACCEPT_RAISE) {
        raised = PyLoop_FetchException();
        if (make_accepted(args[0], args[1], args[3], accepted, context, tls) == 0)
            PyLoop_RestoreException(raised);
        else
            Py_XDECREF(raised); /* the interrupt goes first */
    } else if (make_accepted(args[0], args[1], args[3], accepted, context, tls) == 0) {
        result = (Py_INCREF(Py_None), Py_None);
    }
    Py_DECREF(accepted);
    return result;
}

static PyMethodDef accept_functions[] = {
    {"accept_connections", (PyCFunction)(void (*)(void))accept_connections, METH_FASTCALL,
     "accept_connections(loop, protocol_factory, sock, server, backlog, accepted=None, context=None, tls=None): "
     "asyncio's accept loop; tls: (sslcontext, {handshake/shutdown timeout keywords}) for a TLS server."},
    {NULL, NULL, 0, NULL},
};

/* What asyncio's accept loop does on ConnectionAbortedError: returns, as the
 * buffer were empty (3.10 to 3.13.0), or discards that connection and goes
 * on (the bug-fix releases since: 3.13.x, 3.14+). Asked of asyncio's own
 * _accept_connection, with a backlog of 2 and a stand-in socket whose every
 * accept() is aborted, as datagram_transport.c asks its datagram transport. */
static const char accept_probe_source[] =
    "from asyncio import selector_events\n"
    "class Sock:\n"
    "    accepts = 0\n"
    "    def accept(self):\n"
    "        self.accepts += 1\n"
    "        raise ConnectionAbortedError\n"
    "sock = Sock()\n"
    "selector_events.BaseSelectorEventLoop._accept_connection(None, None, sock, None, None, 2)\n"
    "result = sock.accepts > 1\n";


int PyLoopAccept_Add(PyObject *module)
{
    accept_aborted_continues = PyLoop_ProbeFlag(accept_probe_source, "asyncio's accept loop");
    if (accept_aborted_continues < 0 || !(kw_context = PyTuple_Pack(1, PyLoop_str.context))
        || !(accept_rest_function = PyCFunction_New(&accept_rest_def, NULL))
        || PyLoop_InternInto(&str_make_ssl_transport, "_make_ssl_transport") < 0
        || PyLoop_InternInto(&str_waiter, "waiter") < 0 || PyLoop_InternInto(&str_server_side, "server_side") < 0
        || PyLoop_InternInto(&str_extra, "extra") < 0 || PyLoop_InternInto(&str_server, "server") < 0
        || PyLoop_InternInto(&str_exception, "exception") < 0 || PyLoop_InternInto(&str_cancelled, "cancelled") < 0)
        return -1;
    return PyModule_AddFunctions(module, accept_functions);
}

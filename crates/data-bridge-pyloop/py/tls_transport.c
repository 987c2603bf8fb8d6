/*
 * tls_transport: asyncio's TLS (sslproto.SSLProtocol and
 * sslproto._SSLProtocolTransport, the 3.11+ sslproto, uvloop's design) in
 * C. This file makes the two types and holds the hot path: the reads
 * (get_buffer/buffer_updated into the incoming MemoryBIO, SSLObject.read
 * into the app protocol's data_received or its get_buffer/buffer_updated),
 * the writes (SSLObject.write of the plaintext backlog, then one transport
 * write of all the outgoing MemoryBIO holds) and both directions' flow
 * control. tls_handshake.c has the protocol's cold paths (the state
 * machine, the handshake, the shutdown, eof, loss and error reports),
 * tls_app.c the app transport's other methods and both types'
 * construction; each type's methods are joined from the three files'
 * tables (protocol_tables, transport_tables below).
 *
 * The two types are subclasses of asyncio's own classes, so isinstance
 * checks and reprs are asyncio's. They keep the instance attributes
 * asyncio's __init__ sets (_state, _sslobj, _write_backlog, ...) in C
 * fields named as asyncio's attributes (tls_support.h,
 * PyLoopTls_ProtocolFields): a program reads and writes them as before,
 * and the C methods read them with no dict lookup (PyLoopTls_Get/Set).
 * The C methods replace, one for one, the Python methods of the same name
 * (read: asyncio 3.11's sslproto.py next to these files), reading and
 * writing the same attributes in the same order, and calling the ssl
 * module's objects (SSLObject.read/write/do_handshake/unwrap,
 * MemoryBIO.read/write/pending) through their Python methods: no OpenSSL
 * linking. Renegotiation is refused by OpenSSL inside SSLObject, as on
 * asyncio.
 *
 * The instances need no GC code of their own: the fields are T_OBJECT_EX
 * members, which the base's subtype_traverse, subtype_clear and
 * subtype_dealloc visit and clear as they do a __slots__ class's.
 *
 * Used on every interpreter. On 3.10, whose asyncio has the older
 * sslproto (_SSLPipe, no SSLProtocolState), there is no asyncio class to
 * subclass: the types are made on 3.11's bases (older_types), with 3.11's
 * names made by tls_support.c, when every method of 3.11's design is C;
 * otherwise 3.10 keeps asyncio's own TLS.
 */
#include "tls_support.h"

PyTypeObject *PyLoop_TlsProtocolType;
PyTypeObject *PyLoop_TlsAppTransportType;

/* Whether SSLObject.read would raise SSLWantReadError now, known without
 * the call (and the exception OpenSSL's WANT_READ makes, the costliest
 * part of an empty read): `target` is the _ssl object itself, it holds no
 * decrypted bytes (pending() == 0) and the incoming BIO holds none either.
 * OpenSSL then has at most part of a record, which it cannot complete
 * without more bytes: the read could only ask for more. 1, 0, or -1
 * raised. */
static int surely_wants_read(PyObject *self, PyObject *target)
{
    PyObject *pending, *incoming;
    int none;

    if (Py_TYPE(target) != (PyTypeObject *)PyLoopTls.ssl_inner)
        return 0;
    if (!(pending = PyLoopTls_Call0(target, PyLoop_str.pending)))
        return -1;
    none = pending == PyLoopTls.zero || (PyLong_CheckExact(pending) && PyLong_AsSsize_t(pending) == 0);
    Py_DECREF(pending);
    if (!none)
        return 0;
    if (!(incoming = PyLoopTls_Get(self, PyLoop_str._incoming)))
        return -1;
    pending = PyObject_GetAttr(incoming, PyLoop_str.pending);
    Py_DECREF(incoming);
    if (!pending)
        return -1;
    none = pending == PyLoopTls.zero || (PyLong_CheckExact(pending) && PyLong_AsSsize_t(pending) == 0);
    Py_DECREF(pending);
    return none;
}

/* ------------------------------------------------------------------ */
/* the protocol's C methods                                            */
/* ------------------------------------------------------------------ */

static int do_write(PyObject *self);
static int process_outgoing(PyObject *self);

/* _get_read_buffer_size(): self._incoming.pending */
static PyObject *read_buffer_size(PyObject *self)
{
    PyObject *incoming = PyLoopTls_Get(self, PyLoop_str._incoming), *size;

    if (!incoming)
        return NULL;
    size = PyObject_GetAttr(incoming, PyLoop_str.pending);
    Py_DECREF(incoming);
    return size;
}

/* _get_write_buffer_size(): self._outgoing.pending + self._write_buffer_size */
static PyObject *write_buffer_size(PyObject *self)
{
    PyObject *outgoing = PyLoopTls_Get(self, PyLoop_str._outgoing), *pending, *backlog, *size;

    if (!outgoing)
        return NULL;
    pending = PyObject_GetAttr(outgoing, PyLoop_str.pending);
    Py_DECREF(outgoing);
    if (!pending)
        return NULL;
    backlog = PyLoopTls_Get(self, PyLoop_str._write_buffer_size);
    size = backlog ? PyNumber_Add(pending, backlog) : NULL;
    Py_DECREF(pending);
    Py_XDECREF(backlog);
    return size;
}

/* protocol.pause_writing()/resume_writing() from _control_app_writing: any
 * failure but KeyboardInterrupt/SystemExit goes to the exception handler. */
static int app_flow_call(PyObject *self, PyObject *name, PyObject *message)
{
    PyObject *app = PyLoopTls_Get(self, PyLoop_str._app_protocol), *result, *exc, *loop = NULL,
             *transport = NULL, *context = NULL;
    int status = -1;

    if (!app)
        return -1;
    result = PyLoopTls_Call0(app, name);
    Py_DECREF(app);
    if (result) {
        Py_DECREF(result);
        return 0;
    }
    if (PyLoop_IsFatalToRun())
        return -1;
    exc = PyLoop_FetchException();
    if ((loop = PyLoopTls_Get(self, PyLoop_str._loop)) &&
        (transport = PyLoopTls_Get(self, PyLoop_str._app_transport)) && (context = PyDict_New()) &&
        PyDict_SetItem(context, PyLoop_str.message, message) == 0 &&
        PyDict_SetItem(context, PyLoop_str.exception, exc) == 0 &&
        PyDict_SetItem(context, PyLoop_str.transport, transport) == 0 &&
        PyDict_SetItem(context, PyLoop_str.protocol, self) == 0) {
        result = PyLoopTls_Call1(loop, PyLoop_str.call_exception_handler, context);
        Py_XDECREF(result);
        status = result ? 0 : -1;
    }
    Py_XDECREF(exc);
    Py_XDECREF(loop);
    Py_XDECREF(transport);
    Py_XDECREF(context);
    return status;
}

/* _control_app_writing() */
static int control_app_writing(PyObject *self)
{
    PyObject *size = write_buffer_size(self);
    int over, paused, under;

    if (!size)
        return -1;
    over = PyLoopTls_SizeCompare(self, PyLoop_str._outgoing_high_water, size, Py_GE);
    if (over < 0 || (over && (paused = PyLoopTls_AttrTrue(self, PyLoop_str._app_writing_paused)) < 0))
        goto fail;
    if (over && !paused) {
        Py_DECREF(size);
        if (PyLoopTls_SetBool(self, PyLoop_str._app_writing_paused, 1) < 0)
            return -1;
        return app_flow_call(self, PyLoop_str.pause_writing, PyLoopTls.pause_failed);
    }
    under = PyLoopTls_SizeCompare(self, PyLoop_str._outgoing_low_water, size, Py_LE);
    Py_DECREF(size);
    if (under < 0 || (under && (paused = PyLoopTls_AttrTrue(self, PyLoop_str._app_writing_paused)) < 0))
        return -1;
    if (under && paused) {
        if (PyLoopTls_SetBool(self, PyLoop_str._app_writing_paused, 0) < 0)
            return -1;
        return app_flow_call(self, PyLoop_str.resume_writing, PyLoopTls.resume_failed);
    }
    return 0;
fail:
    Py_DECREF(size);
    return -1;
}

/* _control_ssl_reading() */
static int control_ssl_reading(PyObject *self)
{
    PyObject *size = read_buffer_size(self);
    int over, paused, under;

    if (!size)
        return -1;
    over = PyLoopTls_SizeCompare(self, PyLoop_str._incoming_high_water, size, Py_GE);
    if (over < 0 || (over && (paused = PyLoopTls_AttrTrue(self, PyLoop_str._ssl_reading_paused)) < 0))
        goto fail;
    if (over && !paused) {
        Py_DECREF(size);
        if (PyLoopTls_SetBool(self, PyLoop_str._ssl_reading_paused, 1) < 0)
            return -1;
        return PyLoopTls_CallOf(self, PyLoop_str._transport, PyLoop_str.pause_reading, NULL);
    }
    under = PyLoopTls_SizeCompare(self, PyLoop_str._incoming_low_water, size, Py_LE);
    Py_DECREF(size);
    if (under < 0 || (under && (paused = PyLoopTls_AttrTrue(self, PyLoop_str._ssl_reading_paused)) < 0))
        return -1;
    if (under && paused) {
        if (PyLoopTls_SetBool(self, PyLoop_str._ssl_reading_paused, 0) < 0)
            return -1;
        return PyLoopTls_CallOf(self, PyLoop_str._transport, PyLoop_str.resume_reading, NULL);
    }
    return 0;
fail:
    Py_DECREF(size);
    return -1;
}

/* _process_outgoing(): everything the outgoing BIO holds, in one
 * transport write (the socket transport's write rule then sends what one
 * callback wrote in one writev). */
static int process_outgoing(PyObject *self)
{
    int paused = PyLoopTls_AttrTrue(self, PyLoop_str._ssl_writing_paused);

    if (paused < 0)
        return -1;
    if (!paused) {
        PyObject *outgoing = PyLoopTls_Get(self, PyLoop_str._outgoing), *data;
        Py_ssize_t size;

        if (!outgoing)
            return -1;
        data = PyLoopTls_Call0(outgoing, PyLoop_str.read);
        Py_DECREF(outgoing);
        if (!data)
            return -1;
        size = PyBytes_CheckExact(data) ? PyBytes_GET_SIZE(data) : PyObject_Length(data);
        if (size < 0 || (size > 0 && PyLoopTls_CallOf(self, PyLoop_str._transport, PyLoop_str.write, data) < 0)) {
            Py_DECREF(data);
            return -1;
        }
        Py_DECREF(data);
    }
    return control_app_writing(self);
}

/* _do_write(): SSLObject.write of the plaintext backlog, then
 * _process_outgoing(). */
static int do_write(PyObject *self)
{
    PyObject *backlog = PyLoopTls_Get(self, PyLoop_str._write_backlog), *sslobj = NULL;
    int status = -1;

    if (!backlog)
        return -1;
    for (;;) {
        PyObject *data, *counted;
        Py_ssize_t count, length;
        int more = PyObject_IsTrue(backlog);

        if (more <= 0) {
            if (more < 0)
                goto done;
            break;
        }
        if (!(data = PySequence_GetItem(backlog, 0)))
            goto done;
        if (!sslobj && !(sslobj = PyLoopTls_SslObj(self))) {
            Py_DECREF(data);
            goto done;
        }
        counted = PyLoopTls_Call1(sslobj, PyLoop_str.write, data);
        if (!counted) {
            Py_DECREF(data);
            if (PyLoopTls_CatchAgain())
                break;
            goto done;
        }
        count = PyLong_AsSsize_t(counted);
        Py_DECREF(counted);
        if ((count == -1 && PyErr_Occurred()) || (length = PyObject_Length(data)) < 0) {
            Py_DECREF(data);
            goto done;
        }
        if (count < length) {
            PyObject *rest = PySequence_GetSlice(data, count, PY_SSIZE_T_MAX);
            int stored = rest ? PySequence_SetItem(backlog, 0, rest) : -1;
            Py_XDECREF(rest);
            Py_DECREF(data);
            if (stored < 0 || PyLoopTls_AddTo(self, PyLoop_str._write_buffer_size, -count) < 0)
                goto done;
        } else {
            Py_DECREF(data);
            if (PySequence_DelItem(backlog, 0) < 0 || PyLoopTls_AddTo(self, PyLoop_str._write_buffer_size, -length) < 0)
                goto done;
        }
    }
    status = process_outgoing(self);
done:
    Py_DECREF(backlog);
    Py_XDECREF(sslobj);
    return status;
}

/* _call_eof_received(); _start_shutdown(): what a read of b'' (the peer's
 * close_notify) does. */
static int close_notify(PyObject *self)
{
    if (PyLoopTls_CallOwn(self, PyLoop_str._call_eof_received) < 0)
        return -1;
    return PyLoopTls_CallOwn(self, PyLoop_str._start_shutdown);
}

/* Adds a chunk the read made to `first` (one chunk) or `list` (more):
 * _do_read__copied's list of chunks, made only for a second one. Steals
 * chunk; 0, or -1 raised. */
static int collect_chunk(PyObject **first, PyObject **list, PyObject *chunk)
{
    int appended;

    if (!*first) {
        *first = chunk;
        return 0;
    }
    if (!*list) {
        if (!(*list = PyList_New(2))) {
            Py_DECREF(chunk);
            return -1;
        }
        Py_INCREF(*first);
        PyList_SET_ITEM(*list, 0, *first);
        PyList_SET_ITEM(*list, 1, chunk);
        return 0;
    }
    appended = PyList_Append(*list, chunk);
    Py_DECREF(chunk);
    return appended;
}

/* _do_read__copied's loop: sslobj.read(max_size) until it would block or
 * reads b'' (*empty). 0, or -1 raised. */
static int read_chunks(PyObject *self, PyObject *sslobj, PyObject *max_size, PyObject **first, PyObject **list,
                       int *empty)
{
    for (;;) {
        PyObject *chunk;
        int truth;

        if (*first && (truth = surely_wants_read(self, sslobj)) != 0)
            return truth < 0 ? -1 : 0; /* what the read's SSLWantReadError would do */
        if (!(chunk = PyLoopTls_Call1(sslobj, PyLoop_str.read, max_size)))
            return PyLoopTls_CatchAgain() ? 0 : -1;
        truth = PyBytes_CheckExact(chunk) ? PyBytes_GET_SIZE(chunk) != 0 : PyObject_IsTrue(chunk);
        if (truth <= 0) {
            Py_DECREF(chunk);
            *empty = truth == 0;
            return truth < 0 ? -1 : 0;
        }
        if (collect_chunk(first, list, chunk) < 0)
            return -1;
    }
}

/* _do_read__copied() */
static int read_copied(PyObject *self)
{
    PyObject *sslobj = PyLoopTls_SslObj(self), *max_size = NULL, *first = NULL, *list = NULL, *data = NULL;
    int empty = 0, status = -1;

    if (!sslobj || !(max_size = PyLoopTls_Get(self, PyLoop_str.max_size)) ||
        read_chunks(self, sslobj, max_size, &first, &list, &empty) < 0)
        goto done;
    if (list) {
        if (!(data = PyObject_CallOneArg(PyLoopTls.join, list)))
            goto done;
    } else if (first) {
        data = first;
        Py_INCREF(data);
    }
    if (data && PyLoopTls_CallOf(self, PyLoop_str._app_protocol, PyLoop_str.data_received, data) < 0)
        goto done;
    status = empty ? close_notify(self) : 0;
done:
    Py_XDECREF(sslobj);
    Py_XDECREF(max_size);
    Py_XDECREF(first);
    Py_XDECREF(list);
    Py_XDECREF(data);
    return status;
}

/* sslobj.read(n, buffer) as an int: 0 or -1 raised (SSLAgainErrors too). */
static int read_into(PyObject *sslobj, Py_ssize_t n, PyObject *buffer, Py_ssize_t *count)
{
    PyObject *size = PyLong_FromSsize_t(n), *result;

    if (!size)
        return -1;
    result = PyLoopTls_Call2(sslobj, PyLoop_str.read, size, buffer);
    Py_DECREF(size);
    if (!result)
        return -1;
    *count = PyLong_AsSsize_t(result);
    Py_DECREF(result);
    return *count == -1 && PyErr_Occurred() ? -1 : 0;
}

/* _do_read__buffered's inner loop: reads into buffer[offset:] until it is
 * full, the read would block or reads nothing (*count 0). 0, or -1 raised. */
static int read_rest(PyObject *self, PyObject *sslobj, PyObject *buffer, Py_ssize_t wants, Py_ssize_t *offset,
                     Py_ssize_t *count)
{
    while (*offset < wants) {
        PyObject *rest;
        int read = surely_wants_read(self, sslobj);

        if (read != 0)
            return read < 0 ? -1 : 0; /* what the read's SSLWantReadError would do */
        if (!(rest = PySequence_GetSlice(buffer, *offset, PY_SSIZE_T_MAX)))
            return -1;
        read = read_into(sslobj, wants - *offset, rest, count);
        Py_DECREF(rest);
        if (read < 0)
            return PyLoopTls_CatchAgain() ? 0 : -1;
        if (*count <= 0)
            return 0;
        *offset += *count;
    }
    return 0;
}

/* self._loop.call_soon(self._do_read): the buffer is full, more may be
 * there. 0, or -1 raised. */
static int read_again_soon(PyObject *self)
{
    PyObject *loop = PyLoopTls_Get(self, PyLoop_str._loop), *again, *handle = NULL;

    if (!loop)
        return -1;
    again = PyLoopTls_Get(self, PyLoop_str._do_read);
    if (again)
        handle = PyLoopTls_Call1(loop, PyLoop_str.call_soon, again);
    Py_DECREF(loop);
    Py_XDECREF(again);
    Py_XDECREF(handle);
    return handle ? 0 : -1;
}

/* self._app_protocol_buffer_updated(count): 0, or -1 raised. */
static int buffer_updated(PyObject *self, Py_ssize_t count)
{
    PyObject *updated = PyLoopTls_Get(self, PyLoop_str._app_protocol_buffer_updated), *n, *result = NULL;

    if (!updated)
        return -1;
    if ((n = PyLong_FromSsize_t(count))) {
        result = PyObject_CallOneArg(updated, n);
        Py_DECREF(n);
    }
    Py_DECREF(updated);
    Py_XDECREF(result);
    return result ? 0 : -1;
}

/* _do_read__buffered() */
static int read_buffered(PyObject *self)
{
    PyObject *get_buffer = NULL, *size = NULL, *buffer = NULL, *sslobj = NULL;
    Py_ssize_t offset = 0, count = 1, wants;
    int status = -1;

    if (!(get_buffer = PyLoopTls_Get(self, PyLoop_str._app_protocol_get_buffer)) ||
        !(size = read_buffer_size(self)) || !(buffer = PyObject_CallOneArg(get_buffer, size)) ||
        (wants = PyObject_Length(buffer)) < 0 || !(sslobj = PyLoopTls_SslObj(self)))
        goto done;
    if (read_into(sslobj, wants, buffer, &count) < 0) {
        if (!PyLoopTls_CatchAgain())
            goto done;
    } else if (count > 0) {
        offset = count;
        if (read_rest(self, sslobj, buffer, wants, &offset, &count) < 0)
            goto done;
        /* the while's else: the buffer is full, more may be there */
        if (offset >= wants && count > 0 && read_again_soon(self) < 0)
            goto done;
    }
    if (offset > 0 && buffer_updated(self, offset) < 0)
        goto done;
    status = count ? 0 : close_notify(self);
done:
    Py_XDECREF(get_buffer);
    Py_XDECREF(size);
    Py_XDECREF(buffer);
    Py_XDECREF(sslobj);
    return status;
}

/* _do_read()'s try body. */
static int do_read_body(PyObject *self)
{
    int paused = PyLoopTls_AttrTrue(self, PyLoop_str._app_reading_paused);

    if (paused < 0)
        return -1;
    if (!paused) {
        int buffered = PyLoopTls_AttrTrue(self, PyLoop_str._app_protocol_is_buffer), pending;
        PyObject *backlog;

        if (buffered < 0 || (buffered ? read_buffered(self) : read_copied(self)) < 0)
            return -1;
        if (!(backlog = PyLoopTls_Get(self, PyLoop_str._write_backlog)))
            return -1;
        pending = PyObject_IsTrue(backlog);
        Py_DECREF(backlog);
        if (pending < 0 || (pending ? do_write(self) : process_outgoing(self)) < 0)
            return -1;
    }
    return control_ssl_reading(self);
}

/* _do_read() */
static int do_read(PyObject *self)
{
    PyObject *state = PyLoopTls_Get(self, PyLoop_str._state);
    int reading;

    if (!state)
        return -1;
    reading = state == PyLoopTls.wrapped || state == PyLoopTls.flushing;
    Py_DECREF(state);
    if (!reading)
        return 0;
    if (do_read_body(self) < 0)
        return PyLoopTls_CatchFatal(self, PyLoopTls.fatal_message);
    return 0;
}

/* _write_appdata(list_of_data) */
static int write_appdata(PyObject *self, PyObject *list_of_data)
{
    PyObject *state = PyLoopTls_Get(self, PyLoop_str._state), *backlog, *iterator, *data;
    int wrapped;

    if (!state)
        return -1;
    if (state == PyLoopTls.flushing || state == PyLoopTls.shutdown || state == PyLoopTls.unwrapped) {
        PyObject *lost = PyLoopTls_Get(self, PyLoop_str._conn_lost);
        Py_ssize_t count;
        Py_DECREF(state);
        if (!lost)
            return -1;
        count = PyLong_AsSsize_t(lost);
        Py_DECREF(lost);
        if (count == -1 && PyErr_Occurred())
            return -1;
        if (count >= PyLoop_asyncio.connlost_threshold) {
            PyObject *result = PyLoopTls_Call1(PyLoop_asyncio.logger, PyLoop_str.warning, PyLoopTls.closed_message);
            if (!result)
                return -1;
            Py_DECREF(result);
        }
        return PyLoopTls_AddTo(self, PyLoop_str._conn_lost, 1);
    }
    Py_DECREF(state);
    if (!(backlog = PyLoopTls_Get(self, PyLoop_str._write_backlog)))
        return -1;
    if (!(iterator = PyObject_GetIter(list_of_data))) {
        Py_DECREF(backlog);
        return -1;
    }
    while ((data = PyIter_Next(iterator))) {
        PyObject *result = PyLoopTls_Call1(backlog, PyLoop_str.append, data);
        Py_ssize_t length = result ? PyObject_Length(data) : -1;
        Py_XDECREF(result);
        Py_DECREF(data);
        if (length < 0 || PyLoopTls_AddTo(self, PyLoop_str._write_buffer_size, length) < 0)
            break;
    }
    Py_DECREF(iterator);
    Py_DECREF(backlog);
    if (PyErr_Occurred())
        return -1;
    if (!(state = PyLoopTls_Get(self, PyLoop_str._state)))
        return PyLoopTls_CatchFatal(self, PyLoopTls.fatal_message);
    wrapped = state == PyLoopTls.wrapped;
    Py_DECREF(state);
    if (wrapped && do_write(self) < 0)
        return PyLoopTls_CatchFatal(self, PyLoopTls.fatal_message);
    return 0;
}

/* ---- the methods ---- */

/* get_buffer(n): the protocol's one receive buffer, grown to n. */
static PyObject *protocol_get_buffer(PyObject *self, PyObject *n)
{
    PyObject *max_size = PyLoopTls_Get(self, PyLoop_str.max_size), *want = n, *buffer = NULL, *view = NULL;
    Py_ssize_t have;
    int small, big = 0, grow;

    if (!max_size)
        return NULL;
    small = PyObject_RichCompareBool(n, PyLoopTls.zero, Py_LE);
    if (small < 0 || (!small && (big = PyObject_RichCompareBool(n, max_size, Py_GT)) < 0))
        goto done;
    if (small || big)
        want = max_size;
    if (!(buffer = PyLoopTls_Get(self, PyLoop_str._ssl_buffer)) || (have = PyObject_Length(buffer)) < 0)
        goto done;
    {
        PyObject *length = PyLong_FromSsize_t(have);
        grow = length ? PyObject_RichCompareBool(length, want, Py_LT) : -1;
        Py_XDECREF(length);
    }
    if (grow < 0)
        goto done;
    if (grow) {
        PyObject *fresh = PyObject_CallOneArg((PyObject *)&PyByteArray_Type, want), *fresh_view;
        if (!fresh)
            goto done;
        fresh_view = PyMemoryView_FromObject(fresh);
        if (!fresh_view || PyLoopTls_Set(self, PyLoop_str._ssl_buffer, fresh) < 0 ||
            PyLoopTls_Set(self, PyLoop_str._ssl_buffer_view, fresh_view) < 0) {
            Py_DECREF(fresh);
            Py_XDECREF(fresh_view);
            goto done;
        }
        Py_DECREF(fresh);
        Py_DECREF(fresh_view);
    }
    view = PyLoopTls_Get(self, PyLoop_str._ssl_buffer_view);
done:
    Py_DECREF(max_size);
    Py_XDECREF(buffer);
    return view;
}

/* buffer_updated(nbytes): into the incoming BIO, then the state's step. */
static PyObject *protocol_buffer_updated(PyObject *self, PyObject *nbytes)
{
    PyObject *view = PyLoopTls_Get(self, PyLoop_str._ssl_buffer_view), *slice, *part = NULL, *state;
    int status;

    if (!view)
        return NULL;
    if ((slice = PySlice_New(NULL, nbytes, NULL))) {
        part = PyObject_GetItem(view, slice);
        Py_DECREF(slice);
    }
    Py_DECREF(view);
    if (!part)
        return NULL;
    status = PyLoopTls_CallOf(self, PyLoop_str._incoming, PyLoop_str.write, part);
    Py_DECREF(part);
    if (status < 0 || !(state = PyLoopTls_Get(self, PyLoop_str._state)))
        return NULL;
    if (state == PyLoopTls.do_handshake)
        status = PyLoopTls_CallOwn(self, PyLoop_str._do_handshake);
    else if (state == PyLoopTls.wrapped)
        status = do_read(self);
    else if (state == PyLoopTls.flushing)
        status = PyLoopTls_CallOwn(self, PyLoop_str._do_flush);
    else if (state == PyLoopTls.shutdown)
        status = PyLoopTls_CallOwn(self, PyLoop_str._do_shutdown);
    Py_DECREF(state);
    return PyLoopTls_NoneOrNull(status);
}

static PyObject *protocol_do_read(PyObject *self, PyObject *unused)
{
    (void)unused;
    return PyLoopTls_NoneOrNull(do_read(self));
}

/* _do_read__copied() and _do_read__buffered(): _do_read's halves, here
 * for a caller by name (a subclass's); 3.10's type has no asyncio class
 * under it to inherit them from. */
static PyObject *protocol_do_read_copied(PyObject *self, PyObject *unused)
{
    (void)unused;
    return PyLoopTls_NoneOrNull(read_copied(self));
}

static PyObject *protocol_do_read_buffered(PyObject *self, PyObject *unused)
{
    (void)unused;
    return PyLoopTls_NoneOrNull(read_buffered(self));
}

static PyObject *protocol_do_write(PyObject *self, PyObject *unused)
{
    (void)unused;
    return PyLoopTls_NoneOrNull(do_write(self));
}

static PyObject *protocol_process_outgoing(PyObject *self, PyObject *unused)
{
    (void)unused;
    return PyLoopTls_NoneOrNull(process_outgoing(self));
}

static PyObject *protocol_control_app_writing(PyObject *self, PyObject *unused)
{
    (void)unused;
    return PyLoopTls_NoneOrNull(control_app_writing(self));
}

static PyObject *protocol_control_ssl_reading(PyObject *self, PyObject *unused)
{
    (void)unused;
    return PyLoopTls_NoneOrNull(control_ssl_reading(self));
}

static PyObject *protocol_write_appdata(PyObject *self, PyObject *list_of_data)
{
    return PyLoopTls_NoneOrNull(write_appdata(self, list_of_data));
}

static PyObject *protocol_get_write_buffer_size(PyObject *self, PyObject *unused)
{
    (void)unused;
    return write_buffer_size(self);
}

static PyObject *protocol_get_read_buffer_size(PyObject *self, PyObject *unused)
{
    (void)unused;
    return read_buffer_size(self);
}

/* _get_app_transport(): asyncio's, making this module's app transport. */
static PyObject *protocol_get_app_transport(PyObject *self, PyObject *unused)
{
    PyObject *transport = PyLoopTls_Get(self, PyLoop_str._app_transport), *loop;
    int created;

    (void)unused;
    if (!transport || transport != Py_None)
        return transport;
    Py_DECREF(transport);
    if ((created = PyLoopTls_AttrTrue(self, PyLoop_str._app_transport_created)) != 0) {
        if (created > 0)
            PyErr_SetString(PyExc_RuntimeError, "Creating _SSLProtocolTransport twice");
        return NULL;
    }
    if (!(loop = PyLoopTls_Get(self, PyLoop_str._loop)))
        return NULL;
    {
        PyObject *args[] = {loop, self};
        transport = PyObject_Vectorcall((PyObject *)PyLoop_TlsAppTransportType, args, 2, NULL);
    }
    Py_DECREF(loop);
    if (!transport || PyLoopTls_Set(self, PyLoop_str._app_transport, transport) < 0 ||
        PyLoopTls_SetBool(self, PyLoop_str._app_transport_created, 1) < 0) {
        Py_XDECREF(transport);
        return NULL;
    }
    return transport;
}

static PyMethodDef protocol_methods[] = {
    {"get_buffer", protocol_get_buffer, METH_O, NULL},
    {"buffer_updated", protocol_buffer_updated, METH_O, NULL},
    {"_do_read", protocol_do_read, METH_NOARGS, NULL},
    {"_do_write", protocol_do_write, METH_NOARGS, NULL},
    {"_process_outgoing", protocol_process_outgoing, METH_NOARGS, NULL},
    {"_control_app_writing", protocol_control_app_writing, METH_NOARGS, NULL},
    {"_control_ssl_reading", protocol_control_ssl_reading, METH_NOARGS, NULL},
    {"_write_appdata", protocol_write_appdata, METH_O, NULL},
    {"_get_write_buffer_size", protocol_get_write_buffer_size, METH_NOARGS, NULL},
    {"_get_read_buffer_size", protocol_get_read_buffer_size, METH_NOARGS, NULL},
    {"_get_app_transport", protocol_get_app_transport, METH_NOARGS, NULL},
    {"_do_read__copied", protocol_do_read_copied, METH_NOARGS, NULL},
    {"_do_read__buffered", protocol_do_read_buffered, METH_NOARGS, NULL},
    {NULL, NULL, 0, NULL},
};

/* ------------------------------------------------------------------ */
/* the app transport: write() and writelines() in C                    */
/* ------------------------------------------------------------------ */

/* self._ssl_protocol._write_appdata(list_of_data) */
static int transport_write_appdata(PyObject *self, PyObject *list_of_data)
{
    PyObject *protocol = PyLoopTls_Get(self, PyLoop_str._ssl_protocol), *result;
    int status;

    if (!protocol)
        return -1;
    if (Py_TYPE(protocol) == PyLoop_TlsProtocolType) {
        status = write_appdata(protocol, list_of_data);
    } else {
        result = PyLoopTls_Call1(protocol, PyLoop_str._write_appdata, list_of_data);
        Py_XDECREF(result);
        status = result ? 0 : -1;
    }
    Py_DECREF(protocol);
    return status;
}

static const PyLoopParams write_params = {"_SSLProtocolTransport.write", {"data"}, 1, 1};

static PyObject *transport_write(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    PyObject *bound[PYLOOP_MAX_PARAMS], *data, *one;
    int empty, status;

    if (PyLoopArgs_Bind(&write_params, args, nargs, kwnames, bound) < 0)
        return NULL;
    data = bound[0];
    if (!PyBytes_Check(data) && !PyByteArray_Check(data) && !PyMemoryView_Check(data)) {
        PyErr_Format(PyExc_TypeError, "data: expecting a bytes-like instance, got %s", PyLoop_TypeName(data));
        return NULL;
    }
    empty = PyBytes_CheckExact(data) ? PyBytes_GET_SIZE(data) == 0 : PyObject_Not(data);
    if (empty)
        return empty < 0 ? NULL : Py_NewRef(Py_None);
    if (!(one = PyTuple_Pack(1, data)))
        return NULL;
    status = transport_write_appdata(self, one);
    Py_DECREF(one);
    return PyLoopTls_NoneOrNull(status);
}

static const PyLoopParams writelines_params = {"_SSLProtocolTransport.writelines", {"list_of_data"}, 1, 1};

static PyObject *transport_writelines(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    PyObject *bound[PYLOOP_MAX_PARAMS];

    if (PyLoopArgs_Bind(&writelines_params, args, nargs, kwnames, bound) < 0)
        return NULL;
    return PyLoopTls_NoneOrNull(transport_write_appdata(self, bound[0]));
}

static PyMethodDef transport_methods[] = {
    {"write", (PyCFunction)(void (*)(void))transport_write, METH_FASTCALL | METH_KEYWORDS,
     "write($self, data)\n--\n\nWrite some data bytes to the transport."},
    {"writelines", (PyCFunction)(void (*)(void))transport_writelines, METH_FASTCALL | METH_KEYWORDS,
     "writelines($self, list_of_data)\n--\n\nWrite a list (or any iterable) of data bytes to the transport."},
    {NULL, NULL, 0, NULL},
};

/* ------------------------------------------------------------------ */
/* the part                                                            */
/* ------------------------------------------------------------------ */

/* The methods of one type, from the TLS files' tables (NULL-terminated
 * lists of NULL-terminated tables), joined in one table that lives as
 * long as the process, as the type does. */
static PyMethodDef *join_tables(PyMethodDef *const *tables)
{
    size_t count = 0, at = 0;
    PyMethodDef *joined;

    for (PyMethodDef *const *table = tables; *table; table++)
        for (PyMethodDef *def = *table; def->ml_name; def++)
            count++;
    if (!(joined = PyMem_Calloc(count + 1, sizeof(*joined))))
        return (PyMethodDef *)PyErr_NoMemory();
    for (PyMethodDef *const *table = tables; *table; table++)
        for (PyMethodDef *def = *table; def->ml_name; def++)
            joined[at++] = *def;
    return joined;
}

/* The made type's tp_name (the spec's dotted name) cut to the class name
 * a class statement gives it (the rest of the string lives as long as the
 * type): AttributeError's and TypeError's messages, which read tp_name,
 * then name 'SSLProtocol' as asyncio's do. Returns type. */
static PyObject *class_name(PyObject *type)
{
    if (type) {
        const char *dot = strrchr(((PyTypeObject *)type)->tp_name, '.');
        if (dot)
            ((PyTypeObject *)type)->tp_name = dot + 1;
    }
    return type;
}

/* A subclass of asyncio's `base` with the methods of `tables` and the C
 * fields `fields` after the base's data: named as asyncio's class, so
 * reprs and __name__ read as asyncio's. */
static PyTypeObject *subclass(const char *name, PyObject *base, PyMethodDef *const *tables,
                              const char *const *fields)
{
    Py_ssize_t at = ((PyTypeObject *)base)->tp_basicsize;
    PyMethodDef *methods = join_tables(tables);
    PyMemberDef *members = methods ? PyLoopTls_FieldMembers(fields, at) : NULL;
    PyType_Slot slots[] = {
        {Py_tp_methods, methods},
        {Py_tp_members, members},
        {0, NULL},
    };
    PyType_Spec spec = {
        .name = name,
        .basicsize = (int)(at + PyLoopTls_CountFields(fields) * (Py_ssize_t)sizeof(PyObject *)),
        .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
        .slots = slots,
    };
    PyObject *bases, *type = NULL;

    if (members && (bases = PyTuple_Pack(1, base))) {
        type = class_name(PyType_FromSpecWithBases(&spec, bases));
        Py_DECREF(bases);
    }
    PyMem_Free(members); /* the type made its own copy */
    if (!type)
        PyMem_Free(methods);
    return (PyTypeObject *)type;
}

/* Each type's tables: this file's, then the other TLS files'. */
static PyMethodDef *const protocol_tables[] = {protocol_methods, PyLoopTls_ProtocolSetupMethods,
                                               PyLoopTls_HandshakeMethods, NULL};
static PyMethodDef *const transport_tables[] = {transport_methods, PyLoopTls_AppMethods, NULL};

/* ---- 3.10: the types on 3.11's bases ---- */

/* What 3.11's sslproto defines on each class, methods and the property
 * (its class attributes are set by older_types). On 3.10 no asyncio class
 * under the types has them, so each must be the type's own (C): one
 * missing (the C port not complete in this build) keeps 3.10 on asyncio's
 * own TLS rather than half of it. */
static const char *const protocol_design[] = {
    "__init__", "_set_app_protocol", "_wakeup_waiter", "_get_app_transport", "connection_made",
    "connection_lost", "get_buffer", "buffer_updated", "eof_received", "_get_extra_info", "_set_state",
    "_start_handshake", "_check_handshake_timeout", "_do_handshake", "_on_handshake_complete",
    "_start_shutdown", "_check_shutdown_timeout", "_do_flush", "_do_shutdown", "_on_shutdown_complete",
    "_abort", "_write_appdata", "_do_write", "_process_outgoing", "_do_read", "_do_read__buffered",
    "_do_read__copied", "_call_eof_received", "_get_write_buffer_size", "_set_write_buffer_limits",
    "pause_writing", "resume_writing", "_control_app_writing", "_get_read_buffer_size",
    "_set_read_buffer_limits", "_pause_reading", "_resume_reading", "_control_ssl_reading",
    "_fatal_error", NULL};
static const char *const transport_design[] = {
    "__init__", "get_extra_info", "set_protocol", "get_protocol", "is_closing", "close", "__del__",
    "is_reading", "pause_reading", "resume_reading", "set_write_buffer_limits", "get_write_buffer_limits",
    "get_write_buffer_size", "set_read_buffer_limits", "get_read_buffer_limits", "get_read_buffer_size",
    "_protocol_paused", "write", "writelines", "write_eof", "can_write_eof", "abort", "_force_close",
    "_test__append_write_backlog", NULL};

static PyGetSetDef older_getset[] = {
    {"__dict__", PyObject_GenericGetDict, PyObject_GenericSetDict, NULL, NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

/* 3.10: a subclass of 3.11's `bases` (protocols.BufferedProtocol, or
 * transports._FlowControlMixin and transports.Transport), named as
 * asyncio's class, with the instance __dict__ and weakref list a class
 * statement adds (those bases' __slots__ have neither; 3.11's classes
 * have both), then the C fields `fields`. The GC code stays the bases'
 * (subtype_traverse/clear/dealloc, which visit and free that __dict__,
 * clear the weakrefs and the fields), and the
 * table's __init__/__del__, set again, become the tp_init/tp_finalize
 * slots, as a class statement's would (3.11+ inherits them from asyncio's
 * classes). */
static PyTypeObject *older_subclass(const char *name, PyObject *bases, PyMethodDef *const *tables,
                                    const char *const *fields)
{
    Py_ssize_t at = ((PyTypeObject *)PyTuple_GET_ITEM(bases, 0))->tp_basicsize,
               fields_at = at + 2 * (Py_ssize_t)sizeof(PyObject *), count = PyLoopTls_CountFields(fields);
    PyMethodDef *methods = join_tables(tables);
    PyMemberDef *members = methods ? PyLoopTls_FieldMembers(fields, fields_at) : NULL, *all = NULL;
    PyMemberDef own[] = {
        {"__dictoffset__", T_PYSSIZET, at, READONLY, NULL},
        {"__weaklistoffset__", T_PYSSIZET, at + (Py_ssize_t)sizeof(PyObject *), READONLY, NULL},
        {"__weakref__", T_OBJECT, at + (Py_ssize_t)sizeof(PyObject *), READONLY, NULL},
    };
    PyType_Slot slots[] = {
        {Py_tp_methods, methods},
        {Py_tp_members, NULL},
        {Py_tp_getset, older_getset},
        {0, NULL},
    };
    PyType_Spec spec = {
        .name = name,
        .basicsize = (int)(fields_at + count * (Py_ssize_t)sizeof(PyObject *)),
        .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
        .slots = slots,
    };
    static const char *const slot_methods[] = {"__init__", "__del__"};
    PyObject *type = NULL;

    /* the dict, weakref list and the fields: one members table */
    if (members && !(all = PyMem_Calloc((size_t)count + 4, sizeof(*all))))
        PyErr_NoMemory();
    if (all) {
        memcpy(all, own, sizeof(own));
        memcpy(all + 3, members, (size_t)count * sizeof(*all));
        slots[1].pfunc = all;
        type = class_name(PyType_FromSpecWithBases(&spec, bases));
    }
    PyMem_Free(members); /* the type made its own copy */
    PyMem_Free(all);
    if (!type) {
        PyMem_Free(methods);
        return NULL;
    }
    for (size_t i = 0; i < sizeof(slot_methods) / sizeof(slot_methods[0]); i++) {
        PyObject *method = PyDict_GetItemString(((PyTypeObject *)type)->tp_dict, slot_methods[i]);
        int set;

        if (!method)
            continue;
        Py_INCREF(method);
        set = PyObject_SetAttrString(type, slot_methods[i], method);
        Py_DECREF(method);
        if (set < 0) {
            Py_DECREF(type);
            return NULL;
        }
    }
    return (PyTypeObject *)type;
}

/* Each of `names` is the type's own: 1, or 0. */
static int has_design(PyTypeObject *type, const char *const *names)
{
    for (; *names; names++)
        if (!PyDict_GetItemString(type->tp_dict, *names))
            return 0;
    return 1;
}

/* 3.10: both types on 3.11's bases, with 3.11's class attributes. 1 made,
 * 0 when the C port is not complete (no type made: the loop keeps
 * asyncio's own TLS), -1 raised. */
static int older_types(void)
{
    PyObject *protocols = PyImport_ImportModule("asyncio.protocols"),
             *transports = PyImport_ImportModule("asyncio.transports"),
             *constants = PyImport_ImportModule("asyncio.constants"), *bases = NULL, *mode = NULL, *size = NULL,
             *fallback = NULL;
    PyTypeObject *protocol = NULL, *app_transport = NULL;
    int status = -1;

    if (!protocols || !transports || !constants ||
        !(bases = Py_BuildValue("(N)", PyObject_GetAttrString(protocols, "BufferedProtocol"))) ||
        !(protocol = older_subclass("asyncio.sslproto.SSLProtocol", bases, protocol_tables, PyLoopTls_ProtocolFields)))
        goto done;
    Py_CLEAR(bases);
    if (!(bases = Py_BuildValue("(NN)", PyObject_GetAttrString(transports, "_FlowControlMixin"),
                                PyObject_GetAttrString(transports, "Transport"))) ||
        !(app_transport = older_subclass("asyncio.sslproto._SSLProtocolTransport", bases, transport_tables,
                                                PyLoopTls_TransportFields)) ||
        PyLoopTls_AppAddProperties(app_transport) < 0)
        goto done;
    /* 3.11's class attributes: SSLProtocol.max_size = 256 * 1024 and the
     * handles' and start time's None; _SSLProtocolTransport's
     * _start_tls_compatible and _sendfile_compatible. */
    if (!(size = PyLong_FromLong(256 * 1024)) || PyObject_SetAttrString((PyObject *)protocol, "max_size", size) < 0 ||
        PyObject_SetAttrString((PyObject *)protocol, "_handshake_start_time", Py_None) < 0 ||
        PyObject_SetAttrString((PyObject *)protocol, "_handshake_timeout_handle", Py_None) < 0 ||
        PyObject_SetAttrString((PyObject *)protocol, "_shutdown_timeout_handle", Py_None) < 0 ||
        PyObject_SetAttrString((PyObject *)app_transport, "_start_tls_compatible", Py_True) < 0 ||
        !(mode = PyObject_GetAttrString(constants, "_SendfileMode")) ||
        !(fallback = PyObject_GetAttrString(mode, "FALLBACK")) ||
        PyObject_SetAttrString((PyObject *)app_transport, "_sendfile_compatible", fallback) < 0)
        goto done;
    if (!has_design(protocol, protocol_design) || !has_design(app_transport, transport_design)) {
        /* the joined tables stay allocated: the types' method descriptors
         * point into them until the types are collected */
        status = 0;
        goto done;
    }
    PyLoop_TlsProtocolType = protocol;
    PyLoop_TlsAppTransportType = app_transport;
    protocol = app_transport = NULL;
    status = 1;
done:
    Py_XDECREF(protocols);
    Py_XDECREF(transports);
    Py_XDECREF(constants);
    Py_XDECREF(bases);
    Py_XDECREF(mode);
    Py_XDECREF(fallback);
    Py_XDECREF(size);
    Py_XDECREF(protocol);
    Py_XDECREF(app_transport);
    return status;
}

int PyLoopTls_Add(PyObject *module)
{
    PyObject *sslproto = PyImport_ImportModule("asyncio.sslproto"), *protocol = NULL,
             *app_transport = NULL;
    int status = -1;

    if (!sslproto)
        return -1;
    if (PyLoopTls_InitNames(sslproto) < 0 || PyLoopTls_AddNames(module) < 0)
        goto done;
    /* An asyncio without _is_transport_closing (3.10's made 3.11's, 3.11
     * to 3.13.0): the protocol has none either. It is the last entry of
     * tls_handshake.c's table, which ends there then. */
    for (PyMethodDef *def = PyLoopTls_HandshakeMethods; !PyLoopTls.has_transport_closing && def->ml_name; def++)
        if (strcmp(def->ml_name, "_is_transport_closing") == 0)
            def->ml_name = NULL;
    /* 3.10's sslproto (_SSLPipe, no SSLProtocolState) is not the one the
     * types port: they are made on 3.11's bases, when every method of
     * 3.11's design is C (else the loop keeps asyncio's own). */
    if (PyLoopTls.own_names) {
        int made = older_types();
        if (made <= 0) {
            status = made;
            goto done;
        }
    } else if (!(protocol = PyObject_GetAttrString(sslproto, "SSLProtocol")) ||
               !(app_transport = PyObject_GetAttrString(sslproto, "_SSLProtocolTransport")) ||
               !(PyLoop_TlsProtocolType = subclass("asyncio.sslproto.SSLProtocol", protocol, protocol_tables,
                                                       PyLoopTls_ProtocolFields)) ||
               !(PyLoop_TlsAppTransportType =
                     subclass("asyncio.sslproto._SSLProtocolTransport", app_transport, transport_tables,
                                       PyLoopTls_TransportFields)) ||
               PyLoopTls_AppAddProperties(PyLoop_TlsAppTransportType) < 0)
        goto done;
    /* the fields' places, of the two types kept (not of a 3.10 pair made
     * and dropped): PyLoopTls_Get/Set read them by the instance's type */
    if (PyLoopTls_RecordFields(PyLoop_TlsProtocolType, PyLoopTls_ProtocolFields) < 0 ||
        PyLoopTls_RecordFields(PyLoop_TlsAppTransportType, PyLoopTls_TransportFields) < 0)
        goto done;
    Py_INCREF(PyLoop_TlsProtocolType);
    if (PyModule_AddObject(module, "SSLProtocol", (PyObject *)PyLoop_TlsProtocolType) < 0) {
        Py_DECREF(PyLoop_TlsProtocolType);
        goto done;
    }
    Py_INCREF(PyLoop_TlsAppTransportType);
    if (PyModule_AddObject(module, "SSLProtocolTransport", (PyObject *)PyLoop_TlsAppTransportType) < 0) {
        Py_DECREF(PyLoop_TlsAppTransportType);
        goto done;
    }
    status = 0;
done:
    Py_DECREF(sslproto);
    Py_XDECREF(protocol);
    Py_XDECREF(app_transport);
    return status;
}

/*
 * tls_support: what the TLS files share (tls_transport.c, the types and the
 * hot path, and the files it adds methods from): the names and objects
 * asyncio's sslproto compares with, read once, and helpers that read like
 * the `self._x` of asyncio's Python sslproto.
 */
#ifndef PYLOOP_TLS_SUPPORT_H
#define PYLOOP_TLS_SUPPORT_H

#include "transport_base.h"

struct PyLoopTlsNames {
    /* sslproto.SSLProtocolState's members: asyncio compares them with ==,
     * which for an Enum is identity. */
    PyObject *unwrapped, *do_handshake, *wrapped, *flushing, *shutdown;
    /* sslproto.AppProtocolState's members */
    PyObject *app_init, *app_con_made, *app_eof, *app_con_lost;
    /* asyncio.constants: SSL_HANDSHAKE_TIMEOUT, SSL_SHUTDOWN_TIMEOUT (the
     * defaults, floats), FLOW_CONTROL_HIGH_WATER_SSL_READ/_WRITE (KiB) */
    PyObject *handshake_timeout, *shutdown_timeout, *high_water_read, *high_water_write;
    PyObject *again;         /* sslproto.SSLAgainErrors */
    PyObject *zero;          /* 0 */
    PyObject *fatal_message; /* 'Fatal error on SSL protocol' */
    PyObject *closed_message; /* 'SSL connection is closed' */
    PyObject *pause_failed, *resume_failed;
    PyObject *join; /* b''.join */
    PyTypeObject *ssl_object; /* ssl.SSLObject */
    PyObject *ssl_inner;      /* _ssl._SSLSocket, what an SSLObject wraps */
    PyObject *inner_name;     /* '_sslobj' */
    /* tls_app.c */
    PyObject *ssl_module;        /* ssl: create_default_context, MemoryBIO looked up when called, as asyncio does */
    PyObject *deque;             /* collections.deque */
    PyObject *buffered_protocol; /* asyncio.protocols.BufferedProtocol */
    PyObject *warnings;          /* the warnings module, __del__'s default `_warnings` */
    PyObject *unclosed_message;  /* 'unclosed transport <asyncio._SSLProtocolTransport object>' */
    /* tls_handshake.c: the exceptions the cold paths test for, and which
     * variant of each method the running asyncio's sslproto has (point
     * releases backport fixes, so it is read from asyncio's code at import,
     * not from PY_VERSION_HEX). */
    PyObject *ssl_error;        /* ssl.SSLError */
    PyObject *certificate_error; /* ssl.CertificateError */
    PyObject *cancelled_error;  /* asyncio.exceptions.CancelledError */
    int abort_takes_exc;        /* _abort(self, exc) and _force_close (3.13+); else _abort(self), transport.abort() */
    int bound_timeouts;         /* call_later(..., self._check_*_timeout) (3.13+); else a lambda calling it */
    int has_transport_closing;  /* SSLProtocol._is_transport_closing exists (3.13.x, 3.14+) */
    int keep_shutdown_timeout;  /* _on_shutdown_complete keeps (or starts) the timeout until connection_lost (3.14+) */
    int asserts;                /* __debug__: asyncio's `assert`s run (not python -O) */
    PyObject *protocol_base;      /* sslproto.SSLProtocol */
    PyObject *protocol_originals; /* a copy of its __dict__ at import: what a later patch replaced */
    /* tls310: 1 on 3.10, whose asyncio has the older sslproto (_SSLPipe):
     * the names above are this module's own (3.11's, made in
     * tls_support.c), the variants 3.11's, protocol_base NULL, and the C
     * types follow 3.11's sslproto. */
    int own_names;
};
extern struct PyLoopTlsNames PyLoopTls;

/* Reads PyLoopTls from asyncio's `sslproto` module (3.10: from 3.11's
 * names, made here): 0, or -1 raised. */
int PyLoopTls_InitNames(PyObject *sslproto);

/* What SSLObject.read/write are called on: for an exact ssl.SSLObject the
 * _ssl object it wraps (one Python frame fewer per call), else the object
 * itself. A new reference. PyLoopTls_SslObj: the same for self._sslobj. */
PyObject *PyLoopTls_SslTarget(PyObject *sslobj);
PyObject *PyLoopTls_SslObj(PyObject *self);

/* The attributes each type keeps in C fields: members (T_OBJECT_EX, as a
 * class's __slots__ make) named as asyncio's instance attributes, at the
 * end of the instance, after whatever the asyncio base holds. A program
 * reads and writes them as before (proto._state, del proto._sslobj, an
 * AttributeError for one never set); only the instance's __dict__ no
 * longer lists them. The GC code stays the base's: subtype_traverse,
 * subtype_clear and subtype_dealloc visit and clear a heap type's
 * T_OBJECT_EX members as they do a __slots__ class's.
 * PyLoopTls_ProtocolFields/PyLoopTls_TransportFields: the names,
 * NULL-terminated. */
extern const char *const PyLoopTls_ProtocolFields[];
extern const char *const PyLoopTls_TransportFields[];

/* How many names `fields` lists; the members for them from `offset` on
 * (a PyMem table, NULL-terminated, for PyType_FromSpec, which copies it;
 * NULL raised); and, once `type` is the one the loop keeps, where its
 * instances keep them (the last of its data), for PyLoopTls_Get/Set (0,
 * or -1 raised). */
Py_ssize_t PyLoopTls_CountFields(const char *const *fields);
PyMemberDef *PyLoopTls_FieldMembers(const char *const *fields, Py_ssize_t offset);
int PyLoopTls_RecordFields(PyTypeObject *type, const char *const *fields);

/* self.<name> (a new reference, or NULL raised) and self.<name> = value
 * (NULL: del; 0, or -1 raised): the C field itself when self is one of
 * the types and `name` (interned) one of its fields, else the attribute. */
PyObject *PyLoopTls_Get(PyObject *self, PyObject *name);
int PyLoopTls_Set(PyObject *self, PyObject *name, PyObject *value);

/* self.<name>: bool() of it (1, 0, or -1 raised); set to True/False;
 * += delta; compared with `size` by `op` (Py_GE/Py_LE: 1, 0, or -1). */
int PyLoopTls_AttrTrue(PyObject *self, PyObject *name);
int PyLoopTls_SetBool(PyObject *self, PyObject *name, int value);
int PyLoopTls_AddTo(PyObject *self, PyObject *name, Py_ssize_t delta);
int PyLoopTls_SizeCompare(PyObject *self, PyObject *name, PyObject *size, int op);

/* obj.<name>() / (arg) / (first, second) by vectorcall: new references. */
PyObject *PyLoopTls_Call0(PyObject *obj, PyObject *name);
PyObject *PyLoopTls_Call1(PyObject *obj, PyObject *name, PyObject *arg);
PyObject *PyLoopTls_Call2(PyObject *obj, PyObject *name, PyObject *first, PyObject *second);

/* self.<name>() and self.<owner>.<name>(arg or nothing), the results
 * dropped: 0, or -1 raised. */
int PyLoopTls_CallOwn(PyObject *self, PyObject *name);
int PyLoopTls_CallOf(PyObject *self, PyObject *owner, PyObject *name, PyObject *arg);

/* `except SSLAgainErrors:`: the raised exception is one, cleared, 1; else 0. */
int PyLoopTls_CatchAgain(void);

/* `except Exception as ex: self._fatal_error(ex, message)`: 0 when handled,
 * -1 for a BaseException asyncio lets through (or _fatal_error's own). */
int PyLoopTls_CatchFatal(PyObject *self, PyObject *message);

/* tls_handshake.c's methods of the protocol (the handshake, the shutdown,
 * the state machine, eof, connection_lost, errors). */
extern PyMethodDef PyLoopTls_HandshakeMethods[];

/* A METH_* method's result from a 0 / -1 status: None, or NULL. */
PyObject *PyLoopTls_NoneOrNull(int status);

/* tls_app.c: sslproto.add_flowcontrol_defaults(high, low, kb), NULL or
 * None for an absent limit: *hi, *lo new references, 0; or -1 raised. */
int PyLoopTls_FlowDefaults(PyObject *high, PyObject *low, PyObject *kb, PyObject **hi, PyObject **lo);
/* tls_app.c's method tables: the app transport's, the protocol's setup */
extern PyMethodDef PyLoopTls_AppMethods[];
extern PyMethodDef PyLoopTls_ProtocolSetupMethods[];
/* tls_app.c: the app transport type's properties (_protocol_paused) */
int PyLoopTls_AppAddProperties(PyTypeObject *type);

/* Puts SSLProtocolState, AppProtocolState, SSLAgainErrors and the TLS
 * constants PyLoopTls holds on `module`: 0, or -1 raised. */
int PyLoopTls_AddNames(PyObject *module);

#endif

/*
 * names: what every file of the binding looks up in Python, set up once.
 *
 *   PyLoop_str      the interned attribute and method names, one table
 *                   (PYLOOP_NAMES below): a name the binding calls or sets
 *                   is interned here, once, whichever files use it
 *   PyLoop_asyncio  the asyncio objects two or more files call, imported
 *                   once
 *   helpers         import/intern into a slot, probing asyncio's own code,
 *                   the KeyboardInterrupt/SystemExit test, new-reference-
 *                   or-None, the raised exception as one object
 *
 * It knows nothing of the loop or the transports: it includes only
 * Python.h, and every other file of py/ may include it.
 */
#ifndef PYLOOP_PY_NAMES_H
#define PYLOOP_PY_NAMES_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

/* X(member, "text"): PyLoop_str.member is the interned "text". A member is
 * spelled as its text, but for `__name__` (dunder_name) and `errno`
 * (errno_: a macro of the C library). Sorted by text (ASCII). */
#define PYLOOP_NAMES(X)                                                                                               \
    X(dunder_name, "__name__")                                                                                        \
    X(_HAS_IPv6, "_HAS_IPv6")                                                                                         \
    X(_add_reader, "_add_reader")                                                                                     \
    X(_add_reader_after_connect, "_add_reader_after_connect")                                                         \
    X(_add_writer, "_add_writer")                                                                                     \
    X(_attach, "_attach")                                                                                             \
    X(_call_connection_lost, "_call_connection_lost")                                                                 \
    X(_check_thread, "_check_thread")                                                                                 \
    X(_detach, "_detach")                                                                                             \
    X(_ensure_fd_no_transport, "_ensure_fd_no_transport")                                                             \
    X(_ensure_resolved, "_ensure_resolved")                                                                           \
    X(_fatal_error, "_fatal_error")                                                                                   \
    X(_force_close, "_force_close")                                                                                   \
    X(_read_ready, "_read_ready")                                                                                     \
    X(_remove_reader, "_remove_reader")                                                                               \
    X(_remove_writer, "_remove_writer")                                                                               \
    X(_selector, "_selector")                                                                                         \
    X(_sendto_ready, "_sendto_ready")                                                                                 \
    X(_transports, "_transports")                                                                                     \
    X(_write_ready, "_write_ready")                                                                                   \
    X(accept, "accept")                                                                                               \
    X(add_done_callback, "add_done_callback")                                                                         \
    X(buffer_updated, "buffer_updated")                                                                               \
    X(call_exception_handler, "call_exception_handler")                                                               \
    X(call_soon, "call_soon")                                                                                         \
    X(close, "close")                                                                                                 \
    X(connect, "connect")                                                                                             \
    X(connection_lost, "connection_lost")                                                                             \
    X(connection_made, "connection_made")                                                                             \
    X(context, "context")                                                                                             \
    X(create_future, "create_future")                                                                                 \
    X(data, "data")                                                                                                   \
    X(data_received, "data_received")                                                                                 \
    X(datagram_received, "datagram_received")                                                                         \
    X(debug, "debug")                                                                                                 \
    X(done, "done")                                                                                                   \
    X(eof_received, "eof_received")                                                                                   \
    X(errno_, "errno")                                                                                                \
    X(error_received, "error_received")                                                                               \
    X(exc_info, "exc_info")                                                                                           \
    X(family, "family")                                                                                               \
    X(fileno, "fileno")                                                                                               \
    X(get, "get")                                                                                                     \
    X(get_buffer, "get_buffer")                                                                                       \
    X(get_debug, "get_debug")                                                                                         \
    X(getpeername, "getpeername")                                                                                     \
    X(getsockname, "getsockname")                                                                                     \
    X(getsockopt, "getsockopt")                                                                                       \
    X(gettimeout, "gettimeout")                                                                                       \
    X(is_closed, "is_closed")                                                                                         \
    X(loop, "loop")                                                                                                   \
    X(max_size, "max_size")                                                                                           \
    X(pause_writing, "pause_writing")                                                                                 \
    X(peername, "peername")                                                                                           \
    X(pipe, "pipe")                                                                                                   \
    X(proto, "proto")                                                                                                 \
    X(recv, "recv")                                                                                                   \
    X(recv_into, "recv_into")                                                                                         \
    X(recvfrom, "recvfrom")                                                                                           \
    X(recvfrom_into, "recvfrom_into")                                                                                 \
    X(resume_writing, "resume_writing")                                                                               \
    X(send, "send")                                                                                                   \
    X(sendto, "sendto")                                                                                               \
    X(set_exception, "set_exception")                                                                                 \
    X(set_result, "set_result")                                                                                       \
    X(setblocking, "setblocking")                                                                                     \
    X(slow_callback_duration, "slow_callback_duration")                                                               \
    X(socket, "socket")                                                                                               \
    X(sockname, "sockname")                                                                                           \
    X(throw, "throw")                                                                                                 \
    X(time, "time")                                                                                                   \
    X(type, "type")                                                                                                   \
    X(warning, "warning")                                                                                             \
    X(_app_protocol, "_app_protocol")                                                                                 \
    X(_app_protocol_buffer_updated, "_app_protocol_buffer_updated")                                                   \
    X(_app_protocol_get_buffer, "_app_protocol_get_buffer")                                                           \
    X(_app_protocol_is_buffer, "_app_protocol_is_buffer")                                                             \
    X(_app_reading_paused, "_app_reading_paused")                                                                     \
    X(_app_transport, "_app_transport")                                                                               \
    X(_app_transport_created, "_app_transport_created")                                                               \
    X(_app_writing_paused, "_app_writing_paused")                                                                     \
    X(_call_eof_received, "_call_eof_received")                                                                       \
    X(_conn_lost, "_conn_lost")                                                                                       \
    X(_do_flush, "_do_flush")                                                                                         \
    X(_do_handshake, "_do_handshake")                                                                                 \
    X(_do_read, "_do_read")                                                                                           \
    X(_do_shutdown, "_do_shutdown")                                                                                   \
    X(_incoming, "_incoming")                                                                                         \
    X(_incoming_high_water, "_incoming_high_water")                                                                   \
    X(_incoming_low_water, "_incoming_low_water")                                                                     \
    X(_loop, "_loop")                                                                                                 \
    X(_outgoing, "_outgoing")                                                                                         \
    X(_outgoing_high_water, "_outgoing_high_water")                                                                   \
    X(_outgoing_low_water, "_outgoing_low_water")                                                                     \
    X(_ssl_buffer, "_ssl_buffer")                                                                                     \
    X(_ssl_buffer_view, "_ssl_buffer_view")                                                                           \
    X(_ssl_protocol, "_ssl_protocol")                                                                                 \
    X(_ssl_reading_paused, "_ssl_reading_paused")                                                                     \
    X(_ssl_writing_paused, "_ssl_writing_paused")                                                                     \
    X(_sslobj, "_sslobj")                                                                                             \
    X(_start_shutdown, "_start_shutdown")                                                                             \
    X(_state, "_state")                                                                                               \
    X(_transport, "_transport")                                                                                       \
    X(_write_appdata, "_write_appdata")                                                                               \
    X(_write_backlog, "_write_backlog")                                                                               \
    X(_write_buffer_size, "_write_buffer_size")                                                                       \
    X(append, "append")                                                                                               \
    X(exception, "exception")                                                                                         \
    X(message, "message")                                                                                             \
    X(pause_reading, "pause_reading")                                                                                 \
    X(pending, "pending")                                                                                             \
    X(protocol, "protocol")                                                                                           \
    X(read, "read")                                                                                                   \
    X(resume_reading, "resume_reading")                                                                               \
    X(transport, "transport")                                                                                         \
    X(write, "write")                                                                                                 \
    X(MemoryBIO, "MemoryBIO")                                                                                         \
    X(_abort, "_abort")                                                                                               \
    X(_closed, "_closed")                                                                                             \
    X(_control_app_writing, "_control_app_writing")                                                                   \
    X(_control_ssl_reading, "_control_ssl_reading")                                                                   \
    X(_eof_received, "_eof_received")                                                                                 \
    X(_extra, "_extra")                                                                                               \
    X(_get_app_transport, "_get_app_transport")                                                                       \
    X(_get_extra_info, "_get_extra_info")                                                                             \
    X(_get_read_buffer_size, "_get_read_buffer_size")                                                                 \
    X(_get_write_buffer_size, "_get_write_buffer_size")                                                               \
    X(_is_transport_closing, "_is_transport_closing")                                                                 \
    X(_pause_reading, "_pause_reading")                                                                               \
    X(_resume_reading, "_resume_reading")                                                                             \
    X(_server_hostname, "_server_hostname")                                                                           \
    X(_server_side, "_server_side")                                                                                   \
    X(_set_app_protocol, "_set_app_protocol")                                                                         \
    X(_set_read_buffer_limits, "_set_read_buffer_limits")                                                             \
    X(_set_write_buffer_limits, "_set_write_buffer_limits")                                                           \
    X(_ssl_handshake_timeout, "_ssl_handshake_timeout")                                                               \
    X(_ssl_shutdown_timeout, "_ssl_shutdown_timeout")                                                                 \
    X(_sslcontext, "_sslcontext")                                                                                     \
    X(_waiter, "_waiter")                                                                                             \
    X(_app_state, "_app_state")                                                                                       \
    X(check_hostname, "check_hostname")                                                                               \
    X(create_default_context, "create_default_context")                                                               \
    X(server_hostname, "server_hostname")                                                                             \
    X(server_side, "server_side")                                                                                     \
    X(sslcontext, "sslcontext")                                                                                       \
    X(warn, "warn")                                                                                                   \
    X(wrap_bio, "wrap_bio")                                                                                           \
    X(_set_state, "_set_state")                                                                                       \
    X(_start_handshake, "_start_handshake")                                                                           \
    X(_handshake_start_time, "_handshake_start_time")                                                                 \
    X(_handshake_timeout_handle, "_handshake_timeout_handle")                                                         \
    X(_check_handshake_timeout, "_check_handshake_timeout")                                                           \
    X(do_handshake, "do_handshake")                                                                                   \
    X(_on_handshake_complete, "_on_handshake_complete")                                                               \
    X(getpeercert, "getpeercert")                                                                                     \
    X(cipher, "cipher")                                                                                               \
    X(compression, "compression")                                                                                     \
    X(ssl_object, "ssl_object")                                                                                       \
    X(peercert, "peercert")                                                                                           \
    X(update, "update")                                                                                               \
    X(_wakeup_waiter, "_wakeup_waiter")                                                                               \
    X(cancelled, "cancelled")                                                                                         \
    X(abort, "abort")                                                                                                 \
    X(_shutdown_timeout_handle, "_shutdown_timeout_handle")                                                           \
    X(_check_shutdown_timeout, "_check_shutdown_timeout")                                                             \
    X(call_later, "call_later")                                                                                       \
    X(cancel, "cancel")                                                                                               \
    X(unwrap, "unwrap")                                                                                               \
    X(_process_outgoing, "_process_outgoing")                                                                         \
    X(get_extra_info, "get_extra_info")                                                                               \
    X(is_closing, "is_closing")                                                                                       \
    X(clear, "clear")                                                                                                 \
    X(_on_shutdown_complete, "_on_shutdown_complete")                                                                 \
    X(_do_write, "_do_write")

#define PYLOOP_NAME_MEMBER(member, text) PyObject *member;
typedef struct PyLoop_str_t {
    PYLOOP_NAMES(PYLOOP_NAME_MEMBER)
} PyLoop_str_t;
#undef PYLOOP_NAME_MEMBER
extern PyLoop_str_t PyLoop_str;

/* asyncio's objects that two or more files of the binding call. */
typedef struct PyLoop_asyncio_t {
    PyObject *logger;                      /* asyncio.log.logger */
    PyObject *format_callback_source;      /* asyncio.format_helpers._format_callback_source */
    PyObject *extract_stack;               /* asyncio.format_helpers.extract_stack */
    PyObject *format_handle;               /* asyncio.base_events._format_handle */
    PyObject *iscoroutinefunction;         /* asyncio.coroutines.(_)iscoroutinefunction */
    PyObject *flow_control_mixin;          /* asyncio.transports._FlowControlMixin */
    PyObject *transport_socket;            /* asyncio.trsock.TransportSocket */
    PyObject *set_result_unless_cancelled; /* asyncio.futures._set_result_unless_cancelled */
    Py_ssize_t connlost_threshold;         /* asyncio.constants.LOG_THRESHOLD_FOR_CONNLOST_WRITES */
} PyLoop_asyncio_t;
extern PyLoop_asyncio_t PyLoop_asyncio;

/* Sets up PyLoop_str and PyLoop_asyncio: the first part the module adds.
 * 0, or -1 with an exception. */
int PyLoopNames_Add(PyObject *module);

/* *slot = module_name.attribute (a new reference), or the interned string;
 * 0, or -1 with an exception. For what one file alone uses. */
int PyLoop_ImportInto(PyObject **slot, const char *module_name, const char *attribute);
int PyLoop_InternInto(PyObject **slot, const char *text);

/* Runs `source` (asking asyncio's own code how it behaves, with stand-ins)
 * in fresh globals and returns its `result` (a new reference), or NULL with
 * an exception set ("could not probe <what>" when it set none). ProbeFlag:
 * the truth of that result, 1 or 0, or -1. */
PyObject *PyLoop_Probe(const char *source, const char *what);
int PyLoop_ProbeFlag(const char *source, const char *what);

/* The raised exception is KeyboardInterrupt or SystemExit: asyncio lets
 * those through every handler and transport, and PyLoop ends the run with
 * them. */
static inline int PyLoop_IsFatalToRun(void)
{
    return PyErr_ExceptionMatches(PyExc_KeyboardInterrupt) || PyErr_ExceptionMatches(PyExc_SystemExit);
}

/* The raised exception is BlockingIOError or InterruptedError: the socket
 * call would block, and asyncio tries again when the fd is ready. It only
 * tests: the caller clears the exception (PyErr_Clear) when it drops it. */
static inline int PyLoop_WouldBlock(void)
{
    return PyErr_ExceptionMatches(PyExc_BlockingIOError) || PyErr_ExceptionMatches(PyExc_InterruptedError);
}

/* type(object).__name__, as asyncio's messages and reprs show it: tp_name
 * after its last dot (a static type's tp_name holds its module). */
static inline const char *PyLoop_TypeName(PyObject *object)
{
    const char *name = Py_TYPE(object)->tp_name, *dot = strrchr(name, '.');
    return dot ? dot + 1 : name;
}

/* A new reference to `object`, or to None for NULL: what a getter of an
 * attribute asyncio sets to None returns. */
static inline PyObject *PyLoop_NewRefOrNone(PyObject *object)
{
    object = object ? object : Py_None;
    Py_INCREF(object);
    return object;
}

/* target.<name>(first, second) (NULL ends the arguments; target NULL reads
 * as None, whose missing method raises AttributeError as asyncio's would). */
static inline PyObject *PyLoop_CallMethod(PyObject *target, PyObject *name, PyObject *first, PyObject *second)
{
    PyObject *args[3] = {target ? target : Py_None, first, second};
    size_t count = first ? (second ? 3 : 2) : 1;
    return PyObject_VectorcallMethod(name, args, count | PY_VECTORCALL_ARGUMENTS_OFFSET, NULL);
}

/* The raised exception as one object, on every supported version. */
static inline PyObject *PyLoop_FetchException(void)
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
static inline void PyLoop_RestoreException(PyObject *exception)
{
#if PY_VERSION_HEX >= 0x030C0000
    PyErr_SetRaisedException(exception);
#else
    PyObject *type = (PyObject *)Py_TYPE(exception);
    Py_INCREF(type);
    PyErr_Restore(type, exception, PyException_GetTraceback(exception));
#endif
}

#endif

/*
 * socket_support: what the socket transport asks of its socket and of the
 * running asyncio, apart from the transport itself: whether CPython's
 * socket object shows its fd where PyLoopSocketHead says (the fd check of
 * every system call), base_events._set_nodelay, and the rules asyncio's
 * bug-fix releases changed after connection_lost (pyloop_module.h).
 */
#include "pyloop_module.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

PyLoopSocketRules PyLoopSocket_rules;

/* base_events._set_nodelay, exactly: TCP_NODELAY only for a socket object
 * whose family is AF_INET/AF_INET6, type SOCK_STREAM and proto IPPROTO_TCP
 * (read in that order, each only if the one before matched). A socket made
 * with proto 0 (socket.socket(), and what accept() returns from such a
 * listener) keeps Nagle on, as on asyncio: the option is something a
 * program can read back. -1 with an exception set, where asyncio raises. */
int PyLoopSocket_SetNodelay(PyObject *sock, int fd)
{
    static const char *const names[] = {"family", "type", "proto"};
    int i, one = 1;

    for (i = 0; i < 3; i++) {
        PyObject *value = PyObject_GetAttrString(sock, names[i]);
        long number;
        int match;

        if (!value)
            return -1;
        number = PyLong_Check(value) ? PyLong_AsLong(value) : -1;
        Py_DECREF(value);
        if (number == -1 && PyErr_Occurred())
            PyErr_Clear(); /* too large: matches nothing */
        match = i == 0 ? number == AF_INET || number == AF_INET6 : number == (i == 1 ? SOCK_STREAM : IPPROTO_TCP);
        if (!match)
            return 0;
    }
    if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0) {
        PyErr_SetFromErrno(PyExc_OSError);
        return -1;
    }
    return 0;
}

/* PyLoopSocket_rules.socket_type = _socket.socket once a real socket shows
 * its fd where PyLoopSocketHead says, and -1 there after close(); otherwise
 * NULL, and the transports trust their fd as before. */
static int load_socket_type(void)
{
    PyObject *type = NULL, *probe = NULL, *number = NULL, *closed = NULL;
    int rc = -1, fd;

    if (PyLoop_ImportInto(&type, "_socket", "socket") < 0)
        return -1;
    if (!PyType_Check(type) || ((PyTypeObject *)type)->tp_basicsize < (Py_ssize_t)sizeof(PyLoopSocketHead)) {
        rc = 0;
        goto done;
    }
    probe = PyObject_CallFunction(type, "ii", AF_UNIX, SOCK_STREAM);
    number = probe ? PyObject_CallMethod(probe, "fileno", NULL) : NULL;
    if (!number)
        goto done;
    fd = ((PyLoopSocketHead *)probe)->sock_fd;
    if (!(closed = PyObject_CallMethod(probe, "close", NULL)))
        goto done;
    if (fd >= 0 && PyLong_AsLong(number) == fd && ((PyLoopSocketHead *)probe)->sock_fd == -1) {
        Py_INCREF(type);
        PyLoopSocket_rules.socket_type = (PyTypeObject *)type;
    }
    rc = PyErr_Occurred() ? -1 : 0;
done:
    Py_XDECREF(closed);
    Py_XDECREF(number);
    Py_XDECREF(probe);
    Py_XDECREF(type);
    return rc;
}

/* What asyncio's transport does with calls after connection_lost, which its
 * bug-fix releases changed (3.13.x, 3.14.x): writelines() once _conn_lost
 * counts and drops as write() does (before: it buffered and called the
 * _write_ready that _call_connection_lost set to None, a TypeError), and
 * the close after a drain sets _conn_lost before it calls connection_lost
 * (gh-156512; before: _conn_lost stayed 0, and a later write() or abort()
 * reached _loop None, an AttributeError); 3.12.0-3.13.0's close() sets
 * _write_ready to None, so writelines() after close() buffers its items and
 * raises TypeError (3.13.x: _call_connection_lost does it instead). Asked of asyncio's own methods on
 * a stand-in transport, as accept.c asks asyncio's accept loop. */
static const char lost_probe_source[] =
    "import collections\n"
    "from asyncio import selector_events\n"
    "cls = selector_events._SelectorSocketTransport\n"
    "class Sock:\n"
    "    def send(self, data):\n"
    "        return len(data)\n"
    "class Loop:\n"
    "    def _remove_writer(self, fd):\n"
    "        pass\n"
    "def stand_in(conn_lost, buffer):\n"
    "    t = object.__new__(cls)\n"
    "    t._sock, t._sock_fd, t._loop, t._buffer, t._buffer_size = None, -1, Loop(), buffer, len(buffer)\n"
    "    t._conn_lost, t._closing, t._eof, t._empty_waiter = conn_lost, True, False, None\n"
    "    t._maybe_resume_protocol = lambda: None\n"
    "    return t\n"
    "t = stand_in(1, collections.deque())\n"
    "try:\n"
    "    t.writelines([b'x'])\n"
    "    writelines_counts = t._conn_lost == 2\n"
    "except (TypeError, AttributeError):\n"
    "    writelines_counts = False\n"
    "write_send = getattr(cls, '_write_send', None)\n"
    "t = stand_in(0, collections.deque([memoryview(b'x')]) if write_send else bytearray(b'x'))\n"
    "lost = []\n"
    "t._call_connection_lost = lambda exc: lost.append(t._conn_lost)\n"
    "t._sock = Sock()\n"
    "try:\n"
    "    (write_send or cls._write_ready)(t)\n"
    "finally:\n"
    "    t._sock = None\n"
    "drain_counts = lost == [1]\n"
    "t = stand_in(0, collections.deque())\n"
    "t._write_ready = t._read_ready_cb = 1\n"
    "cls.close(t)\n"
    "close_clears = t._write_ready is None\n"
    "result = (writelines_counts, drain_counts, close_clears)\n";

static int probe_lost_rules(void)
{
    PyObject *rules = PyLoop_Probe(lost_probe_source, "asyncio's transport after connection_lost");
    int writelines, drain, close_clears, ok = rules && PyArg_ParseTuple(rules, "ppp", &writelines, &drain, &close_clears);

    Py_XDECREF(rules);
    if (!ok)
        return -1;
    PyLoopSocket_rules.writelines_counts_lost = writelines;
    PyLoopSocket_rules.drain_counts_lost = drain;
    PyLoopSocket_rules.close_clears_write_ready = close_clears;
    return 0;
}

int PyLoopSocket_Load(void) { return load_socket_type() < 0 || probe_lost_rules() < 0 ? -1 : 0; }

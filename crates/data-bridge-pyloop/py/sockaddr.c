/*
 * sockaddr: socket addresses between Python and C (sockaddr.h).
 */
#include "sockaddr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/un.h>

/* ---- C to Python ---- */

static PyObject *make_inet(const struct sockaddr_in *in)
{
    char host[INET_ADDRSTRLEN];
    PyObject *name, *port, *tuple;

    if (!inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host)))
        return PyErr_SetFromErrno(PyExc_OSError);
    name = PyUnicode_FromString(host);
    port = name ? PyLong_FromLong(ntohs(in->sin_port)) : NULL;
    tuple = port ? PyTuple_New(2) : NULL;
    if (!tuple) {
        Py_XDECREF(name);
        Py_XDECREF(port);
        return NULL;
    }
    PyTuple_SET_ITEM(tuple, 0, name);
    PyTuple_SET_ITEM(tuple, 1, port);
    return tuple;
}

static PyObject *make_inet6(const struct sockaddr_in6 *in6)
{
    char host[INET6_ADDRSTRLEN];
    PyObject *name, *tuple;

    if (!inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host)))
        return PyErr_SetFromErrno(PyExc_OSError);
    name = PyUnicode_FromString(host);
    if (!name)
        return NULL;
    tuple = Py_BuildValue("OiII", name, ntohs(in6->sin6_port), (unsigned int)ntohl(in6->sin6_flowinfo),
                          (unsigned int)in6->sin6_scope_id);
    Py_DECREF(name);
    return tuple;
}

static PyObject *make_unix(const struct sockaddr_un *un, socklen_t length)
{
#ifdef __linux__
    /* an abstract name: bytes, exactly its length */
    if (length > offsetof(struct sockaddr_un, sun_path) && un->sun_path[0] == 0)
        return PyBytes_FromStringAndSize(un->sun_path,
                                         (Py_ssize_t)(length - offsetof(struct sockaddr_un, sun_path)));
#else
    (void)length;
#endif
    return PyUnicode_DecodeFSDefault(un->sun_path); /* the storage was zeroed: it ends */
}

PyObject *PyLoopSockaddr_Make(const struct sockaddr_storage *address, socklen_t length)
{
    const struct sockaddr *other = (const struct sockaddr *)address;

    if (length == 0)
        Py_RETURN_NONE;
    switch (address->ss_family) {
    case AF_INET:
        return make_inet((const struct sockaddr_in *)address);
    case AF_INET6:
        return make_inet6((const struct sockaddr_in6 *)address);
    case AF_UNIX:
        return make_unix((const struct sockaddr_un *)address, length);
    default:
        return Py_BuildValue("iy#", other->sa_family, other->sa_data, (Py_ssize_t)sizeof(other->sa_data));
    }
}

/* ---- Python to C ---- */

/* An int in [low, high] given as an exact int. */
static int small_int(PyObject *object, long low, long high, long *value)
{
    if (!PyLong_CheckExact(object))
        return 0;
    *value = PyLong_AsLong(object);
    if (*value == -1 && PyErr_Occurred()) {
        PyErr_Clear();
        return 0;
    }
    return *value >= low && *value <= high;
}

/* A host the socket module would take as it is: ASCII, no NUL, numeric
 * for the family (no name resolution, no "<broadcast>", no "%scope"). */
static int numeric_host(PyObject *host, int family, void *binary)
{
    const char *text;
    Py_ssize_t length;

    if (!PyUnicode_CheckExact(host) || !PyUnicode_IS_ASCII(host))
        return 0;
    text = (const char *)PyUnicode_DATA(host);
    length = PyUnicode_GET_LENGTH(host);
    if (length == 0 || (Py_ssize_t)strlen(text) != length || (family == AF_INET6 && strchr(text, '%')))
        return 0;
    return inet_pton(family, text, binary) == 1;
}

/* (host, port) */
static int parse_inet(PyObject *addr, struct sockaddr_in *in, socklen_t *length)
{
    long port;

    if (!PyTuple_CheckExact(addr) || PyTuple_GET_SIZE(addr) != 2
        || !small_int(PyTuple_GET_ITEM(addr, 1), 0, 65535, &port)
        || !numeric_host(PyTuple_GET_ITEM(addr, 0), AF_INET, &in->sin_addr))
        return 0;
    in->sin_family = AF_INET;
    in->sin_port = htons((uint16_t)port);
    *length = sizeof(*in);
    return 1;
}

/* (host, port[, flowinfo[, scope_id]]) */
static int parse_inet6(PyObject *addr, struct sockaddr_in6 *in6, socklen_t *length)
{
    Py_ssize_t size;
    long port, flowinfo = 0, scope_id = 0;

    if (!PyTuple_CheckExact(addr) || (size = PyTuple_GET_SIZE(addr)) < 2 || size > 4
        || !small_int(PyTuple_GET_ITEM(addr, 1), 0, 65535, &port)
        || (size > 2 && !small_int(PyTuple_GET_ITEM(addr, 2), 0, 0xfffff, &flowinfo))
        || (size > 3 && !small_int(PyTuple_GET_ITEM(addr, 3), 0, 0x7fffffff, &scope_id))
        || !numeric_host(PyTuple_GET_ITEM(addr, 0), AF_INET6, &in6->sin6_addr))
        return 0;
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons((uint16_t)port);
    in6->sin6_flowinfo = htonl((uint32_t)flowinfo);
    in6->sin6_scope_id = (uint32_t)scope_id;
    *length = sizeof(*in6);
    return 1;
}

/* A path: str (encoded as the file system encodes it) or bytes. */
static int parse_unix(PyObject *addr, struct sockaddr_un *un, socklen_t *length)
{
    PyObject *path;
    Py_ssize_t size;
    int ok = 0;

    if (PyUnicode_CheckExact(addr)) {
        path = PyUnicode_EncodeFSDefault(addr);
        if (!path) {
            PyErr_Clear();
            return 0;
        }
    } else if (PyBytes_CheckExact(addr)) {
        Py_INCREF(addr);
        path = addr;
    } else {
        return 0;
    }
    size = PyBytes_GET_SIZE(path);
    /* A path (NUL-terminated) or a Linux abstract name (exactly its
     * length); the empty address (auto-bind) is left to the socket. */
    if (size > 0 && (size_t)size < sizeof(un->sun_path)) {
        const char *bytes = PyBytes_AS_STRING(path);
        un->sun_family = AF_UNIX;
        memcpy(un->sun_path, bytes, (size_t)size);
        *length = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + (size_t)size + (bytes[0] != 0));
        ok = 1;
    }
    Py_DECREF(path);
    return ok;
}

int PyLoopSockaddr_Parse(int family, PyObject *addr, struct sockaddr_storage *address, socklen_t *length)
{
    memset(address, 0, sizeof(*address));
    switch (family) {
    case AF_INET:
        return parse_inet(addr, (struct sockaddr_in *)address, length);
    case AF_INET6:
        return parse_inet6(addr, (struct sockaddr_in6 *)address, length);
    case AF_UNIX:
        return parse_unix(addr, (struct sockaddr_un *)address, length);
    default:
        return 0;
    }
}

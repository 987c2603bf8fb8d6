/*
 * datagram_socket: the datagram transport's socket calls
 * (datagram_socket.h).
 */
#include "datagram_socket.h"

#include "sockaddr.h"
#include "transport_base.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>

/* The socket's fd now (-1 once it is closed, as the socket module says). */
static int current_fd(PyObject *sock, int *fd)
{
    PyObject *number = PyObject_CallMethodNoArgs(sock, PyLoop_str.fileno);
    long value;

    if (!number)
        return -1;
    value = PyLong_AsLong(number);
    Py_DECREF(number);
    if (value == -1 && PyErr_Occurred())
        return -1;
    *fd = (int)value;
    return 0;
}

/* `data, addr = pair` for what is not a 2-tuple: Python's unpacking, its
 * errors included. Steals pair. */
static int unpack_pair(PyObject *pair, PyObject **data, PyObject **addr)
{
    PyObject *iterator = PyObject_GetIter(pair), *items[3] = {NULL, NULL, NULL};
    int i;

    if (!iterator) {
        if (PyErr_ExceptionMatches(PyExc_TypeError)) {
            PyErr_Clear();
            PyErr_Format(PyExc_TypeError, "cannot unpack non-iterable %.200s object", Py_TYPE(pair)->tp_name);
        }
        Py_DECREF(pair);
        return -1;
    }
    Py_DECREF(pair);
    for (i = 0; i < 3; i++) {
        items[i] = PyIter_Next(iterator);
        if (!items[i])
            break;
    }
    Py_DECREF(iterator);
    if (PyErr_Occurred() || i != 2) {
        if (!PyErr_Occurred()) {
            if (i < 2)
                PyErr_Format(PyExc_ValueError, "not enough values to unpack (expected 2, got %d)", i);
            else
                PyErr_SetString(PyExc_ValueError, "too many values to unpack (expected 2)");
        }
        for (i = 0; i < 3; i++)
            Py_XDECREF(items[i]);
        return -1;
    }
    *data = items[0];
    *addr = items[1];
    return 1;
}

int PyLoopDatagramSocket_ReceiveBy(PyObject *sock, PyObject *size, PyObject **data, PyObject **addr)
{
    PyObject *pair = PyLoop_CallMethod(sock, PyLoop_str.recvfrom, size, NULL);

    if (!pair)
        return -1;
    if (PyTuple_CheckExact(pair) && PyTuple_GET_SIZE(pair) == 2) {
        *data = PyTuple_GET_ITEM(pair, 0);
        *addr = PyTuple_GET_ITEM(pair, 1);
        Py_INCREF(*data);
        Py_INCREF(*addr);
        Py_DECREF(pair);
        return 1;
    }
    return unpack_pair(pair, data, addr);
}

/* Into the process's one read buffer (the base's, shared with the stream
 * transports: filled and copied out at the datagram's size with the GIL
 * held, no Python code in between). */
int PyLoopDatagramSocket_ReceiveDirect(PyObject *sock, int family, PyObject **data, PyObject **addr)
{
    struct sockaddr_storage address;
    size_t size;
    char *buffer = PyLoopTransport_SharedReadBuffer(&size); /* PYLOOP_MAX_SIZE_DEFAULT */
    socklen_t length;
    ssize_t count;
    int fd;

    if (current_fd(sock, &fd) < 0)
        return -1;
    for (;;) {
        length = sizeof(address);
        if (family == AF_UNIX)
            memset(&address, 0, sizeof(address));
        count = recvfrom(fd, buffer, size, 0, (struct sockaddr *)&address, &length);
        if (count >= 0)
            break;
        if (errno == EINTR) {
            if (PyErr_CheckSignals() < 0)
                return -1;
            continue;
        }
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return 0;
        PyErr_SetFromErrno(PyExc_OSError);
        return -1;
    }
    if (!(*data = PyBytes_FromStringAndSize(buffer, count)))
        return -1;
    if (!(*addr = PyLoopSockaddr_Make(&address, length))) {
        Py_CLEAR(*data);
        return -1;
    }
    return 1;
}

/* send(2)/sendto(2) of a contiguous buffer: 1 sent, 0 EAGAIN, -1 raised,
 * 2 when the socket's method should do it (a buffer that is not C
 * contiguous). */
static int send_view(PyObject *sock, Py_buffer *view, PyObject *addr, const struct sockaddr_storage *address,
                     socklen_t length)
{
    ssize_t sent;
    int fd;

    if (!PyBuffer_IsContiguous(view, 'C'))
        return 2;
    if ((addr && PySys_Audit("socket.sendto", "OO", sock, addr) < 0) || current_fd(sock, &fd) < 0)
        return -1;
    for (;;) {
        sent = !addr ? send(fd, view->buf, (size_t)view->len, 0)
                     : sendto(fd, view->buf, (size_t)view->len, 0, (const struct sockaddr *)address, length);
        if (sent >= 0 || errno != EINTR)
            break;
        if (PyErr_CheckSignals() < 0)
            return -1;
    }
    if (sent >= 0)
        return 1;
    if (errno == EAGAIN || errno == EWOULDBLOCK)
        return 0;
    PyErr_SetFromErrno(PyExc_OSError);
    return -1;
}

int PyLoopDatagramSocket_Send(PyObject *sock, int family, PyObject *data, PyObject *addr, int connected)
{
    PyObject *result;

    if (family && sock) {
        struct sockaddr_storage address;
        socklen_t length = 0;
        Py_buffer view;

        if ((connected || PyLoopSockaddr_Parse(family, addr, &address, &length))
            && PyObject_GetBuffer(data, &view, PyBUF_SIMPLE) == 0) {
            int rc = send_view(sock, &view, connected ? NULL : addr, &address, length);
            PyBuffer_Release(&view);
            if (rc != 2)
                return rc;
        }
        PyErr_Clear(); /* the socket's method raises what it has to */
    }
    result = connected ? PyLoop_CallMethod(sock, PyLoop_str.send, data, NULL)
                       : PyLoop_CallMethod(sock, PyLoop_str.sendto, data, addr);
    if (result) {
        Py_DECREF(result);
        return 1;
    }
    if (PyLoop_WouldBlock()) {
        PyErr_Clear();
        return 0;
    }
    return -1;
}

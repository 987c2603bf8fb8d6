/*
 * datagram_socket: the datagram transport's socket calls, recvfrom and
 * send/sendto, as asyncio's _SelectorDatagramTransport makes them
 * (self._sock.recvfrom(self.max_size), self._sock.send(data),
 * self._sock.sendto(data, addr)). For a plain socket of a known family
 * (the caller decides: `family` nonzero) the system call is made here, into
 * the base's shared read buffer and with the address converted by
 * sockaddr.c; anything else goes through the socket object's own method,
 * so its errors stay the socket module's.
 *
 * `sock` NULL reads as None (a transport whose socket is gone): its
 * methods raise AttributeError on None, as asyncio's do.
 */
#ifndef PYLOOP_PY_DATAGRAM_SOCKET_H
#define PYLOOP_PY_DATAGRAM_SOCKET_H

#include "names.h"

/* data, addr = sock.recvfrom(size), through the socket object: 1 with two
 * new references, -1 raised (what recvfrom raised, or the unpacking's
 * TypeError/ValueError as Python words them). */
int PyLoopDatagramSocket_ReceiveBy(PyObject *sock, PyObject *size, PyObject **data, PyObject **addr);

/* recvfrom(2) of one datagram of up to PYLOOP_MAX_SIZE_DEFAULT bytes on
 * sock.fileno() (asked now, so a closed socket fails with EBADF): 1 with
 * data and addr, 0 on EAGAIN (asyncio drops BlockingIOError), -1 raised. */
int PyLoopDatagramSocket_ReceiveDirect(PyObject *sock, int family, PyObject **data, PyObject **addr);

/* sock.send(data) when connected, else sock.sendto(data, addr), by the
 * system call when `family` is nonzero and the address and buffer are ones
 * the socket module takes as they are: 1 sent, 0 the kernel would block
 * (BlockingIOError/InterruptedError, cleared), -1 raised. */
int PyLoopDatagramSocket_Send(PyObject *sock, int family, PyObject *data, PyObject *addr, int connected);

#endif

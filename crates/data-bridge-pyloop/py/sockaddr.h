/*
 * sockaddr: socket addresses between Python and C, as the socket module
 * converts them (socketmodule.c's makesockaddr() and getsockaddrarg()), for
 * the families the binding makes its own system calls for: AF_INET,
 * AF_INET6 and AF_UNIX. Parsing takes only what the socket module would
 * take without a name lookup and without an error, and says 0 for anything
 * else, so the caller hands that to the socket object's own method and the
 * errors stay the socket module's. Includes Python.h and system headers
 * only.
 */
#ifndef PYLOOP_PY_SOCKADDR_H
#define PYLOOP_PY_SOCKADDR_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <sys/socket.h>

/* The socket module's makesockaddr() for what recvfrom(2)/accept(2) filled
 * in: (host, port), (host, port, flowinfo, scope_id), a path (str, or bytes
 * for a Linux abstract name), None for an empty address, (family, bytes)
 * for another family. A new reference, or NULL with an exception. */
PyObject *PyLoopSockaddr_Make(const struct sockaddr_storage *address, socklen_t length);

/* The socket module's getsockaddrarg() for the addresses of `family` it
 * would take as they are: 1 with *address and *length filled in, 0 when
 * the socket's own method should see `addr` (a host name, "<broadcast>", a
 * "%scope", an out-of-range port, an odd type...). Raises nothing. */
int PyLoopSockaddr_Parse(int family, PyObject *addr, struct sockaddr_storage *address, socklen_t *length);

#endif

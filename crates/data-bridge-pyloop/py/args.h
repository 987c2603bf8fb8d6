/*
 * args: binding a vectorcall's arguments to a Python method's parameters,
 * with the TypeError texts CPython gives for a Python function of that
 * signature ("BaseSelectorEventLoop.sock_recv() missing 1 required
 * positional argument: 'n'"). Every public method of the binding that
 * asyncio defines in Python binds its arguments here, so a misuse reads as
 * it reads on asyncio. Includes only Python.h.
 */
#ifndef PYLOOP_PY_ARGS_H
#define PYLOOP_PY_ARGS_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#define PYLOOP_MAX_PARAMS 9

/* A PyMethodDef's function and flags for a method that binds here. */
#define PYLOOP_FASTCALL_KW(function) (PyCFunction)(void (*)(void))(function), METH_FASTCALL | METH_KEYWORDS

/* A method table entry for a public method without parameters, whose text
 * signature makes inspect.signature() read "()" as for asyncio's. */
#define PYLOOP_NOARGS_METHOD(name, function, doc)                                                                   \
    {#name, (function), METH_NOARGS, #name "($self, /)\n--\n\n" doc}

/* The parameters after self: names[0..total), the first `required` of them
 * without a default. `qualname` is how CPython names the function in its
 * errors (3.10+: the qualified name, "_SelectorTransport.get_extra_info"). */
typedef struct PyLoopParams {
    const char *qualname;
    const char *names[PYLOOP_MAX_PARAMS];
    int required, total;
} PyLoopParams;

/* bound[0..total) gets the arguments, borrowed, NULL for an optional one
 * not given; bound has PYLOOP_MAX_PARAMS slots, the rest set to NULL. 0, or -1 with Python's TypeError for that signature. */
int PyLoopArgs_Bind(const PyLoopParams *params, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames,
                    PyObject **bound);

/* The pieces of PyLoopArgs_Bind, for a binder of its own (call_soon's
 * `callback, *args, context=None`): the index in params of keyword `name`,
 * or -1 with the error (unexpected; multiple values: among the first nargs
 * positionals, or bound already); 0 if every required one is in bound,
 * else -1 with the "missing" error. */
int PyLoopArgs_KeywordIndex(const PyLoopParams *params, PyObject *name, Py_ssize_t nargs, PyObject *const *bound);
int PyLoopArgs_CheckMissing(const PyLoopParams *params, PyObject *const *bound);

#endif

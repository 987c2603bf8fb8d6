/*
 * args: a Python function's argument binding and its errors (args.h).
 */
#include "args.h"

/* "'a'", "'a' and 'b'", "'a', 'b', and 'c'", as CPython's format_missing. */
static PyObject *missing_names(const char *names[], int count)
{
    PyObject *list = PyUnicode_FromFormat("'%s'", names[0]);
    int i;

    for (i = 1; list && i < count; i++) {
        const char *separator = i < count - 1 ? ", " : count > 2 ? ", and " : " and ";
        Py_SETREF(list, PyUnicode_FromFormat("%U%s'%s'", list, separator, names[i]));
    }
    return list;
}

int PyLoopArgs_KeywordIndex(const PyLoopParams *params, PyObject *name, Py_ssize_t nargs, PyObject *const *bound)
{
    int j;

    for (j = 0; j < params->total; j++)
        if (PyUnicode_CompareWithASCIIString(name, params->names[j]) == 0)
            break;
    if (j == params->total) {
        PyErr_Format(PyExc_TypeError, "%s() got an unexpected keyword argument '%U'", params->qualname, name);
        return -1;
    }
    if (bound[j] || j < nargs) {
        PyErr_Format(PyExc_TypeError, "%s() got multiple values for argument '%s'", params->qualname,
                     params->names[j]);
        return -1;
    }
    return j;
}

static int bind_keywords(const PyLoopParams *params, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames,
                         PyObject **bound)
{
    Py_ssize_t i;

    for (i = 0; kwnames && i < PyTuple_GET_SIZE(kwnames); i++) {
        int j = PyLoopArgs_KeywordIndex(params, PyTuple_GET_ITEM(kwnames, i), nargs, bound);
        if (j < 0)
            return -1;
        bound[j] = args[nargs + i];
    }
    return 0;
}

/* Python counts self among the positional arguments in these messages. */
static int too_many(const PyLoopParams *params, Py_ssize_t nargs)
{
    if (params->required == params->total)
        PyErr_Format(PyExc_TypeError, "%s() takes %d positional argument%s but %zd were given", params->qualname,
                     params->total + 1, params->total ? "s" : "", nargs + 1);
    else
        PyErr_Format(PyExc_TypeError, "%s() takes from %d to %d positional arguments but %zd were given",
                     params->qualname, params->required + 1, params->total + 1, nargs + 1);
    return -1;
}

int PyLoopArgs_Bind(const PyLoopParams *params, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames,
                    PyObject **bound)
{
    Py_ssize_t positional = nargs < params->total ? nargs : params->total;
    int j;

    for (j = 0; j < PYLOOP_MAX_PARAMS; j++)
        bound[j] = j < positional ? args[j] : NULL;
    if (bind_keywords(params, args, nargs, kwnames, bound) < 0)
        return -1;
    if (nargs > params->total)
        return too_many(params, nargs);
    return PyLoopArgs_CheckMissing(params, bound);
}

int PyLoopArgs_CheckMissing(const PyLoopParams *params, PyObject *const *bound)
{
    const char *missing[PYLOOP_MAX_PARAMS];
    PyObject *names;
    int j, count = 0;

    for (j = 0; j < params->required; j++)
        if (!bound[j])
            missing[count++] = params->names[j];
    if (!count)
        return 0;
    names = missing_names(missing, count);
    if (names) {
        PyErr_Format(PyExc_TypeError, "%s() missing %d required positional argument%s: %U", params->qualname, count,
                     count > 1 ? "s" : "", names);
        Py_DECREF(names);
    }
    return -1;
}

/*
 * names: the interned names and shared asyncio objects of the binding, and
 * the helpers every file uses to set up its own (names.h).
 */
#include "names.h"

PyLoop_str_t PyLoop_str;
PyLoop_asyncio_t PyLoop_asyncio;

int PyLoop_ImportInto(PyObject **slot, const char *module_name, const char *attribute)
{
    PyObject *module = PyImport_ImportModule(module_name);
    if (!module)
        return -1;
    *slot = PyObject_GetAttrString(module, attribute);
    Py_DECREF(module);
    return *slot ? 0 : -1;
}

int PyLoop_InternInto(PyObject **slot, const char *text)
{
    *slot = PyUnicode_InternFromString(text);
    return *slot ? 0 : -1;
}

PyObject *PyLoop_Probe(const char *source, const char *what)
{
    PyObject *globals = PyDict_New(), *ran = NULL, *result = NULL;

    if (!globals || PyDict_SetItemString(globals, "__builtins__", PyEval_GetBuiltins()) < 0)
        goto done;
    if (!(ran = PyRun_String(source, Py_file_input, globals, globals)))
        goto done;
    result = PyDict_GetItemString(globals, "result");
    if (result)
        Py_INCREF(result);
    else
        PyErr_Format(PyExc_RuntimeError, "could not probe %s", what);
done:
    Py_XDECREF(ran);
    Py_XDECREF(globals);
    return result;
}

int PyLoop_ProbeFlag(const char *source, const char *what)
{
    PyObject *result = PyLoop_Probe(source, what);
    int flag = result ? PyObject_IsTrue(result) : -1;

    Py_XDECREF(result);
    return flag;
}

static int intern_names(void)
{
#define PYLOOP_NAME_ENTRY(member, text) {&PyLoop_str.member, text},
    static const struct {
        PyObject **slot;
        const char *text;
    } names[] = {PYLOOP_NAMES(PYLOOP_NAME_ENTRY)};
#undef PYLOOP_NAME_ENTRY
    size_t i;

    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (!*names[i].slot && PyLoop_InternInto(names[i].slot, names[i].text) < 0)
            return -1;
    return 0;
}

/* The debug-mode callback check asyncio's base_events makes: 3.14 deprecates
 * the public asyncio.iscoroutinefunction (it warns) and checks with
 * coroutines._iscoroutinefunction. */
#if PY_VERSION_HEX >= 0x030E0000
#define PYLOOP_ISCOROUTINEFUNCTION "_iscoroutinefunction"
#else
#define PYLOOP_ISCOROUTINEFUNCTION "iscoroutinefunction"
#endif

static int import_asyncio(void)
{
    PyLoop_asyncio_t *a = &PyLoop_asyncio;
    PyObject *threshold = NULL;

    if (a->logger)
        return 0;
    if (PyLoop_ImportInto(&a->logger, "asyncio.log", "logger") < 0
        || PyLoop_ImportInto(&a->format_callback_source, "asyncio.format_helpers", "_format_callback_source") < 0
        || PyLoop_ImportInto(&a->extract_stack, "asyncio.format_helpers", "extract_stack") < 0
        || PyLoop_ImportInto(&a->format_handle, "asyncio.base_events", "_format_handle") < 0
        || PyLoop_ImportInto(&a->iscoroutinefunction, "asyncio.coroutines", PYLOOP_ISCOROUTINEFUNCTION) < 0
        || PyLoop_ImportInto(&a->flow_control_mixin, "asyncio.transports", "_FlowControlMixin") < 0
        || PyLoop_ImportInto(&a->transport_socket, "asyncio.trsock", "TransportSocket") < 0
        || PyLoop_ImportInto(&a->set_result_unless_cancelled, "asyncio.futures", "_set_result_unless_cancelled") < 0
        || PyLoop_ImportInto(&threshold, "asyncio.constants", "LOG_THRESHOLD_FOR_CONNLOST_WRITES") < 0)
        return -1;
    a->connlost_threshold = PyLong_AsSsize_t(threshold);
    Py_DECREF(threshold);
    return a->connlost_threshold == -1 && PyErr_Occurred() ? -1 : 0;
}

int PyLoopNames_Add(PyObject *Py_UNUSED(module)) { return intern_names() < 0 || import_asyncio() < 0 ? -1 : 0; }

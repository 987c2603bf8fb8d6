/*
 * data_bridge.pyloop._pyloop: module initialisation and build_info().
 */
#include "pyloop_module.h"

PyLoop_refs_t PyLoop_refs;

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

/* The debug-mode callback check asyncio's base_events makes: 3.14 deprecates
 * the public asyncio.iscoroutinefunction (it warns) and checks with
 * coroutines._iscoroutinefunction. */
#if PY_VERSION_HEX >= 0x030E0000
#define PYLOOP_ISCOROUTINEFUNCTION "_iscoroutinefunction"
#else
#define PYLOOP_ISCOROUTINEFUNCTION "iscoroutinefunction"
#endif

static int load_refs(void)
{
    if (PyLoop_ImportInto(&PyLoop_refs.format_callback_source, "asyncio.format_helpers", "_format_callback_source") < 0
        || PyLoop_ImportInto(&PyLoop_refs.extract_stack, "asyncio.format_helpers", "extract_stack") < 0
        || PyLoop_ImportInto(&PyLoop_refs.format_handle, "asyncio.base_events", "_format_handle") < 0
        || PyLoop_ImportInto(&PyLoop_refs.logger, "asyncio.log", "logger") < 0
        || PyLoop_ImportInto(&PyLoop_refs.iscoroutinefunction, "asyncio.coroutines", PYLOOP_ISCOROUTINEFUNCTION) < 0
        || PyLoop_InternInto(&PyLoop_refs.str_call_exception_handler, "call_exception_handler") < 0
        || PyLoop_InternInto(&PyLoop_refs.str_check_thread, "_check_thread") < 0
        || PyLoop_InternInto(&PyLoop_refs.str_slow_callback_duration, "slow_callback_duration") < 0)
        return -1;
    return 0;
}

static PyObject *build_info(PyObject *module, PyObject *unused)
{
    const pyloop_build *build = pyloop_build_info();
    (void)module;
    (void)unused;
    return Py_BuildValue("{sssIssssssss}", "phase", build->phase, "batch_limit", build->batch_limit, "wait_strategy",
                         build->wait_strategy, "call_soon_path", build->call_soon_path, "version", build->version,
                         "compiler",
#if defined(__clang__)
                         "clang " __clang_version__
#elif defined(__GNUC__)
                         "gcc " __VERSION__
#else
                         "unknown"
#endif
    );
}

static void module_free(void *module)
{
    (void)module;
    PyLoopHandle_ClearFreeLists();
}

static PyMethodDef module_methods[] = {
    {"build_info", build_info, METH_NOARGS, "What this engine was compiled as: phase, batch limit, wait strategy."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_definition = {
    PyModuleDef_HEAD_INIT,
    .m_name = "data_bridge.pyloop._pyloop",
    .m_doc = "The C engine of data_bridge.pyloop.",
    .m_size = -1,
    .m_methods = module_methods,
    .m_free = module_free,
};

PyMODINIT_FUNC PyInit__pyloop(void);
PyMODINIT_FUNC PyInit__pyloop(void)
{
    PyObject *module;

    if (load_refs() < 0 || PyLoopHandle_TypesReady() < 0 || PyLoopLoop_TypeReady() < 0 || PyLoopSock_TypesReady() < 0)
        return NULL;
    module = PyModule_Create(&module_definition);
    if (!module)
        return NULL;
#ifdef Py_GIL_DISABLED
    /* The engine relies on the GIL (docs/architecture.md, "Free-threading"):
     * on a free-threaded build (3.13t+), importing it turns the GIL back on,
     * with the interpreter's RuntimeWarning, instead of running it unsafely.
     * A single-phase module without this call gets the same default; it is
     * said here so that nobody flips it by accident. */
    if (PyUnstable_Module_SetGIL(module, Py_MOD_GIL_USED) < 0) {
        Py_DECREF(module);
        return NULL;
    }
#endif
    if (PyModule_AddType(module, &PyLoop_LoopType) < 0 || PyModule_AddType(module, &PyLoop_HandleType) < 0
        || PyModule_AddType(module, &PyLoop_TimerHandleType) < 0 || PyLoopTransport_TypeReady(module) < 0
        || PyLoopDatagram_TypeReady(module) < 0 || PyLoopPipe_TypesReady(module) < 0) {
        Py_DECREF(module);
        return NULL;
    }
    return module;
}

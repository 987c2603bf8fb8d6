/*
 * data_bridge.pyloop._pyloop: module initialisation and build_info().
 */
#include "pyloop_module.h"

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

/* The parts of the module, added in this order: each sets up what it needs
 * (names first, then the types that use them) and adds its types and
 * functions to the module. */
static int (*const parts[])(PyObject *module) = {
    PyLoopNames_Add,    PyLoopHandle_Add,   PyLoopLoop_Add,     PyLoopSock_Add,
    PyLoopSocketTransport_Add, PyLoopAccept_Add, PyLoopDatagram_Add, PyLoopPipe_Add, PyLoopTls_Add,
};

PyMODINIT_FUNC PyInit__pyloop(void);
PyMODINIT_FUNC PyInit__pyloop(void)
{
    PyObject *module = PyModule_Create(&module_definition);
    size_t i;

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
    for (i = 0; i < sizeof(parts) / sizeof(parts[0]); i++)
        if (parts[i](module) < 0) {
            Py_DECREF(module);
            return NULL;
        }
    return module;
}

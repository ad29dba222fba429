#include "wsgi/python_module.hpp"

#include <Python.h>
#include <ap_mpm.h>
#include <ap_release.h>

#include "python/ref.hpp"
#include "wsgi/file_wrapper.hpp"

namespace wsgi::wsgi {
namespace {

using python::Ref;

bool add(PyObject* module, const char* name, PyObject* value) {
    // PyModule_AddObjectRef does not steal.
    return value != nullptr && PyModule_AddObjectRef(module, name, value) == 0;
}

bool add_owned(PyObject* module, const char* name, Ref value) {
    return add(module, name, value.get());
}

int mpm_value(int query) {
    int value = 0;
    return ap_mpm_query(query, &value) == APR_SUCCESS ? value : 0;
}

}  // namespace

bool install_python_modules(const char* process_group, const char* application_group) {
    Ref mod_wsgi = Ref::steal(PyModule_New("mod_wsgi"));
    Ref apache = Ref::steal(PyModule_New("apache"));
    if (!mod_wsgi || !apache) {
        return false;
    }
    int threads = mpm_value(AP_MPMQ_MAX_THREADS);
    int processes = mpm_value(AP_MPMQ_MAX_DAEMONS);
    bool ok =
        add_owned(mod_wsgi.get(), "version",
                  Ref::steal(Py_BuildValue("(iii)", MOD_WSGI_VERSION_MAJOR,
                                           MOD_WSGI_VERSION_MINOR, MOD_WSGI_VERSION_PATCH))) &&
        add_owned(mod_wsgi.get(), "process_group", Ref::steal(PyUnicode_FromString(process_group))) &&
        add_owned(mod_wsgi.get(), "application_group",
                  Ref::steal(PyUnicode_FromString(application_group))) &&
        add_owned(mod_wsgi.get(), "maximum_processes", Ref::steal(PyLong_FromLong(processes))) &&
        add_owned(mod_wsgi.get(), "threads_per_process",
                  Ref::steal(PyLong_FromLong(threads > 0 ? threads : 1))) &&
        add(mod_wsgi.get(), "FileWrapper", file_wrapper_type()) &&
        add_owned(apache.get(), "version",
                  Ref::steal(Py_BuildValue("(iii)", AP_SERVER_MAJORVERSION_NUMBER,
                                           AP_SERVER_MINORVERSION_NUMBER,
                                           AP_SERVER_PATCHLEVEL_NUMBER))) &&
        add_owned(apache.get(), "mpm_name", Ref::steal(PyUnicode_FromString(ap_show_mpm()))) &&
        add_owned(apache.get(), "maximum_processes", Ref::steal(PyLong_FromLong(processes))) &&
        add_owned(apache.get(), "threads_per_process",
                  Ref::steal(PyLong_FromLong(threads > 0 ? threads : 1)));
    if (!ok) {
        return false;
    }
    PyObject* modules = PyImport_GetModuleDict();
    return PyDict_SetItemString(modules, "mod_wsgi", mod_wsgi.get()) == 0 &&
           PyDict_SetItemString(modules, "apache", apache.get()) == 0;
}

}  // namespace wsgi::wsgi

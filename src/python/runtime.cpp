#include "python/runtime.hpp"

#include <memory>

#include "python/error.hpp"
#include "python/ref.hpp"

namespace wsgi::python {
namespace {

std::unique_ptr<Interpreters> g_interpreters;
PyThreadState* g_main_thread_state = nullptr;

std::optional<std::string> status_error(const char* what, PyStatus status) {
    std::string message = what;
    if (status.err_msg != nullptr) {
        message += ": ";
        message += status.err_msg;
    }
    return message;
}

std::optional<std::string> add_site_dirs(const std::vector<std::string>& dirs) {
    if (dirs.empty()) {
        return std::nullopt;
    }
    Ref site = Ref::steal(PyImport_ImportModule("site"));
    for (const auto& dir : dirs) {
        if (!site) {
            break;
        }
        Ref path = Ref::steal(PyUnicode_DecodeFSDefaultAndSize(dir.data(),
                                                               static_cast<Py_ssize_t>(dir.size())));
        Ref result = path ? Ref::steal(PyObject_CallMethod(site.get(), "addsitedir", "O",
                                                           path.get()))
                          : Ref();
        if (!result) {
            break;
        }
    }
    if (PyErr_Occurred()) {
        std::string message = "adding WSGIPythonPath directories failed:";
        for (const auto& line : take_exception_lines()) {
            message += " " + line;
        }
        return message;
    }
    return std::nullopt;
}

}  // namespace

std::optional<std::string> initialize(const RuntimeOptions& options) {
    if (g_interpreters) {
        return std::nullopt;
    }
    PyConfig config;
    PyConfig_InitPythonConfig(&config);
    config.install_signal_handlers = 0;
    config.parse_argv = 0;
    config.configure_c_stdio = 0;
    config.pathconfig_warnings = 0;
    PyStatus status = PyConfig_SetBytesString(&config, &config.program_name,
                                              options.program_name.c_str());
    if (PyStatus_Exception(status)) {
        PyConfig_Clear(&config);
        return status_error("setting the Python program name failed", status);
    }
    status = Py_InitializeFromConfig(&config);
    PyConfig_Clear(&config);
    if (PyStatus_Exception(status)) {
        return status_error("initialising Python failed", status);
    }
    // Import threading here, in the thread that will finalise: the thread that first imports
    // it becomes threading's main thread, and a worker thread in that role would leave
    // Py_FinalizeEx waiting forever for its shutdown lock.
    Ref threading = Ref::steal(PyImport_ImportModule("threading"));
    if (!threading) {
        PyErr_Clear();
    }
    auto error = add_site_dirs(options.python_path);
    g_interpreters = std::make_unique<Interpreters>(PyThreadState_Get()->interp);
    g_main_thread_state = PyEval_SaveThread();
    return error;
}

bool is_initialized() { return g_interpreters != nullptr; }

Interpreters& interpreters() { return *g_interpreters; }

void finalize() {
    if (!g_interpreters) {
        return;
    }
    PyEval_RestoreThread(g_main_thread_state);
    g_interpreters.reset();
    Py_FinalizeEx();
    g_main_thread_state = nullptr;
}

}  // namespace wsgi::python

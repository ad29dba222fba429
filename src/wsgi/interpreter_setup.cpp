#include "wsgi/interpreter_setup.hpp"

#include <unistd.h>

#include "apache/log.hpp"
#include "python/gil.hpp"
#include "python/runtime.hpp"
#include "wsgi/adapter.hpp"
#include "wsgi/errors.hpp"
#include "wsgi/events.hpp"
#include "wsgi/file_wrapper.hpp"
#include "wsgi/input.hpp"
#include "wsgi/python_module.hpp"

namespace wsgi::wsgi {

using python::Ref;

WsgiState& wsgi_state() {
    return *static_cast<WsgiState*>(python::current_interpreter()->data());
}

namespace {

ProcessSetup g_process_setup;

// os._exit (and posix._exit) in a daemon process: notes the status, then ends the process as
// CPython's os._exit does (_exit(2), no cleanup).
PyObject* noted_exit(PyObject*, PyObject* args, PyObject* keywords) noexcept {
    static const char* keyword_names[] = {"status", nullptr};
    int status = 0;
    if (!PyArg_ParseTupleAndKeywords(args, keywords, "i:_exit",
                                     const_cast<char**>(keyword_names), &status)) {
        return nullptr;
    }
    g_process_setup.note_exit(status);
    _exit(status);
}

PyMethodDef kNotedExitMethod = {
    "_exit", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(noted_exit)),
    METH_VARARGS | METH_KEYWORDS,
    "_exit(status): exit to the system with the given status, without normal exit processing "
    "(the daemon process notes the status for the Apache parent first)."};

// Replaces os._exit and posix._exit by noted_exit in the current interpreter.
bool note_os_exit() {
    Ref function = Ref::steal(PyCFunction_NewEx(&kNotedExitMethod, nullptr, nullptr));
    if (!function) {
        return false;
    }
    for (const char* name : {"posix", "os"}) {
        Ref module = Ref::steal(PyImport_ImportModule(name));
        if (!module || PyObject_SetAttrString(module.get(), "_exit", function.get()) != 0) {
            return false;
        }
    }
    return true;
}

}  // namespace

void set_process_setup(ProcessSetup setup) { g_process_setup = std::move(setup); }

bool setup_interpreter(python::Interpreter& interpreter) {
    auto sections = config::resolve_interpreter_options(
        g_process_setup.interpreter_options, g_process_setup.process_group, interpreter.name());
    RestrictOptions restrictions = g_process_setup.restrictions;
    restrictions.restrict_stdin = sections.restrict_stdin.value_or(restrictions.restrict_stdin);
    restrictions.restrict_stdout =
        sections.restrict_stdout.value_or(restrictions.restrict_stdout);
    restrictions.restrict_signal =
        sections.restrict_signal.value_or(restrictions.restrict_signal);
    auto owned = std::make_unique<WsgiState>();
    WsgiState& state = *owned;
    interpreter.set_data(std::move(owned));
    state.log_type = Ref::steal(create_log_type());
    state.input_type = Ref::steal(create_input_type());
    state.file_wrapper_type = Ref::steal(create_file_wrapper_type());
    state.adapter_type = Ref::steal(create_adapter_type());
    if (!state.log_type || !state.input_type || !state.file_wrapper_type ||
        !state.adapter_type || !install_standard_streams() ||
        !install_python_modules(state, g_process_setup.process_group.c_str(),
                                interpreter.name().c_str(), g_process_setup.processes,
                                g_process_setup.threads) ||
        !apply_restrictions(restrictions) ||
        (g_process_setup.note_exit != nullptr && !note_os_exit())) {
        return false;
    }
    // initialize() added WSGIPythonPath / python-path= to the main interpreter's sys.path.
    if (!interpreter.is_main() && !python::add_python_path()) {
        return false;
    }
    // <WSGIInterpreterOptions> WSGIPythonPath: each layer in front of the last, so that the
    // most specific section's directories come first.
    for (const auto& layer : sections.python_path_layers) {
        if (!python::add_site_dirs_first(layer)) {
            return false;
        }
    }
    // The thread that first imports threading becomes its main thread; for a sub interpreter
    // that is this (creating) thread, whose thread state is ended first at shutdown.
    Ref threading = Ref::steal(PyImport_ImportModule("threading"));
    if (!threading) {
        return false;
    }
    python::GilRelease release;
    if (interpreter.is_main()) {
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, apache::main_server(),
                     "Set up the main Python interpreter (application group '%%{GLOBAL}').");
    } else {
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, apache::main_server(),
                     "Created Python sub interpreter for application group '%s'.",
                     interpreter.name().c_str());
    }
    return true;
}

void end_interpreter(python::Interpreter& interpreter) {
    if (auto* state = static_cast<WsgiState*>(interpreter.data())) {
        // An Apache child cannot tell a stop from a graceful restart or
        // MaxConnectionsPerChild: it reports "shutdown_signal" unless told otherwise.
        publish_process_stopping(*state, shutdown_reason());
        detach_python_module(*state);
    }
    python::GilRelease release;
    ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, apache::main_server(),
                 "Ending Python interpreter of application group '%s'.",
                 interpreter.name().c_str());
}

}  // namespace wsgi::wsgi

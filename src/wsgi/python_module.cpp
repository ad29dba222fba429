#include "wsgi/python_module.hpp"

#include <Python.h>
#include <ap_mpm.h>
#include <ap_release.h>
#include <httpd.h>

#include <algorithm>
#include <exception>
#include <string>
#include <string_view>
#include <vector>

#include "apache/log.hpp"
#include "common/text.hpp"
#include "python/error.hpp"
#include "python/gil.hpp"
#include "python/ref.hpp"
#include "wsgi/errors.hpp"
#include "wsgi/events.hpp"
#include "wsgi/file_wrapper.hpp"
#include "wsgi/interpreter_setup.hpp"
#include "wsgi/metrics.hpp"
#include "wsgi/metrics_api.hpp"

namespace wsgi::wsgi {
namespace {

using python::Ref;

// The module state of a mod_wsgi module object: the WsgiState of its interpreter, until
// that interpreter ends. The module object itself may outlive it (atexit handlers, objects
// kept alive by the application), so functions never assume it is still set.
struct ModuleState {
    WsgiState* state;
};

WsgiState* state_of(PyObject* module) {
    auto* module_state = static_cast<ModuleState*>(PyModule_GetState(module));
    if (module_state == nullptr || module_state->state == nullptr) {
        PyErr_SetString(PyExc_RuntimeError,
                        "the mod_wsgi module of this interpreter has been shut down");
        return nullptr;
    }
    return module_state->state;
}

// The error barrier of the module's functions: no C++ exception reaches CPython.
template <class Body>
PyObject* barrier(Body&& body) noexcept {
    try {
        return body();
    } catch (const std::exception& e) {
        PyErr_Format(PyExc_RuntimeError, "mod_wsgi internal error: %s", e.what());
    } catch (...) {
        PyErr_SetString(PyExc_RuntimeError, "mod_wsgi internal error");
    }
    return nullptr;
}

bool check_callable(PyObject* callback) {
    if (!PyCallable_Check(callback)) {
        PyErr_Format(PyExc_TypeError, "callback must be callable, not %.200s",
                     Py_TYPE(callback)->tp_name);
        return false;
    }
    return true;
}

PyObject* subscribe(PyObject* module, PyObject* callback, Ref WsgiState::*list) {
    if (!check_callable(callback)) {
        return nullptr;
    }
    WsgiState* state = state_of(module);
    if (state == nullptr || PyList_Append((state->*list).get(), callback) != 0) {
        return nullptr;
    }
    // Returned unchanged, so that both work as decorators.
    return Py_NewRef(callback);
}

PyObject* subscribe_events(PyObject* module, PyObject* callback) noexcept {
    return barrier([&] { return subscribe(module, callback, &WsgiState::event_callbacks); });
}

PyObject* subscribe_shutdown(PyObject* module, PyObject* callback) noexcept {
    return barrier([&] { return subscribe(module, callback, &WsgiState::shutdown_callbacks); });
}

// mod_wsgi.subscribe_signals(callback) (mod_wsgi 6): callback('process_signal', signame=,
// signum=) when the daemon process receives SIGHUP or SIGUSR2. In an Apache child there is
// nothing to deliver (the signals are Apache's): the call is logged with the caller's stack
// and the callback returned unregistered, so that it still works as a decorator.
PyObject* subscribe_signals(PyObject* module, PyObject* callback) noexcept {
    return barrier([&]() -> PyObject* {
        WsgiState* state = state_of(module);
        if (state == nullptr) {
            return nullptr;
        }
        if (state->embedded) {
            if (!check_callable(callback)) {
                return nullptr;
            }
            std::vector<std::string> lines{
                "WSGI0026: mod_wsgi.subscribe_signals() does nothing in embedded mode (the "
                "signals belong to Apache); the callback is not registered. Called from:"};
            for (auto& line : python::current_stack_lines()) {
                lines.push_back(std::move(line));
            }
            log_for_request(nullptr, APLOG_INFO, lines);
            return Py_NewRef(callback);
        }
        PyObject* result = subscribe(module, callback, &WsgiState::signal_callbacks);
        if (result != nullptr) {
            note_signal_subscriber();
        }
        return result;
    });
}

PyObject* request_data(PyObject*, PyObject*) noexcept {
    return barrier([]() -> PyObject* {
        RequestScope* scope = RequestScope::current();
        if (scope == nullptr) {
            PyErr_SetString(PyExc_RuntimeError,
                            "request_data() called outside of the handling of a request");
            return nullptr;
        }
        return Py_XNewRef(scope->request_data());
    });
}

// The Apache log level of a Python logging level (mod_wsgi 6, mod_wsgi.LogHandler):
// CRITICAL crit, ERROR error, WARNING warn, INFO info, anything lower debug.
int apache_level(long levelno) {
    if (levelno >= 50) {
        return APLOG_CRIT;
    }
    if (levelno >= 40) {
        return APLOG_ERR;
    }
    if (levelno >= 30) {
        return APLOG_WARNING;
    }
    return levelno >= 20 ? APLOG_INFO : APLOG_DEBUG;
}

// mod_wsgi._log_record(levelno, message): what LogHandler.emit() calls. Each line of the
// message is one log entry, against the request the calling thread serves, if any.
PyObject* log_record(PyObject*, PyObject* args) noexcept {
    return barrier([&]() -> PyObject* {
        long levelno = 0;
        PyObject* text_object = nullptr;
        if (!PyArg_ParseTuple(args, "lU:_log_record", &levelno, &text_object)) {
            return nullptr;
        }
        Py_ssize_t length = 0;
        const char* message = PyUnicode_AsUTF8AndSize(text_object, &length);
        if (message == nullptr) {
            return nullptr;
        }
        log_for_request(
            current_channel(), apache_level(levelno),
            common::split_lines(std::string_view(message, static_cast<std::size_t>(length))));
        Py_RETURN_NONE;
    });
}

PyMethodDef kLogRecordMethod = {"_log_record", log_record, METH_VARARGS,
                                "_log_record(levelno, message): used by LogHandler.emit()."};

// mod_wsgi.LogHandler (mod_wsgi 6), made on first use so that interpreters that never use it
// do not import logging.
constexpr const char* kLogHandlerSource = R"PY(
import logging as _logging

class LogHandler(_logging.Handler):
    """A logging.Handler writing each record to Apache's error log at the level matching
    the record's (CRITICAL crit, ERROR error, WARNING warn, INFO info, DEBUG debug), so that
    LogLevel wsgi:LEVEL filters it; against the request the logging thread serves, if any."""

    def emit(self, record):
        try:
            _log_record(record.levelno, self.format(record))
        except RecursionError:
            raise
        except Exception:
            self.handleError(record)
)PY";

PyObject* make_log_handler(PyObject* module) {
    Ref function = Ref::steal(PyCFunction_NewEx(&kLogRecordMethod, nullptr, nullptr));
    Ref globals = Ref::steal(PyDict_New());
    Ref name = Ref::steal(PyModule_GetNameObject(module));
    if (!function || !globals || !name ||
        PyDict_SetItemString(globals.get(), "__name__", name.get()) != 0 ||
        PyDict_SetItemString(globals.get(), "__builtins__", PyEval_GetBuiltins()) != 0 ||
        PyDict_SetItemString(globals.get(), "_log_record", function.get()) != 0) {
        return nullptr;
    }
    Ref code = Ref::steal(Py_CompileString(kLogHandlerSource, "<mod_wsgi.LogHandler>",
                                           Py_file_input));
    Ref done = code ? Ref::steal(PyEval_EvalCode(code.get(), globals.get(), globals.get()))
                    : Ref();
    PyObject* handler = done ? PyDict_GetItemString(globals.get(), "LogHandler") : nullptr;
    if (handler == nullptr) {
        return nullptr;
    }
    // Another thread may have made it meanwhile (the code above can give the GIL away): keep
    // the first, so that every caller gets the same class.
    if (PyObject* first = PyDict_GetItemString(PyModule_GetDict(module), "LogHandler")) {
        return Py_NewRef(first);
    }
    if (PyModule_AddObjectRef(module, "LogHandler", handler) != 0) {
        return nullptr;
    }
    return Py_NewRef(handler);
}

// PEP 562 module __getattr__: mod_wsgi.active_requests is made on first use, so that
// requests in an interpreter whose code never looks at it do not pay for keeping it; so is
// mod_wsgi.LogHandler.
PyObject* module_getattr(PyObject* module, PyObject* name) noexcept {
    return barrier([&]() -> PyObject* {
        if (!PyUnicode_Check(name)) {
            PyErr_SetString(PyExc_TypeError, "attribute name must be a string");
            return nullptr;
        }
        if (PyUnicode_CompareWithASCIIString(name, "LogHandler") == 0) {
            return make_log_handler(module);
        }
        if (PyUnicode_CompareWithASCIIString(name, "active_requests") == 0) {
            WsgiState* state = state_of(module);
            if (state == nullptr) {
                return nullptr;
            }
            if (!state->active_requests) {
                state->active_requests = Ref::steal(PyDict_New());
                if (!state->active_requests ||
                    PyModule_AddObjectRef(module, "active_requests",
                                          state->active_requests.get()) != 0) {
                    return nullptr;
                }
                // The request asking is in flight too (other threads' requests already
                // running are recorded from their next request on).
                RequestScope* scope = RequestScope::current();
                if (scope != nullptr && !scope->track_now(state->active_requests.get())) {
                    return nullptr;
                }
            }
            return Py_NewRef(state->active_requests.get());
        }
        PyErr_Format(PyExc_AttributeError, "module 'mod_wsgi' has no attribute '%U'", name);
        return nullptr;
    });
}

PyObject* start_recording_metrics(PyObject*, PyObject*) noexcept {
    return barrier([]() -> PyObject* {
        metrics::process().start_recording(metrics::now(), metrics::process_cpu_times());
        Py_RETURN_NONE;
    });
}

PyObject* request_metrics(PyObject*, PyObject*) noexcept {
    return barrier([] { return request_metrics_dict(); });
}

PyObject* process_metrics(PyObject*, PyObject*) noexcept {
    return barrier([] { return process_metrics_dict(); });
}

PyObject* server_metrics(PyObject*, PyObject*) noexcept {
    return barrier([] { return server_metrics_dict(); });
}

PyMethodDef kMethods[] = {
    {"subscribe_events", subscribe_events, METH_O,
     "subscribe_events(callback): call callback(name, **event) for every event published in "
     "this interpreter. Returns callback."},
    {"subscribe_shutdown", subscribe_shutdown, METH_O,
     "subscribe_shutdown(callback): call callback('process_stopping', **event) when the "
     "process shuts down. Returns callback."},
    {"subscribe_signals", subscribe_signals, METH_O,
     "subscribe_signals(callback): in a daemon process, call callback('process_signal', "
     "signame=, signum=) when it receives SIGHUP or SIGUSR2. Returns callback."},
    {"request_data", request_data, METH_NOARGS,
     "request_data() -> the dict of the current request, shared with event subscribers."},
    {"start_recording_metrics", start_recording_metrics, METH_NOARGS,
     "start_recording_metrics(): enable request_metrics() and process_metrics()."},
    {"request_metrics", request_metrics, METH_NOARGS,
     "request_metrics() -> metrics of the interval since the previous call, or None."},
    {"process_metrics", process_metrics, METH_NOARGS,
     "process_metrics() -> totals since the process started, or None."},
    {"server_metrics", server_metrics, METH_NOARGS,
     "server_metrics() -> Apache's scoreboard (WSGIServerMetrics On), or None."},
    {"__getattr__", module_getattr, METH_O, nullptr},
    {nullptr, nullptr, 0, nullptr},
};

PyModuleDef kModuleDef = {
    PyModuleDef_HEAD_INIT,
    "mod_wsgi",
    "The mod_wsgi module of this interpreter (Apache/mod_wsgi).",
    sizeof(ModuleState),
    kMethods,
    nullptr,
    nullptr,
    nullptr,
    nullptr,
};

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

bool install_python_modules(WsgiState& state, const char* process_group,
                            const char* application_group, int processes, int threads) {
    state.event_callbacks = Ref::steal(PyList_New(0));
    state.shutdown_callbacks = Ref::steal(PyList_New(0));
    state.signal_callbacks = Ref::steal(PyList_New(0));
    state.embedded = *process_group == '\0';
    // From BaseException, so that `except Exception:` in the application does not swallow it.
    state.request_timeout = Ref::steal(PyErr_NewExceptionWithDoc(
        "mod_wsgi.RequestTimeout",
        "Raised in a request that ran longer than request-timeout, when interrupt-timeout is "
        "set (daemon mode). It may be caught for clean-up but should be raised again.",
        PyExc_BaseException, nullptr));
    // Not imported: PyModule_Create gives each interpreter its own module object and state.
    Ref mod_wsgi = Ref::steal(PyModule_Create(&kModuleDef));
    Ref apache = Ref::steal(PyModule_New("apache"));
    if (!state.event_callbacks || !state.shutdown_callbacks || !state.signal_callbacks ||
        !state.request_timeout ||
        !mod_wsgi || !apache) {
        return false;
    }
    static_cast<ModuleState*>(PyModule_GetState(mod_wsgi.get()))->state = &state;
    state.mod_wsgi_module = mod_wsgi.copy();  // so that detach_python_module() finds it
    const int mpm_threads = std::max(mpm_value(AP_MPMQ_MAX_THREADS), 1);
    const int mpm_processes = mpm_value(AP_MPMQ_MAX_DAEMONS);
    bool ok =
        add_owned(mod_wsgi.get(), "version",
                  Ref::steal(Py_BuildValue("(iii)", MOD_WSGI_VERSION_MAJOR,
                                           MOD_WSGI_VERSION_MINOR, MOD_WSGI_VERSION_PATCH))) &&
        add_owned(mod_wsgi.get(), "process_group", Ref::steal(PyUnicode_FromString(process_group))) &&
        add_owned(mod_wsgi.get(), "application_group",
                  Ref::steal(PyUnicode_FromString(application_group))) &&
        add_owned(mod_wsgi.get(), "maximum_processes",
                  Ref::steal(PyLong_FromLong(processes > 0 ? processes : mpm_processes))) &&
        add_owned(mod_wsgi.get(), "threads_per_process",
                  Ref::steal(PyLong_FromLong(threads > 0 ? threads : mpm_threads))) &&
        add(mod_wsgi.get(), "event_callbacks", state.event_callbacks.get()) &&
        add(mod_wsgi.get(), "shutdown_callbacks", state.shutdown_callbacks.get()) &&
        add(mod_wsgi.get(), "signal_callbacks", state.signal_callbacks.get()) &&
        add(mod_wsgi.get(), "FileWrapper", file_wrapper_type()) &&
        add(mod_wsgi.get(), "RequestTimeout", state.request_timeout.get()) &&
        add_owned(apache.get(), "version",
                  Ref::steal(Py_BuildValue("(iii)", AP_SERVER_MAJORVERSION_NUMBER,
                                           AP_SERVER_MINORVERSION_NUMBER,
                                           AP_SERVER_PATCHLEVEL_NUMBER))) &&
        add_owned(apache.get(), "description",
                  Ref::steal(PyUnicode_FromString(ap_get_server_description()))) &&
        add_owned(apache.get(), "build_date",
                  Ref::steal(PyUnicode_FromString(ap_get_server_built()))) &&
        add_owned(apache.get(), "mpm_name", Ref::steal(PyUnicode_FromString(ap_show_mpm()))) &&
        add_owned(apache.get(), "maximum_processes", Ref::steal(PyLong_FromLong(mpm_processes))) &&
        add_owned(apache.get(), "threads_per_process",
                  Ref::steal(PyLong_FromLong(mpm_threads)));
    if (!ok) {
        return false;
    }
    PyObject* modules = PyImport_GetModuleDict();
    return PyDict_SetItemString(modules, "mod_wsgi", mod_wsgi.get()) == 0 &&
           PyDict_SetItemString(modules, "apache", apache.get()) == 0;
}

void detach_python_module(WsgiState& state) {
    if (state.mod_wsgi_module) {
        auto* module_state =
            static_cast<ModuleState*>(PyModule_GetState(state.mod_wsgi_module.get()));
        if (module_state != nullptr) {
            module_state->state = nullptr;
        }
    }
    PyErr_Clear();
}

}  // namespace wsgi::wsgi

#include "wsgi/restrictions.hpp"

#include <unistd.h>

#include <string>
#include <vector>

#include "apache/log.hpp"
#include "config/config.hpp"
#include "python/error.hpp"
#include "python/gil.hpp"
#include "python/ref.hpp"
#include "wsgi/errors.hpp"

namespace wsgi::wsgi {
namespace {

using python::Ref;

// mod_wsgi.Restricted: stands in for sys.stdin / sys.stdout. Every attribute lookup (read,
// write, fileno, ...) raises, so print() and input() fail with mod_wsgi's message, except
// `closed`, which is True: Python's shutdown flushes sys.stdout unless it reads closed as
// true, and a failing flush there would log "Exception ignored in ..." at every child exit.
struct RestrictedObject {
    PyObject_HEAD
    PyObject* what;  // "sys.stdin" or "sys.stdout"
};

PyObject* restricted_getattro(PyObject* self, PyObject* name) noexcept {
    if (PyUnicode_Check(name) && PyUnicode_CompareWithASCIIString(name, "closed") == 0) {
        Py_RETURN_TRUE;
    }
    PyErr_Format(PyExc_OSError, "%U access restricted by mod_wsgi",
                 reinterpret_cast<RestrictedObject*>(self)->what);
    return nullptr;
}

void restricted_dealloc(PyObject* self) noexcept {
    Py_XDECREF(reinterpret_cast<RestrictedObject*>(self)->what);
    PyTypeObject* type = Py_TYPE(self);
    type->tp_free(self);
    Py_DECREF(type);  // instances of heap types own a reference to their type
}

PyType_Slot kRestrictedSlots[] = {
    {Py_tp_dealloc, reinterpret_cast<void*>(restricted_dealloc)},
    {Py_tp_getattro, reinterpret_cast<void*>(restricted_getattro)},
    {Py_tp_doc, const_cast<char*>("A standard stream the application may not use.")},
    {0, nullptr},
};

PyType_Spec kRestrictedSpec = {"mod_wsgi.Restricted", sizeof(RestrictedObject), 0,
                               Py_TPFLAGS_DEFAULT | Py_TPFLAGS_DISALLOW_INSTANTIATION,
                               kRestrictedSlots};

// Replaces sys.<name> by an instance of `type`.
bool restrict_stream(PyObject* type, const char* name) {
    auto* self = PyObject_New(RestrictedObject, reinterpret_cast<PyTypeObject*>(type));
    if (self == nullptr) {
        return false;
    }
    Ref object = Ref::steal(reinterpret_cast<PyObject*>(self));
    self->what = PyUnicode_FromFormat("sys.%s", name);
    if (self->what == nullptr) {
        return false;
    }
    return PySys_SetObject(name, object.get()) == 0;
}

// signal.signal replacement. `self` is (the original signal.signal, signal.getsignal, pid of
// the process it was installed in). Returns the handler currently installed, as
// signal.signal would return the previous one, and installs nothing. A process forked from
// this one (multiprocessing, say) is not Apache's: there the original is called.
PyObject* ignore_signal_registration(PyObject* self, PyObject* args) noexcept {
    try {
        PyObject* original = PyTuple_GET_ITEM(self, 0);
        PyObject* getsignal = PyTuple_GET_ITEM(self, 1);
        long pid = PyLong_AsLong(PyTuple_GET_ITEM(self, 2));
        if (pid != static_cast<long>(getpid())) {
            return PyObject_Call(original, args, nullptr);
        }
        int signum = 0;
        PyObject* handler = nullptr;
        if (!PyArg_ParseTuple(args, "iO:signal", &signum, &handler)) {
            return nullptr;
        }
        // Raises ValueError for an invalid signal number, as signal.signal itself does.
        Ref current = Ref::steal(PyObject_CallFunction(getsignal, "i", signum));
        if (!current) {
            return nullptr;
        }
        // No "mod_wsgi (pid=N)" prefix: mod_wsgi 6 dropped it, Apache's [pid] field says it.
        std::vector<std::string> lines{"WSGI0020: Callback registration for signal " +
                                       std::to_string(signum) +
                                       " ignored (WSGIRestrictSignal On)."};
        for (auto& line : python::current_stack_lines()) {
            lines.push_back(std::move(line));
        }
        log_for_request(current_channel(), APLOG_WARNING, lines);
        return current.release();
    } catch (...) {
        PyErr_SetString(PyExc_MemoryError, "signal registration check failed");
        return nullptr;
    }
}

PyMethodDef kSignalMethod = {
    "signal", ignore_signal_registration, METH_VARARGS,
    "signal(signalnum, handler): ignored under mod_wsgi (WSGIRestrictSignal On); logs the "
    "attempt and returns the current handler."};

bool restrict_signal() {
    Ref signal = Ref::steal(PyImport_ImportModule("signal"));
    if (!signal) {
        return false;
    }
    Ref original = Ref::steal(PyObject_GetAttrString(signal.get(), "signal"));
    Ref getsignal = Ref::steal(PyObject_GetAttrString(signal.get(), "getsignal"));
    if (!original || !getsignal) {
        return false;
    }
    Ref state = Ref::steal(
        Py_BuildValue("(OOl)", original.get(), getsignal.get(), static_cast<long>(getpid())));
    if (!state) {
        return false;
    }
    Ref wrapper = Ref::steal(PyCFunction_NewEx(&kSignalMethod, state.get(), nullptr));
    if (!wrapper) {
        return false;
    }
    return PyObject_SetAttrString(signal.get(), "signal", wrapper.get()) == 0;
}

}  // namespace

RestrictOptions restrict_options(const config::ServerConfig& server) {
    RestrictOptions options;
    options.restrict_stdin = server.restrict_stdin.value_or(false);
    options.restrict_stdout = server.restrict_stdout.value_or(false);
    options.restrict_signal = server.restrict_signal.value_or(true);
    return options;
}

bool apply_restrictions(const RestrictOptions& options) {
    if (options.restrict_stdin || options.restrict_stdout) {
        Ref type = Ref::steal(PyType_FromSpec(&kRestrictedSpec));
        if (!type) {
            return false;
        }
        if (options.restrict_stdin && !restrict_stream(type.get(), "stdin")) {
            return false;
        }
        if (options.restrict_stdout && !restrict_stream(type.get(), "stdout")) {
            return false;
        }
    }
    return !options.restrict_signal || restrict_signal();
}

}  // namespace wsgi::wsgi

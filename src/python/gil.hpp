#pragma once
// Scoped GIL handling. See interpreter.hpp for attaching a thread to an interpreter.

#include <Python.h>

namespace wsgi::python {

// Releases the GIL held by the current thread for the scope (Py_BEGIN_ALLOW_THREADS): wrap
// every blocking call (ap_get_brigade, ap_pass_brigade, logging, file and socket I/O) in one
// so that other requests' Python code runs meanwhile. Must be constructed with the GIL held;
// no Python API may be used inside the scope.
class GilRelease {
public:
    GilRelease() : state_(PyEval_SaveThread()) {}
    ~GilRelease() { PyEval_RestoreThread(state_); }
    GilRelease(const GilRelease&) = delete;
    GilRelease& operator=(const GilRelease&) = delete;

private:
    PyThreadState* state_;
};

}  // namespace wsgi::python

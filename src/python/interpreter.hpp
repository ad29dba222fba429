#pragma once
// Python interpreters of this process: the main interpreter and, per application group, a
// sub interpreter (mod_wsgi docs: "WSGIApplicationGroup"; CPython C API "Sub-interpreter
// support"). Threads attach through a thread state cached per (thread, interpreter), as
// mod_wsgi's wsgi_acquire_interpreter does: creating and destroying a PyThreadState per
// request (what PyGILState_Ensure does on a fresh thread) would cost more and would drop
// thread-local data between requests.

#include <Python.h>

#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

namespace wsgi::python {

// One Python interpreter. Created and destroyed by Interpreters; any thread may attach.
class Interpreter {
public:
    Interpreter(std::string name, PyInterpreterState* state, int index);

    // The application group name: "" for the main interpreter.
    const std::string& name() const { return name_; }
    PyInterpreterState* state() const { return state_; }

    // Serialises script (re)loading in this interpreter. Lock it only with the GIL released.
    std::mutex& load_mutex() { return load_mutex_; }

    // This thread's thread state for the interpreter, created on first use and kept until the
    // interpreter is finalised. For the main interpreter a thread state already bound to the
    // thread by PyGILState (e.g. the thread that initialised Python) is reused, so PyGILState
    // APIs used by C extensions find the same one. Call without the GIL.
    PyThreadState* thread_state();

private:
    std::string name_;
    PyInterpreterState* state_;
    int index_;
    std::mutex load_mutex_;
};

// Holds an interpreter's GIL with the current thread attached to it, for the scope. Must be
// constructed without the GIL; nesting on one thread is not allowed.
class InterpreterLock {
public:
    explicit InterpreterLock(Interpreter& interpreter);
    ~InterpreterLock();
    InterpreterLock(const InterpreterLock&) = delete;
    InterpreterLock& operator=(const InterpreterLock&) = delete;

    Interpreter& interpreter() const { return interpreter_; }

private:
    Interpreter& interpreter_;
};

// The interpreters of this process. Created once Python is initialised (after fork, in the
// process that serves requests); thread-safe.
class Interpreters {
public:
    // Registers the main interpreter. Call with the GIL held, once, after Py_Initialize.
    explicit Interpreters(PyInterpreterState* main_state);

    Interpreter& main() { return *interpreters_.front(); }

    // The interpreter for an application group ("" is %{GLOBAL}, the main interpreter).
    // Until application groups get sub interpreters of their own, every group maps to the
    // main interpreter; callers already ask by group so that nothing else changes then.
    Interpreter& for_application_group(std::string_view group);

private:
    std::mutex mutex_;
    std::deque<std::unique_ptr<Interpreter>> interpreters_;
};

}  // namespace wsgi::python

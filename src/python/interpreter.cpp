#include "python/interpreter.hpp"

#include <vector>

namespace wsgi::python {
namespace {

// Per-thread cache of thread states, indexed by Interpreter index.
thread_local std::vector<PyThreadState*> t_thread_states;

}  // namespace

Interpreter::Interpreter(std::string name, PyInterpreterState* state, int index)
    : name_(std::move(name)), state_(state), index_(index) {}

PyThreadState* Interpreter::thread_state() {
    auto index = static_cast<std::size_t>(index_);
    if (t_thread_states.size() <= index) {
        t_thread_states.resize(index + 1, nullptr);
    }
    PyThreadState*& slot = t_thread_states[index];
    if (slot == nullptr) {
        PyThreadState* bound = PyGILState_GetThisThreadState();
        if (bound != nullptr && bound->interp == state_) {
            slot = bound;
        } else {
            // PyThreadState_New needs no GIL and binds the new state to PyGILState for this
            // thread when the thread has none yet.
            slot = PyThreadState_New(state_);
        }
    }
    return slot;
}

InterpreterLock::InterpreterLock(Interpreter& interpreter) : interpreter_(interpreter) {
    PyEval_RestoreThread(interpreter_.thread_state());
}

InterpreterLock::~InterpreterLock() { PyEval_SaveThread(); }

Interpreters::Interpreters(PyInterpreterState* main_state) {
    interpreters_.push_back(std::make_unique<Interpreter>("", main_state, 0));
}

Interpreter& Interpreters::for_application_group(std::string_view /*group*/) {
    std::lock_guard lock(mutex_);
    return *interpreters_.front();
}

}  // namespace wsgi::python

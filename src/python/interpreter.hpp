#pragma once
// Python interpreters of this process: the main interpreter and, per application group, a
// sub interpreter created on first use (mod_wsgi docs: "WSGIApplicationGroup"; CPython C API
// "Sub-interpreter support"). Threads attach through a thread state cached per (thread,
// interpreter), as mod_wsgi's wsgi_acquire_interpreter does: creating and destroying a
// PyThreadState per request (what PyGILState_Ensure does on a fresh thread) would cost more
// and would drop thread-local data between requests. CPython warns that the PyGILState API
// does not mix with sub interpreters, so it is used only for the main interpreter, whose
// cached thread states PyGILState also finds.

#include <Python.h>

#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace wsgi::python {

// State that higher layers keep per interpreter (types, modules, callbacks). Destroyed with
// the interpreter's GIL held, just before the interpreter ends, so it may hold Refs.
class InterpreterData {
public:
    virtual ~InterpreterData() = default;
};

// One Python interpreter. Created and ended by Interpreters; any thread may attach.
class Interpreter {
public:
    // `main` is the main interpreter (null for the main interpreter itself).
    Interpreter(std::string name, PyInterpreterState* state, int index, Interpreter* main);

    // The application group name: "" for the main interpreter.
    const std::string& name() const { return name_; }
    PyInterpreterState* state() const { return state_; }
    bool is_main() const { return index_ == 0; }

    // Serialises script (re)loading in this interpreter. Lock it only with the GIL released.
    std::mutex& load_mutex() { return load_mutex_; }

    // This thread's thread state for the interpreter, created on first use and kept until the
    // interpreter ends. Call without the GIL.
    PyThreadState* thread_state();

    // Makes `state` (already created for this interpreter on this thread) the cached one.
    void adopt_thread_state(PyThreadState* state);

    // Clears and deletes every thread state made for this interpreter except `keep`. Only at
    // the end of the process, with the GIL held and no other thread using the interpreter: a
    // leftover thread state of a thread that first imported `threading` would make the
    // interpreter's shutdown wait for it forever.
    void delete_thread_states_except(PyThreadState* keep);

    // Higher layers' data for this interpreter (may be null until set up).
    InterpreterData* data() const { return data_.get(); }
    // Replaces the data; the old data is destroyed here, so hold the GIL.
    void set_data(std::unique_ptr<InterpreterData> data) { data_ = std::move(data); }

private:
    std::string name_;
    PyInterpreterState* state_;
    int index_;
    Interpreter* main_;
    std::mutex load_mutex_;
    std::mutex states_mutex_;
    std::vector<PyThreadState*> states_;  // every thread state made for this interpreter
    std::unique_ptr<InterpreterData> data_;
};

// Holds the GIL with the current thread attached to `interpreter`, for the scope, and makes
// it current_interpreter(). Must be constructed without the GIL; not nestable on one thread.
class InterpreterLock {
public:
    explicit InterpreterLock(Interpreter& interpreter);
    ~InterpreterLock();
    InterpreterLock(const InterpreterLock&) = delete;
    InterpreterLock& operator=(const InterpreterLock&) = delete;

    Interpreter& interpreter() const { return interpreter_; }

private:
    Interpreter& interpreter_;
    Interpreter* previous_;
};

// Calls module.function() in the current interpreter if that module was imported there.
// Errors are printed to sys.stderr (the error log) and cleared. GIL held.
void call_if_imported(const char* module_name, const char* function) noexcept;

// Joins the current interpreter's non-daemon threads (other than the calling thread and
// threading's main thread), waiting at most `timeout_seconds` in all. Returns true when none
// is left running. GIL held.
bool join_application_threads(double timeout_seconds) noexcept;

// The interpreter the calling thread is attached to through an InterpreterLock (or that is
// being set up on it), or nullptr.
Interpreter* current_interpreter();

// The interpreters of this process. Created once Python is initialised (after fork, in the
// process that serves requests); thread-safe.
class Interpreters {
public:
    // Sets up a new interpreter: called with the GIL held and `interpreter` current. Returns
    // false with a Python exception set.
    using SetupHook = std::function<bool(Interpreter&)>;
    // Runs just before an interpreter ends (shutdown callbacks), GIL held, interpreter current.
    using EndHook = std::function<void(Interpreter&)>;

    // Registers the main interpreter. Call with the GIL held, once, after Py_Initialize.
    Interpreters(PyInterpreterState* main_state, PyThreadState* main_thread_state);

    void set_hooks(SetupHook setup, EndHook end);

    // How long end_all() waits for an interpreter's non-daemon threads (seconds).
    void set_thread_join_timeout(double seconds) { thread_join_timeout_ = seconds; }

    Interpreter& main() { return *interpreters_.front(); }

    // Runs the setup hook for the main interpreter. GIL held by the main interpreter.
    bool setup_main();

    // The interpreter of an application group ("" is %{GLOBAL}, the main interpreter),
    // creating a sub interpreter on first use. Call without the GIL. Returns nullptr and sets
    // `error` when creating failed or when `limit` sub interpreters exist already.
    Interpreter* for_application_group(std::string_view group, std::size_t limit,
                                       std::string& error);

    // Number of sub interpreters.
    std::size_t sub_interpreter_count();

    // Every interpreter set up so far, the main one first. The pointers stay valid until
    // end_all(). Call without the GIL.
    std::vector<Interpreter*> all();

    // Ends every sub interpreter (newest first), running the end hook and dropping its data,
    // then runs the end hook and drops the data of the main interpreter. A sub interpreter in
    // which daemon threads still run cannot be ended: its atexit handlers run and it is left
    // to the process exit. Returns whether every sub interpreter ended (only then may the
    // main interpreter be finalised). Called with the GIL held by the main thread state; it
    // is still held, by the same state, on return.
    bool end_all(PyThreadState* main_thread_state);

private:
    std::mutex mutex_;
    std::deque<std::unique_ptr<Interpreter>> interpreters_;  // main first, then by creation
    int next_index_ = 1;
    SetupHook setup_;
    EndHook end_;
    double thread_join_timeout_ = 1.0;
};

}  // namespace wsgi::python

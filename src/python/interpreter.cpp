#include "python/interpreter.hpp"

#include "python/gil.hpp"

#include "python/error.hpp"
#include "python/ref.hpp"

namespace wsgi::python {
namespace {

// Per-thread cache of thread states, indexed by Interpreter index (never reused).
thread_local std::vector<PyThreadState*> t_thread_states;
thread_local Interpreter* t_current = nullptr;

PyThreadState*& cached_slot(int index) {
    auto position = static_cast<std::size_t>(index);
    if (t_thread_states.size() <= position) {
        t_thread_states.resize(position + 1, nullptr);
    }
    return t_thread_states[position];
}

}  // namespace

void call_if_imported(const char* module_name, const char* function) noexcept {
    Ref name = Ref::steal(PyUnicode_FromString(module_name));
    Ref module = name ? Ref::steal(PyImport_GetModule(name.get())) : Ref();
    if (!module) {
        PyErr_Clear();
        return;
    }
    Ref result = Ref::steal(PyObject_CallMethod(module.get(), function, nullptr));
    if (!result) {
        PyErr_Print();
    }
}

bool join_application_threads(double timeout_seconds) noexcept {
    static const char kJoin[] =
        "def _mod_wsgi_join(timeout):\n"
        "    import sys, time\n"
        "    threading = sys.modules.get('threading')\n"
        "    if threading is None:\n"
        "        return True\n"
        "    deadline = time.monotonic() + timeout\n"
        "    current = threading.current_thread()\n"
        "    for thread in threading.enumerate():\n"
        "        if thread is current or thread.daemon or thread is threading.main_thread():\n"
        "            continue\n"
        "        thread.join(max(0.0, deadline - time.monotonic()))\n"
        "    return not any(t.is_alive() and not t.daemon and t is not current and\n"
        "                   t is not threading.main_thread() for t in threading.enumerate())\n";
    Ref globals = Ref::steal(PyDict_New());
    if (!globals || PyDict_SetItemString(globals.get(), "__builtins__", PyEval_GetBuiltins()) != 0) {
        PyErr_Clear();
        return false;
    }
    Ref defined = Ref::steal(PyRun_String(kJoin, Py_file_input, globals.get(), globals.get()));
    PyObject* join = defined ? PyDict_GetItemString(globals.get(), "_mod_wsgi_join") : nullptr;
    Ref result = join != nullptr ? Ref::steal(PyObject_CallFunction(join, "d", timeout_seconds))
                                 : Ref();
    if (!result) {
        PyErr_Print();
        return false;
    }
    return PyObject_IsTrue(result.get()) == 1;
}

namespace {

std::string joined(const std::vector<std::string>& lines) {
    std::string text;
    for (const auto& line : lines) {
        if (!text.empty()) {
            text += " | ";
        }
        text += line;
    }
    return text;
}

}  // namespace

Interpreter::Interpreter(std::string name, PyInterpreterState* state, int index,
                         Interpreter* main)
    : name_(std::move(name)), state_(state), index_(index), main_(main) {}

PyThreadState* Interpreter::thread_state() {
    PyThreadState*& slot = cached_slot(index_);
    if (slot != nullptr) {
        return slot;
    }
    PyThreadState* bound = PyGILState_GetThisThreadState();
    if (main_ == nullptr && bound != nullptr && bound->interp == state_) {
        slot = bound;  // e.g. the thread that initialised Python
        return slot;
    }
    if (main_ != nullptr && bound == nullptr) {
        // The first thread state made on a thread becomes its PyGILState one; it must be the
        // main interpreter's, or C extensions calling PyGILState_Ensure in %{GLOBAL} would
        // land in this sub interpreter.
        main_->thread_state();
    }
    // PyThreadState_New needs no GIL.
    slot = PyThreadState_New(state_);
    std::lock_guard lock(states_mutex_);
    states_.push_back(slot);
    return slot;
}

void Interpreter::adopt_thread_state(PyThreadState* state) {
    cached_slot(index_) = state;
    std::lock_guard lock(states_mutex_);
    states_.push_back(state);
}

void Interpreter::delete_thread_states_except(PyThreadState* keep) {
    std::lock_guard lock(states_mutex_);
    for (PyThreadState* state : states_) {
        if (state != keep) {
            PyThreadState_Clear(state);
            PyThreadState_Delete(state);
        }
    }
    states_.clear();
    cached_slot(index_) = nullptr;
}

InterpreterLock::InterpreterLock(Interpreter& interpreter)
    : interpreter_(interpreter), previous_(t_current) {
    GilWaits& waits = this_thread_gil_waits();
    waits.before_lock_nanoseconds = waits.nanoseconds;
    waits.before_lock_count = waits.count;
    waits.shortest_nanoseconds = INT64_MAX;
    waits.longest_nanoseconds = 0;
    restore_thread_counted(interpreter_.thread_state());
    t_current = &interpreter_;
}

InterpreterLock::~InterpreterLock() {
    t_current = previous_;
    PyEval_SaveThread();
}

Interpreter* current_interpreter() { return t_current; }

Interpreters::Interpreters(PyInterpreterState* main_state, PyThreadState* main_thread_state) {
    auto main = std::make_unique<Interpreter>("", main_state, 0, nullptr);
    cached_slot(0) = main_thread_state;
    interpreters_.push_back(std::move(main));
}

void Interpreters::set_hooks(SetupHook setup, EndHook end) {
    setup_ = std::move(setup);
    end_ = std::move(end);
}

bool Interpreters::setup_main() {
    Interpreter* previous = t_current;
    t_current = &main();
    bool ok = !setup_ || setup_(main());
    t_current = previous;
    return ok;
}

Interpreter* Interpreters::for_application_group(std::string_view group, std::size_t limit,
                                                 std::string& error) {
    if (group.empty()) {
        return &main();
    }
    std::lock_guard lock(mutex_);
    for (const auto& interpreter : interpreters_) {
        if (interpreter->name() == group) {
            return interpreter.get();
        }
    }
    if (interpreters_.size() - 1 >= limit) {
        error = "the limit of " + std::to_string(limit) + " sub interpreters is reached";
        return nullptr;
    }
    // Creating needs the GIL with some thread state current: take the main interpreter's.
    InterpreterLock main_lock(main());
    PyThreadState* main_state = PyThreadState_Get();
    PyThreadState* sub_state = Py_NewInterpreter();
    if (sub_state == nullptr) {
        PyThreadState_Swap(main_state);
        error = "Py_NewInterpreter() failed";
        return nullptr;
    }
    auto created = std::make_unique<Interpreter>(std::string(group), sub_state->interp,
                                                 next_index_++, &main());
    created->adopt_thread_state(sub_state);
    Interpreter* previous = t_current;
    t_current = created.get();
    bool ok = !setup_ || setup_(*created);
    if (!ok) {
        error = "setting up the sub interpreter failed: " + joined(take_exception_lines());
        created->set_data(nullptr);
        created->delete_thread_states_except(sub_state);
        Py_EndInterpreter(sub_state);
    }
    t_current = previous;
    PyThreadState_Swap(main_state);
    if (!ok) {
        return nullptr;
    }
    interpreters_.push_back(std::move(created));
    return interpreters_.back().get();
}

std::size_t Interpreters::sub_interpreter_count() {
    std::lock_guard lock(mutex_);
    return interpreters_.size() - 1;
}

std::vector<Interpreter*> Interpreters::all() {
    std::lock_guard lock(mutex_);
    std::vector<Interpreter*> result;
    result.reserve(interpreters_.size());
    for (const auto& interpreter : interpreters_) {
        result.push_back(interpreter.get());
    }
    return result;
}

bool Interpreters::end_all(PyThreadState* main_thread_state) {
    std::lock_guard lock(mutex_);
    bool all_ended = true;
    Interpreter* previous = t_current;
    while (interpreters_.size() > 1) {
        Interpreter& sub = *interpreters_.back();
        // This thread's own thread state for it: when this thread created the interpreter
        // (prefork), threading's main thread is this one and must end with its own state.
        PyThreadState* state = sub.thread_state();
        PyThreadState_Swap(state);
        t_current = &sub;
        if (end_) {
            end_(sub);
        }
        sub.set_data(nullptr);
        sub.delete_thread_states_except(state);
        // Wait a bounded time for the application's non-daemon threads, as Py_EndInterpreter
        // would without a bound.
        bool threads_done = join_application_threads(thread_join_timeout_);
        if (threads_done) {
            call_if_imported("threading", "_shutdown");
        }
        if (threads_done && PyInterpreterState_ThreadHead(sub.state()) == state &&
            PyThreadState_Next(state) == nullptr) {
            Py_EndInterpreter(state);
        } else {
            // Threads still run in it, and Py_EndInterpreter would wait for them forever or
            // abort the process ("not the last thread"): run its atexit handlers and leave
            // it to the process exit.
            call_if_imported("atexit", "_run_exitfuncs");
            all_ended = false;
        }
        PyThreadState_Swap(main_thread_state);
        interpreters_.pop_back();
    }
    t_current = &main();
    if (end_) {
        end_(main());
    }
    main().set_data(nullptr);
    t_current = previous;
    return all_ended;
}

}  // namespace wsgi::python

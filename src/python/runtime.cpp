#include "python/runtime.hpp"

#include <condition_variable>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <thread>

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

// WSGIPythonPath and the home directory, kept for the sub interpreters created later
// (add_python_path()).
std::vector<std::string> g_python_path;
std::optional<std::string> g_home_directory;

// Puts `dir` first in sys.path (moved there if it is further down). Returns false with a
// Python exception set.
bool put_first_in_path(const std::string& dir) {
    PyObject* path = PySys_GetObject("path");  // borrowed
    Ref entry = Ref::steal(PyUnicode_DecodeFSDefaultAndSize(dir.data(),
                                                            static_cast<Py_ssize_t>(dir.size())));
    if (path == nullptr || !PyList_Check(path) || !entry) {
        if (!PyErr_Occurred()) {
            PyErr_SetString(PyExc_RuntimeError, "sys.path is not a list");
        }
        return false;
    }
    for (Py_ssize_t i = PyList_GET_SIZE(path) - 1; i >= 0; --i) {
        int same = PyObject_RichCompareBool(PyList_GET_ITEM(path, i), entry.get(), Py_EQ);
        if (same < 0 || (same == 1 && PySequence_DelItem(path, i) != 0)) {
            return false;
        }
    }
    return PyList_Insert(path, 0, entry.get()) == 0;
}

// site.addsitedir() for each of `dirs`. Returns false with a Python exception set.
bool add_site_dirs(const std::vector<std::string>& dirs) {
    if (dirs.empty()) {
        return true;
    }
    Ref site = Ref::steal(PyImport_ImportModule("site"));
    if (!site) {
        return false;
    }
    for (const auto& dir : dirs) {
        Ref path = Ref::steal(PyUnicode_DecodeFSDefaultAndSize(dir.data(),
                                                               static_cast<Py_ssize_t>(dir.size())));
        Ref result = path ? Ref::steal(PyObject_CallMethod(site.get(), "addsitedir", "O",
                                                           path.get()))
                          : Ref();
        if (!result) {
            return false;
        }
    }
    return true;
}

// Puts the WSGIPython* directives into `config` (they are the embedded equivalents of
// python's -O, -W, -B and PYTHONHASHSEED / PYTHONHOME). Returns an error message.
std::optional<std::string> apply_options(PyConfig& config, const RuntimeOptions& options) {
    // Python 3.11's getpath looks for pyvenv.cfg next to and one level above the executable
    // it derives from program_name; that is what makes sys.prefix the virtual environment.
    // PyConfig.home would skip the search and leave sys.prefix at the base installation.
    std::string program_name = options.virtual_environment
                                   ? *options.virtual_environment + "/bin/python3"
                                   : options.program_name;
    // WSGIPythonHome overrides PYTHONHOME (mod_wsgi docs): Python would read it into
    // PyConfig.home, and a home stops the search for the virtual environment.
    if (options.virtual_environment) {
        unsetenv("PYTHONHOME");
    }
    PyStatus status =
        PyConfig_SetBytesString(&config, &config.program_name, program_name.c_str());
    if (PyStatus_Exception(status)) {
        return status_error("setting the Python program name failed", status);
    }
    if (options.home) {
        status = PyConfig_SetBytesString(&config, &config.home, options.home->c_str());
        if (PyStatus_Exception(status)) {
            return status_error("setting the Python home (WSGIPythonHome) failed", status);
        }
    }
    if (options.optimization_level) {
        config.optimization_level = *options.optimization_level;
    }
    // Setting program_name pre-initialised Python, so Py_DecodeLocale is usable now.
    for (const auto& option : options.warn_options) {
        wchar_t* wide = Py_DecodeLocale(option.c_str(), nullptr);
        if (wide == nullptr) {
            return "WSGIPythonWarnings '" + option + "' cannot be decoded";
        }
        status = PyWideStringList_Append(&config.warnoptions, wide);
        PyMem_RawFree(wide);
        if (PyStatus_Exception(status)) {
            return status_error("adding a WSGIPythonWarnings entry failed", status);
        }
    }
    if (options.hash_seed) {
        config.use_hash_seed = 1;
        config.hash_seed = *options.hash_seed;
    } else if (options.random_hash_seed) {
        config.use_hash_seed = 0;
    }
    if (options.dont_write_bytecode) {
        config.write_bytecode = *options.dont_write_bytecode ? 0 : 1;
    }
    // Before Python starts, so os.environ has it; the process is still single-threaded.
    if (options.python_eggs &&
        setenv("PYTHON_EGG_CACHE", options.python_eggs->c_str(), 1) != 0) {
        return "setting PYTHON_EGG_CACHE (WSGIPythonEggs) failed";
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
    // sys.argv as mod_wsgi has it: code that looks at sys.argv[0] finds a name, not ''.
    PyStatus argv = PyWideStringList_Append(&config.argv, L"mod_wsgi");
    if (PyStatus_Exception(argv)) {
        PyConfig_Clear(&config);
        return status_error("setting sys.argv failed", argv);
    }
    config.configure_c_stdio = 0;
    config.pathconfig_warnings = 0;
    if (auto error = apply_options(config, options)) {
        PyConfig_Clear(&config);
        return error;
    }
    PyStatus status = Py_InitializeFromConfig(&config);
    PyConfig_Clear(&config);
    if (PyStatus_Exception(status)) {
        if (options.virtual_environment || options.home) {
            std::string what = "initialising Python with WSGIPythonHome '" +
                               options.virtual_environment.value_or(options.home.value_or("")) +
                               "' failed";
            return status_error(what.c_str(), status);
        }
        return status_error("initialising Python failed", status);
    }
    // Import threading here, in the thread that will finalise: the thread that first imports
    // it becomes threading's main thread, and a worker thread in that role would leave
    // Py_FinalizeEx waiting forever for its shutdown lock.
    Ref threading = Ref::steal(PyImport_ImportModule("threading"));
    if (!threading) {
        PyErr_Clear();
    }
    g_python_path = options.python_path;
    g_home_directory = options.home_directory;
    std::optional<std::string> error;
    if (!add_python_path()) {
        std::string message = "adding WSGIPythonPath directories failed:";
        for (const auto& line : take_exception_lines()) {
            message += " " + line;
        }
        error = message;
    }
    g_interpreters = std::make_unique<Interpreters>(PyThreadState_Get()->interp,
                                                    PyThreadState_Get());
    g_main_thread_state = PyEval_SaveThread();
    return error;
}

bool add_python_path() {
    return add_site_dirs(g_python_path) &&
           (!g_home_directory || put_first_in_path(*g_home_directory));
}

bool add_site_dirs_first(const std::vector<std::string>& dirs) {
    // sys.path as a strong reference: the .pth code and the comparisons below run Python code,
    // which may rebind it.
    auto sys_path = [] {
        Ref path = Ref::borrow(PySys_GetObject("path"));
        if (!path || !PyList_Check(path.get())) {
            PyErr_SetString(PyExc_RuntimeError, "sys.path is not a list");
            return Ref();
        }
        return path;
    };
    Ref path = sys_path();
    Ref before = path ? Ref::steal(PyList_GetSlice(path.get(), 0, PY_SSIZE_T_MAX)) : Ref();
    if (!before || !add_site_dirs(dirs)) {
        return false;
    }
    path = sys_path();
    Ref after = path ? Ref::steal(PyList_GetSlice(path.get(), 0, PY_SSIZE_T_MAX)) : Ref();
    // The entries that were not there before (the directories and what their .pth files
    // added), in their order, then the others.
    Ref added = Ref::steal(PyList_New(0));
    Ref kept = Ref::steal(PyList_New(0));
    if (!after || !added || !kept) {
        return false;
    }
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(after.get()); ++i) {
        PyObject* entry = PyList_GET_ITEM(after.get(), i);  // `after` keeps it alive
        int known = PySequence_Contains(before.get(), entry);
        if (known < 0 || PyList_Append(known == 1 ? kept.get() : added.get(), entry) != 0) {
            return false;
        }
    }
    return PyList_SetSlice(added.get(), PY_SSIZE_T_MAX, PY_SSIZE_T_MAX, kept.get()) == 0 &&
           PyList_SetSlice(path.get(), 0, PY_SSIZE_T_MAX, added.get()) == 0;
}

bool is_initialized() { return g_interpreters != nullptr; }

Interpreters& interpreters() { return *g_interpreters; }

void finalize(std::chrono::seconds timeout, const std::function<void()>& on_timeout) {
    if (!g_interpreters) {
        return;
    }
    // A non-daemon thread the application started would keep Py_FinalizeEx waiting for it
    // forever; the watchdog bounds the whole shutdown.
    std::mutex mutex;
    std::condition_variable finished;
    bool done = false;
    std::thread watchdog([&] {
        std::unique_lock lock(mutex);
        if (!finished.wait_for(lock, timeout, [&] { return done; })) {
            on_timeout();
        }
    });
    PyEval_RestoreThread(g_main_thread_state);
    bool all_ended = g_interpreters->end_all(g_main_thread_state);
    g_interpreters.reset();
    // Py_FinalizeEx would wait for the main interpreter's non-daemon threads without bound.
    if (all_ended && join_application_threads(1.0)) {
        Py_FinalizeEx();
    } else {
        // Py_FinalizeEx aborts while a sub interpreter remains: do what it would do for the
        // application (wait for non-daemon threads, atexit handlers) and leave the rest to
        // the process exit.
        call_if_imported("atexit", "_run_exitfuncs");
        PyEval_SaveThread();
    }
    g_main_thread_state = nullptr;
    {
        std::lock_guard lock(mutex);
        done = true;
    }
    finished.notify_all();
    watchdog.join();
}

void abandon() { static_cast<void>(g_interpreters.release()); }

}  // namespace wsgi::python

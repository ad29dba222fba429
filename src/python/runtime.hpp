#pragma once
// The embedded Python runtime of one process. mod_wsgi initialises Python in each Apache
// child after fork, never in the root parent (mod_wsgi 6 release notes, "WSGILazyInitialization
// removed"), and finalises it when the child exits so that atexit handlers run.

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "python/interpreter.hpp"

namespace wsgi::python {

struct RuntimeOptions {
    // sys.executable; Apache's own argv[0] would make multiprocessing and friends misbehave.
    std::string program_name = MOD_WSGI_PYTHON_EXECUTABLE;
    // WSGIPythonHome naming a virtual environment: sys.prefix, with program_name replaced by
    // its bin/python3 (which is how Python finds a virtual environment).
    std::optional<std::string> virtual_environment;
    // WSGIPythonHome naming another installation, "prefix[:exec_prefix]": PyConfig.home.
    std::optional<std::string> home;
    // Directories added with site.addsitedir() (WSGIPythonPath), in order.
    std::vector<std::string> python_path;
    // A daemon process group's home=: put first in sys.path, as mod_wsgi 4 does, so that
    // modules in the directory the processes start in can be imported.
    std::optional<std::string> home_directory;
    // WSGIPythonOptimize (python -O / -OO); nullopt leaves Python's default (0).
    std::optional<int> optimization_level;
    // WSGIPythonWarnings (python -W), in order; they end up in sys.warnoptions.
    std::vector<std::string> warn_options;
    // WSGIPythonHashSeed N. Without it, `random_hash_seed` (WSGIPythonHashSeed random)
    // ignores PYTHONHASHSEED; with neither, Python's default applies.
    std::optional<std::uint32_t> hash_seed;
    bool random_hash_seed = false;
    // WSGIDontWriteBytecode (python -B); nullopt leaves Python's default.
    std::optional<bool> dont_write_bytecode;
    // WSGIPythonEggs: set as PYTHON_EGG_CACHE in the process environment.
    std::optional<std::string> python_eggs;
    // WSGIDestroyInterpreter: whether Python is finalised when the process exits.
    bool destroy_interpreter = true;
};

// Initialises Python in this process with `options`: no signal handlers installed, no argv
// parsing, then the python_path entries. On success the GIL is released and interpreters() is usable. Returns
// an error message on failure (Python is then not usable in this process). Call once, from
// the thread that will later call finalize(), without the GIL.
std::optional<std::string> initialize(const RuntimeOptions& options);

// Adds the WSGIPythonPath directories given to initialize() to sys.path of the interpreter
// the calling thread is attached to, with site.addsitedir() so that .pth files in them are
// processed, and puts the home directory first. initialize() does it for the main
// interpreter; call it when setting up a sub interpreter. GIL held. Returns false with a
// Python exception set.
bool add_python_path();

// site.addsitedir() for each of `dirs` in the interpreter the calling thread is attached to,
// then moves what that added to sys.path (the directories and the entries of their .pth
// files, in order) to its front: a <WSGIInterpreterOptions> section's WSGIPythonPath layer
// (mod_wsgi 6 docs, "WSGIPythonPath layering"). A directory already on sys.path stays where
// it is. GIL held. Returns false with a Python exception set.
bool add_site_dirs_first(const std::vector<std::string>& dirs);

// True once initialize() succeeded and until finalize().
bool is_initialized();

// The interpreters of this process; only after a successful initialize().
Interpreters& interpreters();

// Ends every sub interpreter (newest first) and then the main one (Py_FinalizeEx), running
// the interpreters' end hooks and atexit handlers. Call without the GIL, from the thread that
// called initialize(), when no request is running. If it takes longer than `timeout` (an
// application's non-daemon thread never ending, say), `on_timeout` runs on a watchdog thread;
// it is expected to end the process. No-op when not initialised.
void finalize(std::chrono::seconds timeout, const std::function<void()>& on_timeout);

// Leaves Python as it is for the process exit (WSGIDestroyInterpreter Off): nothing this
// module holds is released later, so no Python object is touched without the GIL by static
// destructors. Call without the GIL.
void abandon();

}  // namespace wsgi::python

#pragma once
// The embedded Python runtime of one process. mod_wsgi initialises Python in each Apache
// child after fork, never in the root parent (mod_wsgi 6 release notes, "WSGILazyInitialization
// removed"), and finalises it when the child exits so that atexit handlers run.

#include <optional>
#include <string>
#include <vector>

#include "python/interpreter.hpp"

namespace wsgi::python {

struct RuntimeOptions {
    // sys.executable; Apache's own argv[0] would make multiprocessing and friends misbehave.
    std::string program_name = MOD_WSGI_PYTHON_EXECUTABLE;
    // Directories added with site.addsitedir() (WSGIPythonPath), in order.
    std::vector<std::string> python_path;
};

// Initialises Python in this process: no signal handlers installed, no argv parsing, then the
// python_path entries. On success the GIL is released and interpreters() is usable. Returns
// an error message on failure (Python is then not usable in this process). Call once, from
// the thread that will later call finalize(), without the GIL.
std::optional<std::string> initialize(const RuntimeOptions& options);

// True once initialize() succeeded and until finalize().
bool is_initialized();

// The interpreters of this process; only after a successful initialize().
Interpreters& interpreters();

// Runs atexit handlers and finalises Python (Py_FinalizeEx). Call without the GIL, from the
// thread that called initialize(), when no request is running. No-op when not initialised.
void finalize();

}  // namespace wsgi::python

#pragma once
// What the WSGI layer keeps in, and installs into, every Python interpreter: its own heap
// types (mod_wsgi.Log, Input, FileWrapper, Adapter), sys.stdout / sys.stderr, and the
// `mod_wsgi` and `apache` modules. Each interpreter gets its own, so no object is shared
// between interpreters (issue 3; CPython "Isolating Extension Modules").

#include <Python.h>

#include <memory>
#include <vector>

#include "config/interpreter_options.hpp"

#include "python/interpreter.hpp"
#include "python/ref.hpp"
#include "wsgi/environ_cache.hpp"
#include "wsgi/restrictions.hpp"

namespace wsgi::wsgi {

class WsgiState final : public python::InterpreterData {
public:
    python::Ref log_type;
    python::Ref input_type;
    python::Ref file_wrapper_type;
    python::Ref adapter_type;
    python::Ref mod_wsgi_module;
    python::Ref event_callbacks;     // list: mod_wsgi.subscribe_events()
    python::Ref shutdown_callbacks;  // list: mod_wsgi.subscribe_shutdown()
    python::Ref signal_callbacks;    // list: mod_wsgi.subscribe_signals() (daemon mode)
    bool embedded = true;            // in an Apache child, not a daemon process
    python::Ref active_requests;     // dict behind mod_wsgi.active_requests, made on first use
    // mod_wsgi.RequestTimeout (a BaseException): what interrupt-timeout raises in a request
    // thread that ran past request-timeout (daemon mode).
    python::Ref request_timeout;
    std::unique_ptr<EnvironCache> environ_cache;  // environ names and values, made on first use
};

// What every interpreter of this process is set up with; set once, before Python starts.
struct ProcessSetup {
    std::string process_group;     // "" in an Apache child (embedded mode)
    int processes = 0;             // the daemon process group's processes=; 0 in a child
    int threads = 0;               // its threads=; 0 in an Apache child
    RestrictOptions restrictions;  // WSGIRestrictStdin / Stdout / Signal
    // The <WSGIInterpreterOptions> sections that can apply in this process (mod_wsgi 6): each
    // interpreter gets the restrictions and WSGIPythonPath layers of those matching its
    // application group on top of the above.
    std::vector<config::InterpreterOptions> interpreter_options;
    // Daemon processes: called by os._exit(status) just before it ends the process, so that
    // the Apache parent can tell the exit status from a signal (daemon/death_record.hpp).
    // Async-signal-safe. Null in an Apache child: os._exit stays as it is.
    void (*note_exit)(int status) noexcept = nullptr;
};
void set_process_setup(ProcessSetup setup);

// The WSGI state of the interpreter the calling thread is attached to (see
// python::current_interpreter()). GIL held.
WsgiState& wsgi_state();

// Interpreters::SetupHook: sets up a new interpreter (GIL held, interpreter current).
// Returns false with a Python exception set.
bool setup_interpreter(python::Interpreter& interpreter);

// Interpreters::EndHook: runs before an interpreter ends (GIL held, interpreter current):
// publishes process_stopping to the interpreter's subscribers.
void end_interpreter(python::Interpreter& interpreter);

}  // namespace wsgi::wsgi

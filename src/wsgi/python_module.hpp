#pragma once
// The `mod_wsgi` and `apache` Python modules an application can import (mod_wsgi docs, "The
// mod_wsgi Python Module"): version, process_group, application_group, maximum_processes,
// threads_per_process, FileWrapper, subscribe_events(), subscribe_shutdown(),
// request_data(), active_requests, start_recording_metrics(), request_metrics(),
// process_metrics() and server_metrics(). Every interpreter gets its own module objects;
// their per-interpreter data lives in its WsgiState.

namespace wsgi::wsgi {

class WsgiState;

// Creates both modules in the current interpreter's sys.modules and the subscriber lists of
// `state` (the current interpreter's). `processes` and `threads` are the daemon process
// group's processes= and threads= for mod_wsgi.maximum_processes and threads_per_process, 0 in
// an Apache child (the MPM's limits then). GIL held; the adapter types must be ready. Returns
// false with a Python exception set.
bool install_python_modules(WsgiState& state, const char* process_group,
                            const char* application_group, int processes, int threads);

// Detaches the interpreter's mod_wsgi module from `state`, which is about to be destroyed:
// later calls of its functions that need it raise RuntimeError (e.g. from atexit
// handlers). GIL held.
void detach_python_module(WsgiState& state);

}  // namespace wsgi::wsgi

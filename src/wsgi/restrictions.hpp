#pragma once
// WSGIRestrictStdin, WSGIRestrictStdout and WSGIRestrictSignal (mod_wsgi docs of the same
// names): what an application may not do with the process it shares with Apache. Applied to
// every interpreter when it is set up: sys.stdin / sys.stdout become objects whose every use
// raises OSError "sys.stdin access restricted by mod_wsgi", and signal.signal() becomes a
// wrapper that logs the attempt (WSGI0020) and installs nothing, so an application cannot
// take over the signals Apache uses to stop and restart its children.

#include <Python.h>

namespace wsgi::config {
struct ServerConfig;
}

namespace wsgi::wsgi {

struct RestrictOptions {
    bool restrict_stdin = false;   // WSGIRestrictStdin, mod_wsgi's default Off
    bool restrict_stdout = false;  // WSGIRestrictStdout, default Off (stdout goes to the log)
    bool restrict_signal = true;   // WSGIRestrictSignal, default On
};

// The restrictions configured for the main server (the directives are main-server only).
RestrictOptions restrict_options(const config::ServerConfig& server);

// Applies `options` to the interpreter the calling thread is attached to: replaces sys.stdin
// and/or sys.stdout by restricted objects and signal.signal by the logging wrapper. Call with
// the GIL held, after sys.stdout was set to the log stream (a restricted stdout replaces it).
// Each call makes its own heap type, so nothing is shared between interpreters. Returns false
// with a Python exception set.
bool apply_restrictions(const RestrictOptions& options);

}  // namespace wsgi::wsgi

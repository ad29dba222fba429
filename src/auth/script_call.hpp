#pragma once
// Calling a function of an access control or dispatch script (mod_wsgi docs "Access Control
// Mechanisms", "WSGIDispatchScript"). These scripts always run in embedded mode, in the
// Apache child handling the request, whatever process group the application uses; they are
// loaded with the loader WSGI scripts use (wsgi/script.hpp), so they reload when touched.

#include <Python.h>
#include <httpd.h>

#include <functional>
#include <optional>
#include <string>

#include "config/access_scripts.hpp"
#include "wsgi/channel.hpp"
#include "wsgi/request.hpp"

namespace wsgi::auth {

// What a script call sees while it runs: GIL held, attached to the script's interpreter.
class ScriptContext {
public:
    ScriptContext(request_rec* r, const std::string& path, PyObject* module, PyObject* environ,
                  wsgi::Channel& channel)
        : r_(r), path_(path), module_(module), environ_(environ), channel_(channel) {}

    request_rec* request() const { return r_; }
    // The script's module and the environ dict (borrowed).
    PyObject* module() const { return module_; }
    PyObject* environ() const { return environ_; }

    // Calls the module's `function` with `args` (a tuple, borrowed). Returns the result (new
    // reference) or nullptr: the function is missing (logged, WSGI0201) or raised (traceback
    // logged, WSGI0202). No exception is left set.
    PyObject* call(const char* function, PyObject* args);

    // True when the module defines `function`.
    bool defines(const char* function) const;

    // Logs an error about the script (a bad return value, WSGI0203) against the request.
    void fail(const std::string& message);

private:
    request_rec* r_;
    const std::string& path_;
    PyObject* module_;
    PyObject* environ_;
    wsgi::Channel& channel_;
};

// The application group a script runs in: its application-group= option expanded for `r`,
// else `fallback` (already expanded).
std::string script_application_group(request_rec* r, const config::ScriptReference& script,
                                     const std::string& fallback);

// Which of mod_wsgi's two script environs a script gets. Both hold the request's variables,
// `mod_wsgi.process_group` '' (scripts run in the Apache child) and `mod_wsgi.application_group`
// the script's own, `wsgi.errors`, `mod_wsgi.version` and `apache.version`. (mod_wsgi 4.9.4:
// Auth_environ, Dispatch_environ.)
enum class ScriptEnviron {
    kAccessControl,  // WSGIAccessScript, WSGIAuthUserScript, WSGIAuthGroupScript:
                     // `mod_wsgi.script_reloading` is an int (0 or 1)
    kDispatch,       // WSGIDispatchScript: the string '0' or '1', as in the application's
                     // environ; no `mod_wsgi.callable_object`
};

// Loads the script `path` into the interpreter of `application_group` (in this process) and
// runs `body` with it and an environ of kind `kind` built from `settings`. Without the GIL.
// Returns false, logged, when Python is not available here, the interpreter cannot be made or
// the script does not load; otherwise what `body` returns.
bool with_script(request_rec* r, const std::string& path, const std::string& application_group,
                 const wsgi::RequestSettings& settings, ScriptEnviron kind,
                 const std::function<bool(ScriptContext&)>& body);

// with_script() for an access control script (WSGIAccessScript, WSGIAuthUserScript,
// WSGIAuthGroupScript): in its application-group= (default the main interpreter's, ''), with
// the kAccessControl environ built from the request's SCRIPT_NAME and PATH_INFO. Without the
// GIL; returns as with_script() does.
bool with_access_control_script(request_rec* r, const config::ScriptReference& script,
                                const std::function<bool(ScriptContext&)>& body);

}  // namespace wsgi::auth

#pragma once
// Loading WSGI scripts as Python modules (mod_wsgi docs "WSGIScriptAlias",
// "WSGIScriptReloading"). Each script is its own module named "_mod_wsgi_" + the MD5 of its
// path (never __main__), kept in the interpreter's sys.modules and re-imported when the
// file's modification time changes.

#include <Python.h>
#include <apr_time.h>
#include <httpd.h>

#include <string>

#include "python/interpreter.hpp"
#include "python/ref.hpp"
#include "wsgi/channel.hpp"
#include "wsgi/environ.hpp"
#include "wsgi/request.hpp"

namespace wsgi::wsgi {

// The module name of a script: "_mod_wsgi_" + hex MD5 of the path (lower-cased first when
// the file system is declared case-insensitive with WSGICaseSensitivity Off).
std::string script_module_name(const std::string& path, bool case_sensitive);

struct ScriptLoad {
    std::string path;          // the script file
    std::string module_name;   // script_module_name(path)
    apr_time_t mtime = 0;      // its modification time (r->finfo.mtime)
    bool reloading = true;     // WSGIScriptReloading
};

// Told of each attempt of load_script() to import a script file: true when it imported (or
// was loaded already), false when the import failed. Called on the loading thread with the
// GIL held; must not raise. Daemon processes use it for startup-timeout.
using LoadObserver = void (*)(bool imported) noexcept;

// Sets the process's LoadObserver (nullptr: none, the default). Call before requests run.
void set_load_observer(LoadObserver observer);

// Returns the script's module (new reference), importing it on first use and re-importing
// it when reloading is on and the file changed (or the module's reload_required(resource)
// returned true). GIL held by a thread attached to `interpreter`; the GIL is released while
// waiting for another thread loading the same interpreter's scripts. Logs through `channel`
// (the request's). On failure logs the traceback and returns an empty Ref with no exception
// set; a failed import leaves nothing in sys.modules, so the next request tries again.
python::Ref load_script(python::Interpreter& interpreter, const ScriptLoad& script,
                        Channel& channel);

// True when the script's module is loaded in the current interpreter from an older version
// of the file than `script.mtime` (daemon mode restarts the process then). GIL held.
bool script_changed(const ScriptLoad& script);

// Loads the script (see load_script) and runs its WSGI application with `environ` (borrowed;
// the string variables) through `channel`. GIL held, attached to `interpreter`. Returns 0
// (OK) once a response was sent, or an HTTP status to answer with (logged).
int run_script(python::Interpreter& interpreter, const ScriptLoad& script,
               const RequestSettings& settings, Channel& channel, PyObject* environ,
               const EnvironFacts& facts);

}  // namespace wsgi::wsgi

#include "auth/script_call.hpp"

#include <apr_file_info.h>

#include "apache/log.hpp"
#include "config/config.hpp"
#include "python/error.hpp"
#include "python/gil.hpp"
#include "python/interpreter.hpp"
#include "python/ref.hpp"
#include "python/runtime.hpp"
#include "wsgi/embedded_channel.hpp"
#include "wsgi/environ.hpp"
#include "wsgi/errors.hpp"
#include "wsgi/handler.hpp"
#include "wsgi/script.hpp"

namespace wsgi::auth {
namespace {

using python::GilRelease;
using python::Ref;

// The script environ of `kind` for `r` (new reference), or an empty Ref with an exception set.
// `settings` are the request's; the script's own application group replaces theirs. GIL held.
Ref script_environ(request_rec* r, const wsgi::RequestSettings& settings,
                   const std::string& application_group, ScriptEnviron kind) {
    wsgi::RequestSettings own = settings;
    own.process_group.clear();
    own.application_group = application_group;
    Ref environ = wsgi::environ_from_request(r, own);
    if (!environ || !wsgi::add_version_keys(environ.get())) {
        return Ref();
    }
    if (kind == ScriptEnviron::kDispatch) {
        if (PyDict_DelItemString(environ.get(), "mod_wsgi.callable_object") != 0) {
            return Ref();
        }
    } else {
        Ref reloading = Ref::steal(PyLong_FromLong(own.script_reloading ? 1 : 0));
        if (!reloading || PyDict_SetItemString(environ.get(), "mod_wsgi.script_reloading",
                                               reloading.get()) != 0) {
            return Ref();
        }
    }
    return environ;
}

// The request settings an access control script's environ is built from: the request's
// SCRIPT_NAME / PATH_INFO, embedded mode, the script's application group.
wsgi::RequestSettings access_control_settings(request_rec* r,
                                              const std::string& application_group) {
    const config::DirConfig& dir = config::dir_config(r);
    wsgi::RequestSettings settings;
    settings.script_filename = r->filename != nullptr ? r->filename : "";
    wsgi::script_name_and_path_info(r, settings.script_name, settings.path_info);
    settings.application_group = application_group;
    settings.script_reloading = dir.script_reloading.value_or(true);
    return settings;
}

}  // namespace

bool ScriptContext::defines(const char* function) const {
    return PyModule_Check(module_) &&
           PyDict_GetItemString(PyModule_GetDict(module_), function) != nullptr;
}

PyObject* ScriptContext::call(const char* function, PyObject* args) {
    Ref callable = Ref::steal(PyObject_GetAttrString(module_, function));
    if (!callable) {
        PyErr_Clear();
        GilRelease release;
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r_,
                      "WSGI0201: Script '%s' does not provide '%s()'.", path_.c_str(), function);
        return nullptr;
    }
    PyObject* result = PyObject_CallObject(callable.get(), args);
    if (result == nullptr) {
        auto lines = python::take_exception_lines();
        GilRelease release;
        apache::log_lines(APLOG_ERR, r_, nullptr,
                          "WSGI0202: Exception raised by " + std::string(function) +
                              "() of script '" + path_ + "'.",
                          lines);
    }
    return result;
}

void ScriptContext::fail(const std::string& message) {
    PyErr_Clear();
    GilRelease release;
    apache::log_line(APLOG_ERR, r_, nullptr,
                     "WSGI0203: Script '" + path_ + "': " + message);
}

std::string script_application_group(request_rec* r, const config::ScriptReference& script,
                                     const std::string& fallback) {
    if (!script.application_group) {
        return fallback;
    }
    std::string script_name, path_info;
    wsgi::script_name_and_path_info(r, script_name, path_info);
    auto lookup = [r](std::string_view name) { return wsgi::lookup_variable(r, name); };
    return config::expand_application_group(script.application_group,
                                            wsgi::request_identity(r, script_name), lookup);
}

bool with_script(request_rec* r, const std::string& path, const std::string& application_group,
                 const wsgi::RequestSettings& settings, ScriptEnviron kind,
                 const std::function<bool(ScriptContext&)>& body) {
    if (!python::is_initialized()) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      "WSGI0200: Python is not available in this process (embedded mode) to run "
                      "script '%s'.",
                      path.c_str());
        return false;
    }
    python::Interpreter* interpreter = wsgi::interpreter_for(r, application_group);
    if (interpreter == nullptr) {
        return false;
    }
    wsgi::ScriptLoad load;
    load.path = path;
    load.module_name = wsgi::script_module_name(
        path, config::server_config(r->server).case_sensitivity.value_or(true));
    load.reloading = settings.script_reloading;
    apr_finfo_t finfo;
    if (apr_stat(&finfo, path.c_str(), APR_FINFO_MTIME, r->pool) == APR_SUCCESS) {
        load.mtime = finfo.mtime;
    }
    wsgi::EmbeddedChannel channel(r);
    wsgi::RequestStreamsScope streams(channel);
    python::InterpreterLock lock(*interpreter);
    Ref module = wsgi::load_script(*interpreter, load, channel);
    if (!module) {
        return false;  // logged by the loader, with the traceback
    }
    Ref environ = script_environ(r, settings, application_group, kind);
    Ref errors = environ ? Ref::steal(wsgi::new_log_stream(&channel, "wsgi.errors")) : Ref();
    if (!errors || PyDict_SetItemString(environ.get(), "wsgi.errors", errors.get()) != 0) {
        wsgi::expire_log_stream(errors.get());
        auto lines = python::take_exception_lines();
        GilRelease release;
        apache::log_lines(APLOG_ERR, r, nullptr, "WSGI0009: Building the environ failed.",
                          lines);
        return false;
    }
    ScriptContext context(r, path, module.get(), environ.get(), channel);
    bool ok = body(context);
    wsgi::expire_log_stream(errors.get());
    PyErr_Clear();
    return ok;
}

bool with_access_control_script(request_rec* r, const config::ScriptReference& script,
                                const std::function<bool(ScriptContext&)>& body) {
    std::string group = script_application_group(r, script, "");
    return with_script(r, script.path, group, access_control_settings(r, group),
                       ScriptEnviron::kAccessControl, body);
}

}  // namespace wsgi::auth

#include "auth/dispatch.hpp"

#include <string>

#include "apache/log.hpp"
#include "auth/script_call.hpp"
#include "config/config.hpp"
#include "config/options.hpp"
#include "python/ref.hpp"
#include "wsgi/handler.hpp"

namespace wsgi::auth {
namespace {

using python::Ref;

// Calls `function` if the script defines it; its result goes to `choice`: a str, or bytes as
// mod_wsgi also takes (taken byte for byte).
bool ask(ScriptContext& ctx, const char* function, std::optional<std::string>& choice) {
    if (!ctx.defines(function)) {
        return true;
    }
    Ref args = Ref::steal(PyTuple_Pack(1, ctx.environ()));
    Ref result = args ? Ref::steal(ctx.call(function, args.get())) : Ref();
    if (!result) {
        return false;
    }
    if (result.get() == Py_None) {
        return true;
    }
    if (PyBytes_Check(result.get())) {
        choice = std::string(PyBytes_AS_STRING(result.get()),
                             static_cast<std::size_t>(PyBytes_GET_SIZE(result.get())));
        return true;
    }
    const char* text = PyUnicode_Check(result.get()) ? PyUnicode_AsUTF8(result.get()) : nullptr;
    if (text == nullptr) {
        ctx.fail(std::string(function) + "() must return a string, bytes or None, not " +
                 Py_TYPE(result.get())->tp_name);
        return false;
    }
    choice = std::string(text);
    return true;
}

}  // namespace

int apply_dispatch_script(request_rec* r, wsgi::RequestSettings& settings) {
    const auto& script = config::dir_config(r).dispatch_script;
    if (!script) {
        return OK;
    }
    std::string group = script_application_group(r, *script, settings.application_group);
    std::optional<std::string> process_group, application_group, callable_object;
    bool ok = with_script(r, script->path, group, settings, ScriptEnviron::kDispatch,
                          [&](ScriptContext& ctx) {
                              return ask(ctx, "process_group", process_group) &&
                                     ask(ctx, "application_group", application_group) &&
                                     ask(ctx, "callable_object", callable_object);
                          });
    if (!ok) {
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    config::RequestIdentity identity = wsgi::request_identity(r, settings.script_name);
    auto lookup = [r](std::string_view name) { return wsgi::lookup_variable(r, name); };
    if (process_group) {
        settings.process_group = config::expand_process_group(process_group, identity, lookup);
    }
    if (application_group) {
        settings.application_group =
            config::expand_application_group(application_group, identity, lookup);
    }
    if (callable_object) {
        // '' names no callable (the script then answers WSGI0006), as with mod_wsgi; it does
        // not fall back to the default.
        settings.callable_object = callable_object->empty()
                                       ? std::string()
                                       : config::expand_callable_object(callable_object, lookup);
    }
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r,
                  "WSGIDispatchScript '%s': process group '%s', application group '%s', "
                  "callable '%s'.",
                  script->path.c_str(), settings.process_group.c_str(),
                  settings.application_group.c_str(), settings.callable_object.c_str());
    return OK;
}

}  // namespace wsgi::auth

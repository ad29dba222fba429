#include "wsgi/handler.hpp"

#include <ap_mpm.h>
#include <apr_strings.h>
#include <http_config.h>
#include <http_core.h>
#include <http_protocol.h>
#include <http_request.h>

#include <algorithm>
#include <cstdio>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <exception>

#include "apache/directory_walk.hpp"
#include "apache/log.hpp"
#include "auth/dispatch.hpp"
#include "common/script_alias.hpp"
#include "config/config.hpp"
#include "config/directives.hpp"
#include "python/error.hpp"
#include "python/gil.hpp"
#include "python/interpreter.hpp"
#include "python/runtime.hpp"
#include "daemon/client.hpp"
#include "daemon/process_group.hpp"
#include "wsgi/adapter.hpp"
#include "wsgi/embedded_channel.hpp"
#include "wsgi/environ.hpp"
#include "wsgi/errors.hpp"
#include "wsgi/import_script.hpp"
#include "wsgi/interpreter_setup.hpp"
#include "wsgi/metrics.hpp"
#include "wsgi/metrics_api.hpp"
#include "wsgi/restrictions.hpp"
#include "wsgi/script.hpp"

namespace wsgi::wsgi {
namespace {

using python::Ref;

// Requests running Python in this process; Python is not finalised under one.
std::atomic<int> g_active_requests{0};

constexpr const char* kHandlerName = "wsgi-script";

struct ActiveRequest {
    explicit ActiveRequest(Channel& channel) : streams(channel) { ++g_active_requests; }
    ~ActiveRequest() { --g_active_requests; }
    RequestStreamsScope streams;
};

// The alias that mapped this request, recorded by translate_name.
const config::ScriptAlias* matched_alias(request_rec* r) {
    return static_cast<const config::ScriptAlias*>(
        ap_get_module_config(r->request_config, &wsgi_module));
}

}  // namespace

std::optional<std::string> lookup_variable(request_rec* r, std::string_view name) {
    std::string key(name);
    if (const char* value = apr_table_get(r->notes, key.c_str())) {
        return value;
    }
    if (const char* value = apr_table_get(r->subprocess_env, key.c_str())) {
        return value;
    }
    if (const char* value = std::getenv(key.c_str())) {
        return value;
    }
    return std::nullopt;
}

namespace {

// Whether `host` is one of the names of server `s`: its ServerName or a ServerAlias (which
// may hold wildcards), compared without case.
bool answers_to(const server_rec* s, const char* host) {
    if (s->server_hostname != nullptr && strcasecmp(s->server_hostname, host) == 0) {
        return true;
    }
    for (const apr_array_header_t* names : {s->names, s->wild_names}) {
        if (names == nullptr) {
            continue;
        }
        const auto* each = reinterpret_cast<const char* const*>(names->elts);
        for (int i = 0; i < names->nelts; ++i) {
            if (each[i] != nullptr && (names == s->wild_names
                                           ? ap_strcasecmp_match(host, each[i]) == 0
                                           : strcasecmp(host, each[i]) == 0)) {
                return true;
            }
        }
    }
    return false;
}

}  // namespace

config::RequestIdentity request_identity(request_rec* r, std::string_view script_name) {
    // %{HOST} takes the requested name only when it is one of the virtual host's (ServerName,
    // ServerAlias): any other a client sends would make an interpreter of its own, up to the
    // process's limit.
    const bool own_name = r->hostname != nullptr && answers_to(r->server, r->hostname);
    return config::RequestIdentity{
        r->server->server_hostname != nullptr ? r->server->server_hostname : "",
        ap_get_server_port(r), script_name, own_name ? r->hostname : "",
        config::server_config(r->server).case_sensitivity.value_or(true)};
}

namespace {

template <class T>
const std::optional<T>& first_set(const std::optional<T>& preferred,
                                  const std::optional<T>& fallback) {
    return preferred ? preferred : fallback;
}

RequestSettings resolve_settings(request_rec* r) {
    const config::DirConfig& dir = config::dir_config(r);
    static const config::ScriptAliasOptions kNoOptions;
    const config::ScriptAlias* alias = matched_alias(r);
    const config::ScriptAliasOptions& options = alias != nullptr ? alias->options : kNoOptions;

    RequestSettings settings;
    settings.script_filename = r->filename;
    script_name_and_path_info(r, settings.script_name, settings.path_info);
    config::RequestIdentity identity = request_identity(r, settings.script_name);
    auto lookup = [r](std::string_view name) { return lookup_variable(r, name); };
    settings.process_group = config::expand_process_group(
        first_set(options.process_group, dir.process_group), identity, lookup);
    settings.application_group = config::expand_application_group(
        first_set(options.application_group, dir.application_group), identity, lookup);
    settings.callable_object = config::expand_callable_object(
        first_set(options.callable_object, dir.callable_object), lookup);
    settings.pass_authorization =
        first_set(options.pass_authorization, dir.pass_authorization).value_or(false);
    settings.chunked_request = dir.chunked_request.value_or(false);
    settings.enable_sendfile = dir.enable_sendfile.value_or(false);
    settings.error_override = dir.error_override.value_or(false);
    settings.script_reloading = dir.script_reloading.value_or(true);
    settings.ignore_activity = dir.ignore_activity.value_or(false);
    if (r->method_number == M_GET && r->header_only) {
        switch (dir.map_head_to_get.value_or(config::MapHeadToGet::kAuto)) {
            case config::MapHeadToGet::kOn:
                settings.map_head_to_get = true;
                break;
            case config::MapHeadToGet::kOff:
                settings.map_head_to_get = false;
                break;
            case config::MapHeadToGet::kAuto:
                // Content filters (e.g. mod_deflate) need the body to get headers right.
                settings.map_head_to_get = r->output_filters != r->proto_output_filters;
                break;
        }
    }
    return settings;
}

int log_refusal(request_rec* r, int status, const char* code, const char* reason) {
    ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "%s: %s: %s", code, reason, r->filename);
    apr_table_setn(r->notes, "error-notes", reason);
    return status;
}

// Checks what Apache found at r->filename before any Python runs.
int check_target(request_rec* r) {
    if ((ap_allow_options(r) & OPT_EXECCGI) == 0 && matched_alias(r) == nullptr) {
        return log_refusal(r, HTTP_FORBIDDEN, "WSGI0134", "Options ExecCGI is off in this directory");
    }
    if (r->finfo.filetype == APR_NOFILE) {
        return log_refusal(r, HTTP_NOT_FOUND, "WSGI0135", "Target WSGI script not found or unable to stat");
    }
    if (r->finfo.filetype == APR_DIR) {
        return log_refusal(r, HTTP_FORBIDDEN, "WSGI0136", "Attempt to invoke directory as WSGI application");
    }
    if (r->finfo.filetype != APR_REG) {
        // Opening a FIFO to read the script would block the thread until some process opened
        // it for writing; a device or socket is no script either.
        return log_refusal(r, HTTP_FORBIDDEN, "WSGI0138", "Target WSGI script is not a regular file");
    }
    if (r->used_path_info == AP_REQ_REJECT_PATH_INFO && r->path_info != nullptr &&
        *r->path_info != '\0') {
        return log_refusal(r, HTTP_NOT_FOUND, "WSGI0137", "AcceptPathInfo off disallows user's path");
    }
    return OK;
}

ScriptLoad script_load_for(request_rec* r, const RequestSettings& settings) {
    const config::ServerConfig& server = config::server_config(r->server);
    ScriptLoad script;
    script.path = settings.script_filename;
    script.module_name = script_module_name(script.path, server.case_sensitivity.value_or(true));
    script.mtime = r->finfo.mtime;
    if (!settings.handler_script.empty()) {
        // r->finfo is the requested file's; the code is the handler script's.
        apr_finfo_t finfo;
        script.mtime = apr_stat(&finfo, script.path.c_str(), APR_FINFO_MTIME, r->pool) ==
                               APR_SUCCESS
                           ? finfo.mtime
                           : 0;
    }
    script.reloading = settings.script_reloading;
    return script;
}

// Serves `r` in this process. GIL held, attached to `interpreter`.
int serve_embedded(request_rec* r, const RequestSettings& settings,
                   python::Interpreter& interpreter, EmbeddedChannel& channel) {
    Ref environ = environ_from_request(r, settings);
    if (!environ) {
        auto lines = python::take_exception_lines();
        python::GilRelease release;
        apache::log_lines(APLOG_ERR, r, nullptr, "WSGI0009: Building the environ failed.", lines);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    ScriptLoad script = script_load_for(r, settings);
    return run_script(interpreter, script, settings, channel, environ.get(), embedded_facts(r));
}

// Picks the daemon process group for a request, checking it exists, may be used from this
// server and passes WSGIRestrictProcess. Logs and returns nullptr otherwise.
const config::DaemonGroup* daemon_group_for(request_rec* r, const RequestSettings& settings) {
    const config::DaemonGroup* group =
        config::find_daemon_group(apache::main_server(), settings.process_group);
    if (group == nullptr) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      "WSGI0150: No WSGI daemon process called '%s' has been configured: %s",
                      settings.process_group.c_str(), r->filename);
        return nullptr;
    }
    if (!config::daemon_group_visible(*group, r->server)) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      "WSGI0152: WSGI daemon process '%s' is defined in another virtual host "
                      "and cannot be used from this one: %s",
                      settings.process_group.c_str(), r->filename);
        return nullptr;
    }
    const auto& allowed = config::dir_config(r).restrict_process;
    if (allowed && std::find(allowed->begin(), allowed->end(), settings.process_group) ==
                       allowed->end()) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      "WSGI0151: WSGI daemon process '%s' is not allowed here "
                      "(WSGIRestrictProcess): %s",
                      settings.process_group.c_str(), r->filename);
        return nullptr;
    }
    return group;
}

// How long ending the interpreters at child exit may take before the process is ended
// anyway (an application's non-daemon thread would otherwise keep it alive forever).
constexpr std::chrono::seconds kShutdownTimeout{5};

apr_status_t finalize_python(void*) noexcept {
    try {
        if (g_active_requests.load() != 0) {
            ap_log_error(APLOG_MARK, APLOG_WARNING, 0, apache::main_server(),
                         "WSGI0008: Requests still running at process exit; Python is not "
                         "finalised and atexit handlers do not run.");
            return APR_SUCCESS;
        }
        if (!config::server_config(apache::main_server()).destroy_interpreter.value_or(true)) {
            python::abandon();  // WSGIDestroyInterpreter Off: leave Python as it is
            return APR_SUCCESS;
        }
        python::finalize(kShutdownTimeout, [] {
            ap_log_error(APLOG_MARK, APLOG_WARNING, 0, apache::main_server(),
                         "WSGI0011: Python did not finish shutting down within %d seconds "
                         "(a non-daemon thread still running?); exiting the process (pid=%"
                         APR_PID_T_FMT ").",
                         static_cast<int>(kShutdownTimeout.count()), getpid());
            _exit(0);
        });
    } catch (...) {
    }
    return APR_SUCCESS;
}

constexpr std::size_t kWarnSubInterpreters = 16;

}  // namespace

python::Interpreter* interpreter_for(request_rec* r, const std::string& application_group) {
    std::string error;
    auto& all = python::interpreters();
    std::size_t before = all.sub_interpreter_count();
    python::Interpreter* interpreter =
        all.for_application_group(application_group, kMaxSubInterpreters, error);
    if (interpreter == nullptr) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      "WSGI0013: Cannot create the Python interpreter for application group "
                      "'%s': %s.",
                      application_group.c_str(), error.c_str());
        return nullptr;
    }
    std::size_t after = all.sub_interpreter_count();
    // Warn once past the threshold, then at every further multiple of it.
    if (after != before && after > kWarnSubInterpreters &&
        (after == kWarnSubInterpreters + 1 || after % kWarnSubInterpreters == 0)) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                      "WSGI0012: This process now has %" APR_SIZE_T_FMT " sub interpreters "
                      "(limit %" APR_SIZE_T_FMT "); application group names taken from the "
                      "request make them grow.",
                      after, kMaxSubInterpreters);
    }
    return interpreter;
}

int post_config(apr_pool_t* pconf, apr_pool_t*, apr_pool_t*, server_rec* s) noexcept {
    apache::set_main_server(s);
    int index = 0;
    for (server_rec* server = s; server != nullptr; server = server->next) {
        config::server_config(server).server_index = index++;
    }
    ap_add_version_component(pconf, "mod_wsgi/" MOD_WSGI_VERSION_STRING);
    ap_add_version_component(pconf, apr_psprintf(pconf, "Python/%d.%d", PY_MAJOR_VERSION,
                                                 PY_MINOR_VERSION));
    config::log_ignored_directives(s);
    return daemon::start_process_groups(pconf, s);
}

int check_config(apr_pool_t* pconf, apr_pool_t*, apr_pool_t*, server_rec* s) noexcept {
    return daemon::check_process_groups(pconf, s);
}

bool start_python(server_rec* s, apr_pool_t* pool, const config::DaemonGroup* group) {
    const config::ServerConfig& server = config::server_config(s);
    const char* mode = group != nullptr ? "daemon mode" : "embedded mode";
    python::RuntimeOptions options;
    options.python_path = server.python_path;
    if (server.python_home) {
        (server.python_home->virtual_environment ? options.virtual_environment
                                                 : options.home) = server.python_home->path;
    }
    if (group != nullptr) {
        // python-home= and python-path= of the group replace the server-wide ones.
        if (group->options.python_home) {
            config::PythonHome home;
            std::string version = std::to_string(PY_MAJOR_VERSION) + "." +
                                  std::to_string(PY_MINOR_VERSION);
            if (auto error = config::check_python_home(*group->options.python_home, version,
                                                       home)) {
                ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s,
                             "WSGI0001: WSGIDaemonProcess '%s' python-home: %s",
                             group->options.name.c_str(), error->c_str());
                return false;
            }
            options.virtual_environment.reset();
            options.home.reset();
            (home.virtual_environment ? options.virtual_environment : options.home) = home.path;
        }
        options.home_directory = group->options.home;
        if (!group->options.python_path.empty()) {
            options.python_path = group->options.python_path;
        }
        if (group->options.python_eggs) {
            options.python_eggs = group->options.python_eggs;
        }
    }
    options.optimization_level = server.python_optimize;
    options.warn_options = server.python_warnings;
    if (server.python_hash_seed) {
        options.random_hash_seed = server.python_hash_seed->random;
        if (!server.python_hash_seed->random) {
            options.hash_seed = server.python_hash_seed->seed;
        }
    }
    options.dont_write_bytecode = server.dont_write_bytecode;
    if (!options.python_eggs) {
        options.python_eggs = server.python_eggs;
    }
    options.destroy_interpreter = server.destroy_interpreter.value_or(true);
    if (auto error = python::initialize(options)) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s,
                     "WSGI0001: Python could not be initialised in %s: %s", mode,
                     error->c_str());
        if (!python::is_initialized()) {
            return false;
        }
    }
    std::vector<std::string> setup_failure;
    ProcessSetup setup;
    if (group != nullptr) {
        setup.process_group = group->options.name;
        setup.processes = std::max(group->options.processes, 1);
        setup.threads = std::max(group->options.threads, 1);
        setup.note_exit = &daemon::note_exit;
    }
    setup.restrictions = restrict_options(server);
    const std::string process_group = group != nullptr ? group->options.name : std::string();
    for (const auto& section : server.interpreter_options) {
        if (section.matches_process(process_group)) {
            setup.interpreter_options.push_back(section);
        }
    }
    set_process_setup(std::move(setup));
    // switch-interval=, a <WSGIInterpreterOptions> section's WSGISwitchInterval or, in an
    // Apache child, the server-wide one: how long a thread may hold the GIL while others wait
    // for it (sys.setswitchinterval; one value for the whole process).
    std::optional<double> switch_interval = config::resolve_switch_interval(
        server.interpreter_options, process_group,
        group == nullptr ? server.switch_interval : std::nullopt,
        group != nullptr ? group->options.switch_interval : std::nullopt);
    allow_server_metrics(group != nullptr ? group->options.server_metrics
                                          : server.server_metrics.value_or(false));
    python::interpreters().set_hooks(setup_interpreter, end_interpreter);
    {
        python::InterpreterLock lock(python::interpreters().main());
        if (!python::interpreters().setup_main()) {
            setup_failure = python::take_exception_lines();
        } else if (switch_interval) {
            Ref sys = Ref::steal(PyImport_ImportModule("sys"));
            Ref done = sys ? Ref::steal(PyObject_CallMethod(sys.get(), "setswitchinterval", "d",
                                                            *switch_interval))
                           : Ref();
            if (!done) {
                setup_failure = python::take_exception_lines();
            } else {
                char seconds[32];  // libc's %g: apr's drops the leading zero (".002")
                std::snprintf(seconds, sizeof(seconds), "%g", *switch_interval);
                python::GilRelease release;
                ap_log_error(APLOG_MARK, APLOG_INFO, 0, s,
                             "Python switch interval set to %s s in %s (pid=%" APR_PID_T_FMT
                             ").",
                             seconds, mode, getpid());
            }
        }
    }
    if (!setup_failure.empty()) {
        apache::log_lines(APLOG_CRIT, nullptr, s,
                          "WSGI0001: Setting up the Python interpreter failed.", setup_failure);
    }
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, s,
                 "Initialised Python %d.%d in %s (pid=%" APR_PID_T_FMT ").", PY_MAJOR_VERSION,
                 PY_MINOR_VERSION, mode, getpid());
    apr_pool_cleanup_register(pool, nullptr, finalize_python, apr_pool_cleanup_null);
    int threads = group != nullptr ? group->options.threads : 0;
    if (group == nullptr) {
        ap_mpm_query(AP_MPMQ_MAX_THREADS, &threads);
    }
    metrics::process().reset(metrics::now(), threads, group != nullptr);
    if (setup_failure.empty()) {
        // WSGIImportScript lines for this process group (%{GLOBAL}: embedded mode).
        preload_import_scripts(s, group != nullptr ? group->options.name.c_str() : "", pool);
    }
    return setup_failure.empty();
}

void child_init(apr_pool_t* pchild, server_rec* s) noexcept {
    try {
        apache::set_main_server(s);
        daemon::close_group_listeners();
        const config::ServerConfig& server = config::server_config(s);
        if (server.restrict_embedded.value_or(false)) {
            ap_log_error(APLOG_MARK, APLOG_INFO, 0, s,
                         "Python not initialised: WSGIRestrictEmbedded On (pid=%" APR_PID_T_FMT
                         ").",
                         getpid());
            return;
        }
        start_python(s, pchild, nullptr);
    } catch (const std::exception& e) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, "WSGI0001: Python initialisation failed: %s",
                     e.what());
    }
}

namespace {

// Sets r->filename for a URL that an alias mapped onto `target`: the target plus the rest of
// the URL, as mod_alias and mod_wsgi do, or, where the target is a script and the URL goes on
// past it, the script with the rest as path info (apache::split_path_info).
void map_alias_target(request_rec* r, std::string_view uri, std::string_view location,
                      std::size_t matched, std::string_view target) {
    std::string filename = common::alias_filename(uri, location, matched, target);
    r->filename = apr_pstrmemdup(r->pool, filename.data(), filename.size());
    std::string_view rest = common::alias_rest(uri, location, matched);
    if (!rest.empty() && rest.front() == '/') {
        apache::split_path_info(r, target);
    }
}

}  // namespace

int translate_name(request_rec* r) noexcept {
    try {
        if (r->uri == nullptr || (r->uri[0] != '/' && r->uri[0] != '\0')) {
            return DECLINED;
        }
        const config::ServerConfig& server = config::server_config(r->server);
        std::string_view uri(r->uri);
        for (const auto& alias : server.aliases) {
            std::size_t matched = 0;
            std::string target = alias.target;
            if (alias.regex != nullptr) {
                ap_regmatch_t matches[AP_MAX_REG_MATCH];
                if (ap_regexec(alias.regex, r->uri, AP_MAX_REG_MATCH, matches, 0) != 0 ||
                    matches[0].rm_so < 0) {
                    continue;
                }
                matched = static_cast<std::size_t>(matches[0].rm_eo);
                const char* substituted = ap_pregsub(r->pool, alias.target.c_str(), r->uri,
                                                     AP_MAX_REG_MATCH, matches);
                if (substituted == nullptr) {
                    // Longer than ap_pregsub allows (AP_PREGSUB_MAXLEN, 64 KiB), as mod_alias
                    // answers it.
                    ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                                  "WSGI0139: WSGIScriptAliasMatch target for this URL is longer "
                                  "than a regex substitution may make (64 KiB).");
                    return HTTP_INTERNAL_SERVER_ERROR;
                }
                target = substituted;
                if (matched == 0) {
                    continue;
                }
                std::string location(uri.substr(0, matched));
                map_alias_target(r, uri, location, matched, target);
            } else {
                matched = common::alias_match_length(uri, alias.location);
                if (matched == 0) {
                    continue;
                }
                map_alias_target(r, uri, alias.location, matched, alias.target);
            }
            r->handler = kHandlerName;
            ap_set_module_config(r->request_config, &wsgi_module,
                                 const_cast<config::ScriptAlias*>(&alias));
            return OK;
        }
        return DECLINED;
    } catch (...) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "WSGI0009: Internal error mapping the URL.");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
}

namespace {

// The WSGIHandlerScript named by r->handler, or nullptr.
const config::HandlerScript* handler_script_for(request_rec* r) {
    for (const auto& handler : config::dir_config(r).handler_scripts) {
        if (handler.name == r->handler) {
            return &handler;
        }
    }
    return nullptr;
}

// WSGIHandlerScript (mod_wsgi docs): the handler script's handle_request() serves the
// requested resource; its options stand where WSGIScriptAlias options would.
void apply_handler_script(request_rec* r, const config::HandlerScript& handler,
                          RequestSettings& settings) {
    const config::DirConfig& dir = config::dir_config(r);
    config::RequestIdentity identity = request_identity(r, settings.script_name);
    auto lookup = [r](std::string_view name) { return lookup_variable(r, name); };
    settings.script_filename = handler.script.path;
    settings.handler_script = handler.script.path;
    settings.callable_object = "handle_request";
    settings.process_group = config::expand_process_group(
        first_set(handler.script.process_group, dir.process_group), identity, lookup);
    settings.application_group = config::expand_application_group(
        first_set(handler.script.application_group, dir.application_group), identity, lookup);
    settings.pass_authorization =
        first_set(handler.script.pass_authorization, dir.pass_authorization).value_or(false);
}

}  // namespace

int handle_request(request_rec* r) noexcept {
    if (r->handler == nullptr) {
        return DECLINED;
    }
    const bool wsgi_script = std::strcmp(r->handler, kHandlerName) == 0 ||
                             std::strcmp(r->handler, "application/x-httpd-wsgi") == 0;
    const config::HandlerScript* handler_script = wsgi_script ? nullptr : handler_script_for(r);
    if (!wsgi_script && handler_script == nullptr) {
        return DECLINED;
    }
    try {
        if (handler_script == nullptr) {
            if (int status = check_target(r); status != OK) {
                return status;
            }
        }
        RequestSettings settings = resolve_settings(r);
        if (handler_script != nullptr) {
            apply_handler_script(r, *handler_script, settings);
        }
        if (int status = auth::apply_dispatch_script(r, settings); status != OK) {
            return status;
        }
        int status = ap_setup_client_block(
            r, settings.chunked_request ? REQUEST_CHUNKED_DECHUNK : REQUEST_CHUNKED_ERROR);
        if (status != OK) {
            return status;
        }
        if (!settings.process_group.empty()) {
            const config::DaemonGroup* group = daemon_group_for(r, settings);
            if (group == nullptr) {
                return HTTP_INTERNAL_SERVER_ERROR;
            }
            return daemon::serve_in_daemon(r, settings, *group, script_load_for(r, settings));
        }
        if (config::server_config(r->server).restrict_embedded.value_or(false)) {
            ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                          "WSGI0143: Embedded mode of mod_wsgi disabled by runtime "
                          "configuration (WSGIRestrictEmbedded On): %s",
                          r->filename);
            return HTTP_INTERNAL_SERVER_ERROR;
        }
        if (!python::is_initialized()) {
            ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                          "WSGI0007: Python is not available in this process: %s", r->filename);
            return HTTP_INTERNAL_SERVER_ERROR;
        }
        python::Interpreter* interpreter = interpreter_for(r, settings.application_group);
        if (interpreter == nullptr) {
            return HTTP_INTERNAL_SERVER_ERROR;
        }
        EmbeddedChannel channel(r);
        {
            ActiveRequest active(channel);
            python::InterpreterLock lock(*interpreter);
            status = serve_embedded(r, settings, *interpreter, channel);
        }
        channel.flush_deferred();  // the response's last block, now without the GIL
        return status;
    } catch (const std::exception& e) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      "WSGI0009: Internal error serving WSGI script '%s': %s", r->filename,
                      e.what());
        return HTTP_INTERNAL_SERVER_ERROR;
    } catch (...) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      "WSGI0009: Internal error serving WSGI script '%s'.", r->filename);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
}

}  // namespace wsgi::wsgi

#include "config/directives.hpp"

#include <apr_lib.h>
#include <apr_strings.h>
#include <http_core.h>
#include <unixd.h>

#include <exception>
#include <optional>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

// Only the version macros: the config layer checks WSGIPythonHome against the embedded
// Python's version without pulling in Python.h.
#include <patchlevel.h>

#include "apache/log.hpp"
#include "common/text.hpp"
#include "config/access_directives.hpp"
#include "config/config.hpp"
#include "config/directive_barrier.hpp"
#include "config/daemon_identity.hpp"
#include "config/daemon_options.hpp"
#include "config/import_script.hpp"
#include "config/options.hpp"

namespace wsgi::config {
namespace {

// Runs a directive body behind the error barrier (config/directive_barrier.hpp).
template <class Body>
const char* barrier(cmd_parms* cmd, Body&& body) noexcept {
    return directive_barrier(cmd, std::forward<Body>(body));
}

// barrier() for a directive of the main server only (mod_wsgi's GLOBAL_ONLY directives).
template <class Body>
const char* global_barrier(cmd_parms* cmd, Body&& body) noexcept {
    return barrier(cmd, [&]() -> std::string {
        if (const char* err = ap_check_cmd_context(cmd, GLOBAL_ONLY)) {
            return err;
        }
        return body();
    });
}

// Why a script loaded at process start (WSGIImportScript, a preloading WSGIScriptAlias) may
// not go to `process_group` from this server: not defined by an earlier WSGIDaemonProcess, or
// defined in another virtual host. nullopt when it may ("" is the Apache children).
std::optional<std::string> import_group_error(cmd_parms* cmd, const std::string& process_group) {
    if (process_group.empty()) {
        return std::nullopt;
    }
    server_rec* main = cmd->server->is_virtual ? configuring_main_server() : cmd->server;
    const DaemonGroup* group = main != nullptr ? find_daemon_group(main, process_group) : nullptr;
    if (group == nullptr) {
        return "process group '" + process_group +
               "' is not defined by an earlier WSGIDaemonProcess (use process-group=%{GLOBAL} "
               "for the Apache child processes)";
    }
    if (group->server != cmd->server && group->server->is_virtual) {
        return "process group '" + process_group +
               "' is defined in another virtual host and not accessible here";
    }
    return std::nullopt;
}

const char* set_script_alias(cmd_parms* cmd, void*, const char* args) noexcept {
    return barrier(cmd, [&]() -> std::string {
        if (const char* err = ap_check_cmd_context(cmd, NOT_IN_DIR_CONTEXT)) {
            return err;
        }
        const bool is_match = cmd->info != nullptr;
        std::string location = ap_getword_conf(cmd->temp_pool, &args);
        std::string target = ap_getword_conf(cmd->temp_pool, &args);
        if (location.empty() || target.empty()) {
            return directive_name(cmd) + " requires a URL and a file or directory path";
        }
        ScriptAlias alias;
        alias.location = location;
        alias.target = target;
        while (*args != '\0') {
            std::string word = ap_getword_conf(cmd->temp_pool, &args);
            if (word.empty()) {
                break;
            }
            if (auto error = parse_script_alias_option(word, alias.options)) {
                return directive_name(cmd) + ": " + *error;
            }
        }
        if (is_match) {
            alias.regex = ap_pregcomp(cmd->pool, location.c_str(), AP_REG_EXTENDED);
            if (alias.regex == nullptr) {
                return directive_name(cmd) + ": regular expression '" + location +
                       "' could not be compiled";
            }
        }
        if (alias.options.process_group && alias.options.application_group) {
            std::error_code ignored;
            if (!std::filesystem::is_directory(alias.target, ignored)) {
                // Only into a group this server may use, defined before the alias (as
                // WSGIImportScript requires): another virtual host's group would run the
                // script as that host's user, which its requests would be refused.
                auto import = preload_from_alias(alias.target, is_match,
                                                 *alias.options.process_group,
                                                 *alias.options.application_group);
                if (import && !import_group_error(cmd, import->process_group)) {
                    server_config(cmd->server).import_scripts.push_back(std::move(*import));
                }
            }
        }
        server_config(cmd->server).aliases.push_back(std::move(alias));
        return {};
    });
}

template <std::optional<std::string> DirConfig::*Field>
const char* set_dir_string(cmd_parms* cmd, void* mconfig, const char* value) noexcept {
    return barrier(cmd, [&]() -> std::string {
        if (*value == '\0') {
            return directive_name(cmd) + " requires a non-empty value";
        }
        static_cast<DirConfig*>(mconfig)->*Field = std::string(value);
        return {};
    });
}

template <std::optional<bool> DirConfig::*Field>
const char* set_dir_flag(cmd_parms* cmd, void* mconfig, const char* value) noexcept {
    return barrier(cmd, [&]() -> std::string {
        auto flag = parse_on_off(value);
        if (!flag) {
            return directive_name(cmd) + " must be On or Off, not '" + value + "'";
        }
        static_cast<DirConfig*>(mconfig)->*Field = *flag;
        return {};
    });
}

const char* set_map_head_to_get(cmd_parms* cmd, void* mconfig, const char* value) noexcept {
    return barrier(cmd, [&]() -> std::string {
        auto mode = parse_map_head_to_get(value);
        if (!mode) {
            return directive_name(cmd) + " must be Off, On or Auto, not '" + value + "'";
        }
        static_cast<DirConfig*>(mconfig)->map_head_to_get = *mode;
        return {};
    });
}

constexpr const char* kInterpreterOptions = "<WSGIInterpreterOptions";

bool first_configuration_reading();
void warn_no_gil_change(server_rec* s, const char* directive, const char* where);
void warn_section_switch_interval(server_rec* s, const InterpreterOptions& section);

// The <WSGIInterpreterOptions> section whose directives httpd is walking, or null when the
// directive is not inside one (interpreter_options_section() sets the section's data).
InterpreterOptions* enclosing_section(cmd_parms* cmd) {
    const ap_directive_t* parent = cmd->directive != nullptr ? cmd->directive->parent : nullptr;
    if (parent == nullptr || parent->data == nullptr ||
        !common::iequals(parent->directive, kInterpreterOptions)) {
        return nullptr;
    }
    return static_cast<InterpreterOptions*>(parent->data);
}

const char* set_python_path(cmd_parms* cmd, void*, const char* value) noexcept {
    return global_barrier(cmd, [&]() -> std::string {
        auto dirs = common::split_path_list(value);
        if (dirs.empty()) {
            return directive_name(cmd) + " requires at least one directory";
        }
        InterpreterOptions* section = enclosing_section(cmd);
        auto& path = section != nullptr ? section->python_path
                                        : server_config(cmd->server).python_path;
        path.insert(path.end(), dirs.begin(), dirs.end());
        return {};
    });
}

// A main-server-only On/Off directive stored in ServerConfig.
template <std::optional<bool> ServerConfig::*Field>
const char* set_global_flag(cmd_parms* cmd, void*, const char* value) noexcept {
    return global_barrier(cmd, [&]() -> std::string {
        auto flag = parse_on_off(value);
        if (!flag) {
            return directive_name(cmd) + " must be On or Off, not '" + value + "'";
        }
        server_config(cmd->server).*Field = *flag;
        return {};
    });
}

// An On/Off directive of the main server that a <WSGIInterpreterOptions> section may also
// hold (mod_wsgi 6): inside one it is the section's.
template <std::optional<bool> ServerConfig::*Field, std::optional<bool> InterpreterOptions::*Own>
const char* set_interpreter_flag(cmd_parms* cmd, void*, const char* value) noexcept {
    return global_barrier(cmd, [&]() -> std::string {
        auto flag = parse_on_off(value);
        if (!flag) {
            return directive_name(cmd) + " must be On or Off, not '" + value + "'";
        }
        InterpreterOptions* section = enclosing_section(cmd);
        if (section != nullptr) {
            section->*Own = *flag;
        } else {
            server_config(cmd->server).*Field = *flag;
        }
        const bool changes_gil = Own == &InterpreterOptions::per_interpreter_gil ||
                                 Own == &InterpreterOptions::free_threading;
        if (changes_gil && *flag && first_configuration_reading()) {
            warn_no_gil_change(cmd->server, cmd->cmd->name,
                               section != nullptr ? " in <WSGIInterpreterOptions>" : "");
        }
        return {};
    });
}

const char* set_switch_interval(cmd_parms* cmd, void*, const char* value) noexcept {
    return global_barrier(cmd, [&]() -> std::string {
        auto seconds = parse_switch_interval(value);
        if (!seconds) {
            return directive_name(cmd) + " must be a positive number of seconds, not '" +
                   value + "'";
        }
        if (InterpreterOptions* section = enclosing_section(cmd)) {
            section->switch_interval = *seconds;
        } else {
            server_config(cmd->server).switch_interval = *seconds;
        }
        return {};
    });
}

// <WSGIInterpreterOptions [process-group=NAME] [application-group=NAME]> ... (mod_wsgi 6):
// checks the selectors and that only the seven directives mod_wsgi 6 allows are inside, then
// has httpd run those with the section as their enclosing_section().
const char* interpreter_options_section(cmd_parms* cmd, void*, const char* args) noexcept {
    return global_barrier(cmd, [&]() -> std::string {
        const char* close = strrchr(args, '>');
        if (close == nullptr) {
            return std::string(kInterpreterOptions) + "> directive missing closing '>'";
        }
        const char* inner = apr_pstrmemdup(cmd->temp_pool, args, close - args);
        std::vector<std::string> words;
        while (*inner != '\0') {
            std::string word = ap_getword_conf(cmd->temp_pool, &inner);
            if (word.empty()) {
                break;
            }
            words.push_back(std::move(word));
        }
        InterpreterOptions section;
        if (auto error = parse_interpreter_selectors(words, section)) {
            return std::string(kInterpreterOptions) + ">: " + *error;
        }
        ap_directive_t* self = cmd->directive;
        for (const ap_directive_t* child = self->first_child; child != nullptr;
             child = child->next) {
            if (!allowed_in_interpreter_options(child->directive)) {
                return std::string(kInterpreterOptions) + ">: " + child->directive +
                       " is not allowed here; only WSGIPerInterpreterGIL, WSGIFreeThreading, "
                       "WSGISwitchInterval, WSGIPythonPath, WSGIRestrictStdin, "
                       "WSGIRestrictStdout and WSGIRestrictSignal are";
            }
        }
        auto& sections = server_config(cmd->server).interpreter_options;
        sections.push_back(std::move(section));
        self->data = &sections.back();  // stable: nothing inside may add a section
        const char* error = ap_walk_config(self->first_child, cmd, cmd->context);
        self->data = nullptr;
        cmd->directive = self;
        if (error != nullptr) {
            return error;
        }
        if (sections.back().switch_interval && sections.back().application_group &&
            first_configuration_reading()) {
            warn_section_switch_interval(cmd->server, sections.back());
        }
        return {};
    });
}

// mod_wsgi 6's telemetry (datagrams to an external collector) is not part of this module: a
// configuration that relies on it is refused rather than run without it.
const char* refuse_telemetry(cmd_parms* cmd, void*, const char*) noexcept {
    return barrier(cmd, [&]() -> std::string {
        return directive_name(cmd) +
               " (mod_wsgi 6 telemetry) is not supported by this module; remove it, or use "
               "mod_wsgi.subscribe_events() and the metrics functions of the mod_wsgi module";
    });
}

// "3.11": the Python version this module was built against and embeds.
std::string embedded_python_version() {
    return std::to_string(PY_MAJOR_VERSION) + "." + std::to_string(PY_MINOR_VERSION);
}

// Checked here, so that `apache2 -t` and startup fail with the directive and the path named,
// instead of each child dying with Python's bare "No module named 'encodings'".
const char* set_python_home(cmd_parms* cmd, void*, const char* value) noexcept {
    return global_barrier(cmd, [&]() -> std::string {
        PythonHome home;
        if (auto error = check_python_home(value, embedded_python_version(), home)) {
            return directive_name(cmd) + ": " + *error;
        }
        server_config(cmd->server).python_home = std::move(home);
        return {};
    });
}

const char* set_python_optimize(cmd_parms* cmd, void*, const char* value) noexcept {
    return global_barrier(cmd, [&]() -> std::string {
        auto level = parse_optimize_level(value);
        if (!level) {
            return directive_name(cmd) + " must be 0, 1 or 2, not '" + value + "'";
        }
        server_config(cmd->server).python_optimize = *level;
        return {};
    });
}

const char* add_python_warnings(cmd_parms* cmd, void*, const char* value) noexcept {
    return global_barrier(cmd, [&]() -> std::string {
        if (auto error = check_warning_option(value)) {
            return directive_name(cmd) + ": " + *error;
        }
        server_config(cmd->server).python_warnings.emplace_back(value);
        return {};
    });
}

const char* set_python_hash_seed(cmd_parms* cmd, void*, const char* value) noexcept {
    return global_barrier(cmd, [&]() -> std::string {
        auto seed = parse_hash_seed(value);
        if (!seed) {
            return directive_name(cmd) + " must be 'random' or an integer 0..4294967295, not '" +
                   value + "'";
        }
        server_config(cmd->server).python_hash_seed = *seed;
        return {};
    });
}

const char* set_python_eggs(cmd_parms* cmd, void*, const char* value) noexcept {
    return global_barrier(cmd, [&]() -> std::string {
        if (*value == '\0') {
            return directive_name(cmd) + " requires a directory";
        }
        server_config(cmd->server).python_eggs = std::string(value);
        return {};
    });
}

void warn_lazy_initialization_off(server_rec* s) {
    ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                 "WSGI0021: WSGILazyInitialization Off is ignored: Python is only ever "
                 "initialised in the Apache child processes, never in the parent.");
}

// httpd reads the configuration once on the console (also for `apache2 -t`), then again,
// and on every restart, with the error log not yet open: messages of those readings go
// nowhere, so log_ignored_directives() repeats the warning from post_config.
bool first_configuration_reading() {
    return ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG;
}

// mod_wsgi 6 removed WSGILazyInitialization (initialising Python in the root parent was
// unsafe); configurations written for mod_wsgi 4 may still carry it, so it is accepted.
const char* set_lazy_initialization(cmd_parms* cmd, void*, const char* value) noexcept {
    return global_barrier(cmd, [&]() -> std::string {
        auto flag = parse_on_off(value);
        if (!flag) {
            return directive_name(cmd) + " must be On or Off, not '" + value + "'";
        }
        server_config(cmd->server).lazy_initialization = *flag;
        if (!*flag && first_configuration_reading()) {
            warn_lazy_initialization_off(cmd->server);
        }
        return {};
    });
}

// WSGIPerInterpreterGIL On and WSGIFreeThreading On (mod_wsgi 6) cannot take effect here:
// every interpreter of a process shares one GIL (PEP 684 needs Python 3.12, PEP 703 a
// free-threaded build, and this module uses neither).
void warn_no_gil_change(server_rec* s, const char* directive, const char* where) {
    ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                 "WSGI0024: %s On%s has no effect: every Python interpreter of a process "
                 "shares one GIL with this module and Python %d.%d.",
                 directive, where, PY_MAJOR_VERSION, PY_MINOR_VERSION);
}

void warn_section_switch_interval(server_rec* s, const InterpreterOptions& section) {
    ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                 "WSGI0025: WSGISwitchInterval in <WSGIInterpreterOptions application-group=%s> "
                 "is ignored: without a per-interpreter GIL the switch interval is one value "
                 "for the whole process; select on process-group= only to set it.",
                 section.application_group->c_str());
}

// The warnings about what the mod_wsgi 6 directives cannot do here (see above).
void warn_interpreter_options(server_rec* s, const ServerConfig& config) {
    if (config.per_interpreter_gil.value_or(false)) {
        warn_no_gil_change(s, "WSGIPerInterpreterGIL", "");
    }
    if (config.free_threading.value_or(false)) {
        warn_no_gil_change(s, "WSGIFreeThreading", "");
    }
    for (const auto& section : config.interpreter_options) {
        const char* where = " in <WSGIInterpreterOptions>";
        if (section.per_interpreter_gil.value_or(false)) {
            warn_no_gil_change(s, "WSGIPerInterpreterGIL", where);
        }
        if (section.free_threading.value_or(false)) {
            warn_no_gil_change(s, "WSGIFreeThreading", where);
        }
        if (section.switch_interval && section.application_group) {
            warn_section_switch_interval(s, section);
        }
    }
}

void warn_newrelic_ignored(server_rec* s, const char* directive) {
    ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                 "WSGI0022: %s is ignored: mod_wsgi no longer starts the New Relic agent (mod_wsgi "
                 "6 removed it); start it from the WSGI script (newrelic.agent.initialize()) or "
                 "with newrelic-admin.",
                 directive);
}

// mod_wsgi 4 could start the New Relic agent in every interpreter and wrap each application
// with it; mod_wsgi 6 removed that. Configurations written for mod_wsgi 4 may still carry the
// two directives, so they are accepted, with a warning that they do nothing.
template <std::optional<std::string> ServerConfig::*Field>
const char* set_newrelic(cmd_parms* cmd, void*, const char* value) noexcept {
    return global_barrier(cmd, [&]() -> std::string {
        server_config(cmd->server).*Field = std::string(value);
        if (first_configuration_reading()) {
            warn_newrelic_ignored(cmd->server, cmd->cmd->name);
        }
        return {};
    });
}

// The option words of WSGIDaemonProcess as mod_wsgi reads them: a name up to '=' (or white
// space, which parse_daemon_options() then reports), and a value that httpd's quoting rules
// apply to, so display-name='%{GROUP}' and lang="en_US.UTF-8" lose their quotes.
std::vector<std::string> daemon_option_words(apr_pool_t* pool, const char* args) {
    std::vector<std::string> words;
    while (true) {
        while (*args != '\0' && apr_isspace(*args)) {
            ++args;
        }
        if (*args == '\0') {
            return words;
        }
        const char* start = args;
        while (*args != '\0' && *args != '=' && !apr_isspace(*args)) {
            ++args;
        }
        std::string word(start, args);
        if (*args == '=') {
            ++args;
            word += '=';
            if (*args != '\0' && !apr_isspace(*args)) {
                word += ap_getword_conf(pool, &args);
            }
        }
        words.push_back(std::move(word));
    }
}

// The checks that need the system: python-home= like WSGIPythonHome, and the accounts, so
// that `apache2 -t` names an unknown user or group instead of the daemon process failing.
std::string check_daemon_environment(DaemonOptions& options) {
    if (options.python_home) {
        PythonHome home;
        if (auto error = check_python_home(*options.python_home, embedded_python_version(), home)) {
            return "option 'python-home': " + *error;
        }
        options.python_home = home.path;
    }
    DaemonIdentity identity;
    if (auto error = resolve_daemon_identity(options, ap_unixd_config.user_id,
                                             ap_unixd_config.group_id, identity)) {
        return *error;
    }
    return {};
}

const char* add_daemon_process(cmd_parms* cmd, void*, const char* args) noexcept {
    return barrier(cmd, [&]() -> std::string {
        if (const char* err = ap_check_cmd_context(cmd, NOT_IN_DIR_CONTEXT)) {
            return err;
        }
        DaemonOptions options;
        options.name = ap_getword_conf(cmd->temp_pool, &args);
        if (options.name.empty()) {
            return directive_name(cmd) + " requires the name of the daemon process group";
        }
        const std::string context = directive_name(cmd) + " " + options.name + ": ";
        std::vector<std::string> words = daemon_option_words(cmd->temp_pool, args);
        std::vector<std::string_view> views(words.begin(), words.end());
        if (auto error = parse_daemon_options(views, options)) {
            return context + *error;
        }
        std::string error = check_daemon_environment(options);
        if (!error.empty()) {
            return context + error;
        }
        // Names are unique across the whole server (mod_wsgi docs), so every group goes to
        // the main server's registry, wherever it is defined.
        server_rec* main = cmd->server->is_virtual ? configuring_main_server() : cmd->server;
        if (main == nullptr) {
            return context + "the main server's configuration is not available";
        }
        if (find_daemon_group(main, options.name) != nullptr) {
            return context + "the name duplicates a previous WSGIDaemonProcess definition";
        }
        auto& registry = server_config(main).daemon_groups;
        registry.push_back(DaemonGroup{std::move(options), cmd->server, registry.size()});
        return {};
    });
}

const char* set_socket_prefix(cmd_parms* cmd, void*, const char* value) noexcept {
    return global_barrier(cmd, [&]() -> std::string {
        if (*value == '\0') {
            return directive_name(cmd) + " requires a path";
        }
        // Kept raw: DefaultRuntimeDir may come later in the configuration (socket_prefix()).
        server_config(cmd->server).socket_prefix = std::string(value);
        return {};
    });
}

// ITERATE: called once per name; several WSGIRestrictProcess lines in a scope add up.
const char* add_restrict_process(cmd_parms* cmd, void* mconfig, const char* name) noexcept {
    return barrier(cmd, [&]() -> std::string {
        if (*name == '\0') {
            return directive_name(cmd) + " requires process group names";
        }
        auto& allowed = static_cast<DirConfig*>(mconfig)->restrict_process;
        if (!allowed) {
            allowed.emplace();
        }
        allowed->emplace_back(name);
        return {};
    });
}

// The cross-process lock types APR has on Linux, as mod_wsgi offers them.
const char* set_accept_mutex(cmd_parms* cmd, void*, const char* value) noexcept {
    return global_barrier(cmd, [&]() -> std::string {
        for (std::string_view mechanism :
             {"default", "flock", "fcntl", "sysvsem", "posixsem", "pthread"}) {
            if (common::iequals(value, mechanism)) {
                server_config(cmd->server).accept_mutex = std::string(mechanism);
                return {};
            }
        }
        return directive_name(cmd) + ": '" + value +
               "' is not one of default, flock, fcntl, sysvsem, posixsem, pthread";
    });
}

// WSGIImportScript FILE process-group=... application-group=... (mod_wsgi docs): loaded when
// a process of the group starts. A process group other than %{GLOBAL} must be a
// WSGIDaemonProcess defined earlier and visible here, as mod_wsgi requires.
const char* add_import_script(cmd_parms* cmd, void*, const char* args) noexcept {
    return barrier(cmd, [&]() -> std::string {
        if (const char* err = ap_check_cmd_context(cmd, NOT_IN_DIR_CONTEXT)) {
            return err;
        }
        std::string script = ap_getword_conf(cmd->temp_pool, &args);
        std::vector<std::string> options;
        while (*args != '\0') {
            std::string word = ap_getword_conf(cmd->temp_pool, &args);
            if (word.empty()) {
                break;
            }
            options.push_back(std::move(word));
        }
        ImportScript import;
        if (auto error = parse_import_script(script, options, import)) {
            return directive_name(cmd) + ": " + *error;
        }
        if (auto error = import_group_error(cmd, import.process_group)) {
            return directive_name(cmd) + ": " + *error;
        }
        server_config(cmd->server).import_scripts.push_back(std::move(import));
        return {};
    });
}


constexpr int kDirLevel = OR_FILEINFO;  // S V D and .htaccess with AllowOverride FileInfo
constexpr int kServerAndDir = RSRC_CONF | ACCESS_CONF;

}  // namespace

void log_ignored_directives(server_rec* s) noexcept {
    if (first_configuration_reading()) {
        return;
    }
    const ServerConfig& config = server_config(s);
    if (!config.lazy_initialization.value_or(true)) {
        warn_lazy_initialization_off(s);
    }
    if (config.verbose_debugging.value_or(false)) {
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, s,
                     "WSGI0023: WSGIVerboseDebugging On is ignored; LogLevel wsgi:debug logs "
                     "what the module does.");
    }
    if (config.newrelic_config_file) {
        warn_newrelic_ignored(s, "WSGINewRelicConfigFile");
    }
    if (config.newrelic_environment) {
        warn_newrelic_ignored(s, "WSGINewRelicEnvironment");
    }
    warn_interpreter_options(s, config);
}

const command_rec kDirectives[] = {
    {"WSGIScriptAlias", to_cmd_func(set_script_alias), nullptr, RSRC_CONF, RAW_ARGS,
     "Map a URL prefix to a WSGI script file or directory: URL PATH [option=value ...]."},
    {"WSGIScriptAliasMatch", to_cmd_func(set_script_alias), reinterpret_cast<void*>(1),
     RSRC_CONF, RAW_ARGS,
     "Map a URL regular expression to a WSGI script: REGEX PATH [option=value ...]."},
    // Also in .htaccess (AllowOverride FileInfo), as issue 3 asks; mod_wsgi allows S V D.
    {"WSGIApplicationGroup",
     to_cmd_func(set_dir_string<&DirConfig::application_group>), nullptr,
     kServerAndDir | OR_FILEINFO, TAKE1, "Application group (Python interpreter) the WSGI application runs in."},
    {"WSGIProcessGroup", to_cmd_func(set_dir_string<&DirConfig::process_group>), nullptr,
     kServerAndDir, TAKE1, "Process group the WSGI application runs in (%{GLOBAL}: embedded)."},
    {"WSGICallableObject", to_cmd_func(set_dir_string<&DirConfig::callable_object>),
     nullptr, kDirLevel, TAKE1, "Name of the WSGI application object in the script."},
    {"WSGIPassAuthorization", to_cmd_func(set_dir_flag<&DirConfig::pass_authorization>),
     nullptr, kDirLevel, TAKE1, "On|Off: pass the Authorization header to the application."},
    {"WSGIChunkedRequest", to_cmd_func(set_dir_flag<&DirConfig::chunked_request>), nullptr,
     kDirLevel, TAKE1, "On|Off: accept request bodies with Transfer-Encoding: chunked."},
    {"WSGIEnableSendfile", to_cmd_func(set_dir_flag<&DirConfig::enable_sendfile>), nullptr,
     kDirLevel, TAKE1, "On|Off: let wsgi.file_wrapper responses use sendfile()."},
    {"WSGIErrorOverride", to_cmd_func(set_dir_flag<&DirConfig::error_override>), nullptr,
     kDirLevel, TAKE1, "On|Off: replace application error pages by Apache's ErrorDocument."},
    {"WSGIScriptReloading", to_cmd_func(set_dir_flag<&DirConfig::script_reloading>), nullptr,
     kDirLevel, TAKE1, "On|Off: reload a WSGI script when its file changes."},
    {"WSGIIgnoreActivity", to_cmd_func(set_dir_flag<&DirConfig::ignore_activity>), nullptr,
     kDirLevel, TAKE1,
     "On|Off: requests here do not count as activity for a daemon's inactivity-timeout."},
    {"WSGIMapHEADToGET", to_cmd_func(set_map_head_to_get), nullptr, kDirLevel, TAKE1,
     "Off|On|Auto: present HEAD requests to the application as GET."},
    {"WSGICaseSensitivity", to_cmd_func(set_global_flag<&ServerConfig::case_sensitivity>), nullptr, RSRC_CONF, TAKE1,
     "On|Off: whether file names are case sensitive (script module names)."},
    {"WSGIPythonPath", to_cmd_func(set_python_path), nullptr, RSRC_CONF, TAKE1,
     "Colon-separated directories added to sys.path with site.addsitedir()."},
    {"WSGIPythonHome", to_cmd_func(set_python_home), nullptr, RSRC_CONF, TAKE1,
     "Python virtual environment or installation prefix (prefix[:exec_prefix])."},
    {"WSGIPythonOptimize", to_cmd_func(set_python_optimize), nullptr, RSRC_CONF, TAKE1,
     "0|1|2: Python optimisation level (python -O, -OO)."},
    {"WSGIPythonWarnings", to_cmd_func(add_python_warnings), nullptr, RSRC_CONF, TAKE1,
     "A Python warnings filter entry (python -W action:message:category:module:lineno)."},
    {"WSGIPythonHashSeed", to_cmd_func(set_python_hash_seed), nullptr, RSRC_CONF, TAKE1,
     "random|0..4294967295: seed for Python's hash randomisation (PYTHONHASHSEED)."},
    {"WSGIDontWriteBytecode", to_cmd_func(set_global_flag<&ServerConfig::dont_write_bytecode>),
     nullptr, RSRC_CONF, TAKE1, "On|Off: do not write .pyc files (python -B)."},
    {"WSGIPythonEggs", to_cmd_func(set_python_eggs), nullptr, RSRC_CONF, TAKE1,
     "Directory for the Python eggs cache (PYTHON_EGG_CACHE)."},
    {"WSGIRestrictStdin",
     to_cmd_func(set_interpreter_flag<&ServerConfig::restrict_stdin,
                                      &InterpreterOptions::restrict_stdin>),
     nullptr, RSRC_CONF, TAKE1, "On|Off: make any use of sys.stdin raise OSError."},
    {"WSGIRestrictStdout",
     to_cmd_func(set_interpreter_flag<&ServerConfig::restrict_stdout,
                                      &InterpreterOptions::restrict_stdout>),
     nullptr, RSRC_CONF, TAKE1, "On|Off: make any use of sys.stdout raise OSError."},
    {"WSGIRestrictSignal",
     to_cmd_func(set_interpreter_flag<&ServerConfig::restrict_signal,
                                      &InterpreterOptions::restrict_signal>),
     nullptr, RSRC_CONF, TAKE1, "On|Off: ignore (and log) signal.signal() registrations."},
    // mod_wsgi 6.
    {"WSGISwitchInterval", to_cmd_func(set_switch_interval), nullptr, RSRC_CONF, TAKE1,
     "Seconds: sys.setswitchinterval() in every process (how long a thread may keep the GIL)."},
    {"WSGIPerInterpreterGIL",
     to_cmd_func(set_interpreter_flag<&ServerConfig::per_interpreter_gil,
                                      &InterpreterOptions::per_interpreter_gil>),
     nullptr, RSRC_CONF, TAKE1, "On|Off: accepted; no effect with this module (one GIL)."},
    {"WSGIFreeThreading",
     to_cmd_func(set_interpreter_flag<&ServerConfig::free_threading,
                                      &InterpreterOptions::free_threading>),
     nullptr, RSRC_CONF, TAKE1, "On|Off: accepted; no effect with this module (one GIL)."},
    {kInterpreterOptions, to_cmd_func(interpreter_options_section), nullptr, RSRC_CONF,
     RAW_ARGS, "Settings for the interpreters matching process-group= / application-group=."},
    {"WSGITelemetryService", to_cmd_func(refuse_telemetry), nullptr, RSRC_CONF, RAW_ARGS,
     "mod_wsgi 6 telemetry: not supported."},
    {"WSGITelemetryOptions", to_cmd_func(refuse_telemetry), nullptr, RSRC_CONF, RAW_ARGS,
     "mod_wsgi 6 telemetry: not supported."},
    {"WSGISlowRequests", to_cmd_func(refuse_telemetry), nullptr, RSRC_CONF, RAW_ARGS,
     "mod_wsgi 6 telemetry: not supported."},
    {"WSGIRestrictEmbedded", to_cmd_func(set_global_flag<&ServerConfig::restrict_embedded>),
     nullptr, RSRC_CONF, TAKE1, "On|Off: refuse embedded mode; no Python in Apache children."},
    {"WSGIDestroyInterpreter",
     to_cmd_func(set_global_flag<&ServerConfig::destroy_interpreter>), nullptr, RSRC_CONF,
     TAKE1, "On|Off: finalise Python when an Apache child process exits."},
    {"WSGILazyInitialization", to_cmd_func(set_lazy_initialization), nullptr, RSRC_CONF, TAKE1,
     "On|Off: accepted for compatibility; Python is never initialised in the parent."},
    {"WSGIVerboseDebugging", to_cmd_func(set_global_flag<&ServerConfig::verbose_debugging>),
     nullptr, RSRC_CONF, TAKE1,
     "On|Off: accepted for compatibility; LogLevel wsgi:debug sets what is logged."},
    {"WSGINewRelicConfigFile",
     to_cmd_func(set_newrelic<&ServerConfig::newrelic_config_file>), nullptr, RSRC_CONF,
     TAKE1, "FILE: accepted for compatibility with mod_wsgi 4 and ignored."},
    {"WSGINewRelicEnvironment",
     to_cmd_func(set_newrelic<&ServerConfig::newrelic_environment>), nullptr, RSRC_CONF,
     TAKE1, "NAME: accepted for compatibility with mod_wsgi 4 and ignored."},
    {"WSGIServerMetrics", to_cmd_func(set_global_flag<&ServerConfig::server_metrics>), nullptr,
     RSRC_CONF, TAKE1, "On|Off: let mod_wsgi.server_metrics() return Apache's scoreboard."},
    {"WSGIImportScript", to_cmd_func(add_import_script), nullptr, RSRC_CONF, RAW_ARGS,
     "Load a script when a process starts: FILE process-group=NAME application-group=NAME."},
    {"WSGIDaemonProcess", to_cmd_func(add_daemon_process), nullptr, RSRC_CONF, RAW_ARGS,
     "Define a daemon process group: NAME [option=value ...]."},
    {"WSGISocketPrefix", to_cmd_func(set_socket_prefix), nullptr, RSRC_CONF, TAKE1,
     "Path prefix of the daemon processes' UNIX sockets (relative: to DefaultRuntimeDir)."},
    {"WSGIRestrictProcess", to_cmd_func(add_restrict_process), nullptr, kServerAndDir, ITERATE,
     "Process groups that may be selected in this scope: NAME ..."},
    {"WSGISocketRotation", to_cmd_func(set_global_flag<&ServerConfig::socket_rotation>),
     nullptr, RSRC_CONF, TAKE1, "On|Off: new daemon socket names on each Apache restart."},
    {"WSGIAcceptMutex", to_cmd_func(set_accept_mutex), nullptr, RSRC_CONF, TAKE1,
     "Lock serialising accept() in daemon processes: default, flock, fcntl, sysvsem, ..."},
    // Access control, handler and dispatch scripts, trusted proxies (access_directives.cpp).
    {"WSGIAuthUserScript", to_cmd_func(set_auth_user_script), nullptr, OR_AUTHCFG, RAW_ARGS,
     "Authentication provider 'wsgi': FILE [application-group=NAME]."},
    {"WSGIAuthGroupScript", to_cmd_func(set_auth_group_script), nullptr, OR_AUTHCFG, RAW_ARGS,
     "Groups for 'Require wsgi-group': FILE [application-group=NAME]."},
    {"WSGIGroupAuthoritative", to_cmd_func(set_group_authoritative), nullptr, OR_AUTHCFG,
     TAKE1, "On|Off: whether a failed 'Require wsgi-group' denies or stays neutral."},
    {"WSGIAccessScript", to_cmd_func(set_access_script), nullptr, OR_AUTHCFG, RAW_ARGS,
     "Host access control script: FILE [application-group=NAME]."},
    // Not in .htaccess (as with mod_wsgi): these name Python code to run, or the interpreter
    // another application runs in, which only the server's administrator may choose.
    {"WSGIDispatchScript", to_cmd_func(set_dispatch_script), nullptr, kServerAndDir, RAW_ARGS,
     "Script choosing process group, application group and callable per request."},
    {"WSGIHandlerScript", to_cmd_func(add_handler_script), nullptr, kServerAndDir, RAW_ARGS,
     "Named handler for SetHandler/AddHandler: NAME FILE [option=value ...]."},
    {"WSGIPassApacheRequest", to_cmd_func(set_pass_apache_request), nullptr, kServerAndDir,
     TAKE1,
     "On|Off: add apache.request_rec to the environ (embedded mode only)."},
    {"WSGITrustedProxyHeaders", to_cmd_func(add_trusted_proxy_header), nullptr, kDirLevel,
     ITERATE, "Proxy headers to trust from trusted proxies: HEADER ..."},
    {"WSGITrustedProxies", to_cmd_func(add_trusted_proxy), nullptr, kDirLevel, ITERATE,
     "Addresses or CIDR blocks of trusted front-end proxies: ADDRESS ..."},
    {nullptr, nullptr, nullptr, 0, RAW_ARGS, nullptr},
};

}  // namespace wsgi::config

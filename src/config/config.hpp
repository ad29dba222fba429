#pragma once
// Per-server and per-directory configuration of the module, owned by Apache's configuration
// pools (apache/pool.hpp). Per-directory values are std::optional: unset means "inherit",
// so merging is one rule (child if set, else parent) and defaults apply only at use.
// Directive contexts and defaults follow the mod_wsgi "Configuration Directives" docs.

// httpd.h first: ap_regex.h relies on its definitions.
#include <httpd.h>
// clang-format off
#include <ap_regex.h>
// clang-format on
#include <apr_pools.h>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/trusted_proxy.hpp"
#include "config/access_scripts.hpp"
#include "config/daemon_options.hpp"
#include "config/import_script.hpp"
#include "config/interpreter_options.hpp"
#include "config/options.hpp"

namespace wsgi::config {

// One WSGIScriptAlias / WSGIScriptAliasMatch.
struct ScriptAlias {
    std::string location;         // URL prefix, or the regex source for ...Match
    ap_regex_t* regex = nullptr;  // compiled in the config pool for ...Match
    std::string target;           // script file or directory (may hold $N for ...Match)
    ScriptAliasOptions options;
};

// One WSGIDaemonProcess: a daemon process group. Lives in the main server's registry.
struct DaemonGroup {
    DaemonOptions options;         // options.name is the group's name
    server_rec* server = nullptr;  // where it was defined: the main server or a virtual host
    std::size_t index = 0;         // its position in the registry, in configuration order
};

// Server-level settings (main server and virtual hosts).
struct ServerConfig {
    std::vector<ScriptAlias> aliases;
    // Main server only (GLOBAL_ONLY directives); virtual hosts inherit them when merged.
    std::vector<std::string> python_path;      // WSGIPythonPath
    std::optional<bool> case_sensitivity;      // WSGICaseSensitivity, default On here
    std::optional<PythonHome> python_home;     // WSGIPythonHome, checked when read
    std::optional<int> python_optimize;        // WSGIPythonOptimize, default 0
    std::vector<std::string> python_warnings;  // WSGIPythonWarnings, in order
    std::optional<HashSeed> python_hash_seed;  // WSGIPythonHashSeed, default random
    std::optional<bool> dont_write_bytecode;   // WSGIDontWriteBytecode, default Off
    std::optional<std::string> python_eggs;    // WSGIPythonEggs (PYTHON_EGG_CACHE)
    std::optional<bool> restrict_stdin;        // WSGIRestrictStdin, default Off
    std::optional<bool> restrict_stdout;       // WSGIRestrictStdout, default Off
    std::optional<bool> restrict_signal;       // WSGIRestrictSignal, default On
    std::optional<bool> restrict_embedded;     // WSGIRestrictEmbedded, default Off
    std::optional<bool> destroy_interpreter;   // WSGIDestroyInterpreter, default On
    std::optional<bool> lazy_initialization;   // WSGILazyInitialization, only On honoured
    std::optional<bool> verbose_debugging;     // WSGIVerboseDebugging, accepted and ignored
    // WSGINewRelicConfigFile, WSGINewRelicEnvironment: accepted and ignored (mod_wsgi 4 only).
    std::optional<std::string> newrelic_config_file;
    std::optional<std::string> newrelic_environment;
    std::optional<bool> server_metrics;        // WSGIServerMetrics, default Off
    // mod_wsgi 6: WSGISwitchInterval (seconds); WSGIPerInterpreterGIL and WSGIFreeThreading
    // are accepted and have no effect with Python 3.11 (a warning says so when On).
    std::optional<double> switch_interval;
    std::optional<bool> per_interpreter_gil;
    std::optional<bool> free_threading;
    // <WSGIInterpreterOptions> sections, in configuration order.
    std::vector<InterpreterOptions> interpreter_options;
    // WSGIImportScript lines of this server only (not merged: the child walks every server).
    std::vector<ImportScript> import_scripts;
    // Daemon mode. `daemon_groups` is filled on the main server only: every WSGIDaemonProcess
    // of the configuration, virtual hosts' too (names are unique server-wide).
    std::vector<DaemonGroup> daemon_groups;    // WSGIDaemonProcess, in order
    std::optional<std::string> socket_prefix;  // WSGISocketPrefix, raw; see socket_prefix()
    std::optional<bool> socket_rotation;       // WSGISocketRotation, default On
    std::optional<std::string> accept_mutex;   // WSGIAcceptMutex, lower case, default "default"
    // This server's position in Apache's list of servers (the main server 0), set in
    // post_config: what an Apache child tells a daemon process (its request's ErrorLog).
    int server_index = 0;
};

// Directory-level settings; also the server's defaults when a directive is given at server
// level (Apache passes the server's default per-dir config to the directive then).
struct DirConfig {
    std::optional<std::string> application_group;  // WSGIApplicationGroup
    std::optional<std::string> process_group;      // WSGIProcessGroup
    std::optional<std::string> callable_object;    // WSGICallableObject
    std::optional<bool> pass_authorization;        // WSGIPassAuthorization, default Off
    std::optional<bool> chunked_request;           // WSGIChunkedRequest, default Off
    std::optional<bool> enable_sendfile;           // WSGIEnableSendfile, default Off
    std::optional<bool> error_override;            // WSGIErrorOverride, default Off
    std::optional<bool> script_reloading;          // WSGIScriptReloading, default On
    std::optional<MapHeadToGet> map_head_to_get;   // WSGIMapHEADToGET, default Auto
    std::optional<bool> ignore_activity;           // WSGIIgnoreActivity, default Off
    // WSGIRestrictProcess: the process groups selectable here; nullopt: any.
    std::optional<std::vector<std::string>> restrict_process;
    // Access control and dispatch (issue 6). Scripts run in embedded mode.
    std::optional<ScriptReference> auth_user_script;   // WSGIAuthUserScript (authn "wsgi")
    std::optional<ScriptReference> auth_group_script;  // WSGIAuthGroupScript ("wsgi-group")
    std::optional<bool> group_authoritative;           // WSGIGroupAuthoritative, default On
    std::optional<ScriptReference> access_script;      // WSGIAccessScript
    std::optional<ScriptReference> dispatch_script;    // WSGIDispatchScript
    std::optional<bool> pass_apache_request;           // WSGIPassApacheRequest, default Off
    // WSGIHandlerScript lines of this scope; a merged scope lists the inner ones first.
    std::vector<HandlerScript> handler_scripts;
    // WSGITrustedProxyHeaders (canonical names) and WSGITrustedProxies; lines in one scope
    // add up, an inner scope replaces the outer list.
    std::optional<std::vector<std::string>> trusted_proxy_headers;
    std::optional<std::vector<common::AddressBlock>> trusted_proxies;
};

// Apache config hooks (module record slots). noexcept: they only allocate in pools.
void* create_server_config(apr_pool_t* pool, server_rec* s) noexcept;
void* merge_server_config(apr_pool_t* pool, void* base, void* add) noexcept;
void* create_dir_config(apr_pool_t* pool, char* dir) noexcept;
void* merge_dir_config(apr_pool_t* pool, void* base, void* add) noexcept;

// The module's configuration for a server / a request's directory.
ServerConfig& server_config(server_rec* s);
DirConfig& dir_config(request_rec* r);

// The main server of the configuration httpd is reading, recorded when httpd creates its
// module configuration (before any directive runs). Directive handlers inside <VirtualHost>
// use it to reach the daemon group registry. Only meaningful while the configuration is read.
server_rec* configuring_main_server() noexcept;

// The WSGIDaemonProcess group called `name`, or nullptr. `main` is the main server (the
// server_rec passed to post_config, or ap_server_conf). The pointer stays valid for the
// configuration's lifetime (the registry does not change after it is read).
const DaemonGroup* find_daemon_group(server_rec* main, std::string_view name);

// Whether a request to `request_server` may use `group` (mod_wsgi docs, WSGIDaemonProcess):
// a group defined in the main server is usable from every server; one defined in a virtual
// host only from servers with the same ServerName (e.g. its :80 and :443 twins).
bool daemon_group_visible(const DaemonGroup& group, server_rec* request_server);

// WSGISocketPrefix resolved against DefaultRuntimeDir (default "wsgi" there), allocated in
// `pool`; nullptr when httpd finds the path invalid. `main` is the main server.
const char* socket_prefix(apr_pool_t* pool, server_rec* main);

}  // namespace wsgi::config

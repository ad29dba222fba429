#include "config/config.hpp"

#include <http_config.h>
#include <strings.h>

#include "apache/log.hpp"
#include "apache/pool.hpp"

namespace wsgi::config {
namespace {

template <class T>
void inherit(std::optional<T>& merged, const std::optional<T>& base,
             const std::optional<T>& add) {
    merged = add ? add : base;
}

// httpd builds the main server's module configuration first (mod_so's LoadModule), then
// reads the directives, making a virtual host's configuration when it first needs it.
server_rec* g_configuring_main_server = nullptr;

}  // namespace

void* create_server_config(apr_pool_t* pool, server_rec* s) noexcept {
    if (s != nullptr && !s->is_virtual) {
        g_configuring_main_server = s;
    }
    return apache::make_pool_object<ServerConfig>(pool);
}

void* merge_server_config(apr_pool_t* pool, void* base_ptr, void* add_ptr) noexcept {
    const auto& base = *static_cast<ServerConfig*>(base_ptr);
    const auto& add = *static_cast<ServerConfig*>(add_ptr);
    auto* merged = apache::make_pool_object<ServerConfig>(pool);
    // A virtual host's aliases are tried before the main server's.
    merged->aliases = add.aliases;
    merged->aliases.insert(merged->aliases.end(), base.aliases.begin(), base.aliases.end());
    merged->python_path = base.python_path;
    inherit(merged->case_sensitivity, base.case_sensitivity, add.case_sensitivity);
    // The Python runtime directives are main-server only: a virtual host sees the main's.
    merged->python_home = base.python_home;
    merged->python_optimize = base.python_optimize;
    merged->python_warnings = base.python_warnings;
    merged->python_hash_seed = base.python_hash_seed;
    merged->dont_write_bytecode = base.dont_write_bytecode;
    merged->python_eggs = base.python_eggs;
    merged->restrict_stdin = base.restrict_stdin;
    merged->restrict_stdout = base.restrict_stdout;
    merged->restrict_signal = base.restrict_signal;
    merged->restrict_embedded = base.restrict_embedded;
    merged->destroy_interpreter = base.destroy_interpreter;
    merged->lazy_initialization = base.lazy_initialization;
    merged->verbose_debugging = base.verbose_debugging;
    merged->newrelic_config_file = base.newrelic_config_file;
    merged->newrelic_environment = base.newrelic_environment;
    merged->server_metrics = base.server_metrics;
    merged->switch_interval = base.switch_interval;
    merged->per_interpreter_gil = base.per_interpreter_gil;
    merged->free_threading = base.free_threading;
    merged->interpreter_options = base.interpreter_options;
    merged->import_scripts = add.import_scripts;
    // Daemon mode: the group registry stays on the main server (find_daemon_group()).
    merged->socket_prefix = base.socket_prefix;
    merged->socket_rotation = base.socket_rotation;
    merged->accept_mutex = base.accept_mutex;
    return merged;
}

void* create_dir_config(apr_pool_t* pool, char*) noexcept {
    return apache::make_pool_object<DirConfig>(pool);
}

void* merge_dir_config(apr_pool_t* pool, void* base_ptr, void* add_ptr) noexcept {
    const auto& base = *static_cast<DirConfig*>(base_ptr);
    const auto& add = *static_cast<DirConfig*>(add_ptr);
    auto* merged = apache::make_pool_object<DirConfig>(pool);
    inherit(merged->application_group, base.application_group, add.application_group);
    inherit(merged->process_group, base.process_group, add.process_group);
    inherit(merged->callable_object, base.callable_object, add.callable_object);
    inherit(merged->pass_authorization, base.pass_authorization, add.pass_authorization);
    inherit(merged->chunked_request, base.chunked_request, add.chunked_request);
    inherit(merged->enable_sendfile, base.enable_sendfile, add.enable_sendfile);
    inherit(merged->error_override, base.error_override, add.error_override);
    inherit(merged->script_reloading, base.script_reloading, add.script_reloading);
    inherit(merged->map_head_to_get, base.map_head_to_get, add.map_head_to_get);
    inherit(merged->ignore_activity, base.ignore_activity, add.ignore_activity);
    inherit(merged->restrict_process, base.restrict_process, add.restrict_process);
    inherit(merged->auth_user_script, base.auth_user_script, add.auth_user_script);
    inherit(merged->auth_group_script, base.auth_group_script, add.auth_group_script);
    inherit(merged->group_authoritative, base.group_authoritative, add.group_authoritative);
    inherit(merged->access_script, base.access_script, add.access_script);
    inherit(merged->dispatch_script, base.dispatch_script, add.dispatch_script);
    inherit(merged->pass_apache_request, base.pass_apache_request, add.pass_apache_request);
    merged->handler_scripts = add.handler_scripts;
    merged->handler_scripts.insert(merged->handler_scripts.end(), base.handler_scripts.begin(),
                                   base.handler_scripts.end());
    inherit(merged->trusted_proxy_headers, base.trusted_proxy_headers,
            add.trusted_proxy_headers);
    inherit(merged->trusted_proxies, base.trusted_proxies, add.trusted_proxies);
    return merged;
}

ServerConfig& server_config(server_rec* s) {
    return *static_cast<ServerConfig*>(ap_get_module_config(s->module_config, &wsgi_module));
}

DirConfig& dir_config(request_rec* r) {
    return *static_cast<DirConfig*>(ap_get_module_config(r->per_dir_config, &wsgi_module));
}

server_rec* configuring_main_server() noexcept { return g_configuring_main_server; }

const DaemonGroup* find_daemon_group(server_rec* main, std::string_view name) {
    for (const auto& group : server_config(main).daemon_groups) {
        if (group.options.name == name) {
            return &group;
        }
    }
    return nullptr;
}

bool daemon_group_visible(const DaemonGroup& group, server_rec* request_server) {
    if (group.server == nullptr || !group.server->is_virtual || group.server == request_server) {
        return true;
    }
    // A virtual host without a ServerName has the main server's once httpd fixes it up.
    const char* defined_in = group.server->server_hostname;
    const char* requested = request_server ? request_server->server_hostname : nullptr;
    return defined_in && requested && strcasecmp(defined_in, requested) == 0;
}

const char* socket_prefix(apr_pool_t* pool, server_rec* main) {
    const auto& prefix = server_config(main).socket_prefix;
    return ap_runtime_dir_relative(pool, prefix ? prefix->c_str() : "wsgi");
}

}  // namespace wsgi::config

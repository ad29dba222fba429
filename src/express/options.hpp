#pragma once

// The options of `mod_wsgi-express start-server` and `setup-server`, with mod_wsgi-express's
// names and defaults (mod_wsgi's src/express/options.py), and their resolution into a Plan: every
// path absolute, every default filled in, every check done. Nothing here touches the server
// root or starts a process, so a bad option fails before anything is written. Registration is
// in options.cpp, resolution in resolve.cpp.

#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace CLI {
class App;
}

namespace express {

// A command line or environment problem the user can fix; its message is shown as is.
class UsageError : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

using Pairs = std::vector<std::pair<std::string, std::string>>;

// What the user asked for, as parsed; unset optionals mean "mod_wsgi-express's default".
struct ServerOptions {
    std::string target;       // positional TARGET
    std::string entry_point;  // --entry-point, wins over TARGET
    std::string application_type = "script";
    std::string host;
    int port = 8000;
    std::optional<int> https_port;
    std::string ssl_certificate_file, ssl_certificate_key_file, ssl_certificate;
    std::string ssl_certificate_chain_file, ssl_ca_certificate_file;
    std::vector<std::string> ssl_verify_client_urls;
    bool ssl_environment = false;
    bool http2 = false;
    std::string server_root, server_name;
    std::optional<int> processes;
    int threads = 5;
    std::optional<int> max_clients;
    // Fractions (0 to 1) of the Apache children or threads, as mod_wsgi-express takes them.
    std::optional<double> initial_workers, minimum_spare_workers, maximum_spare_workers;
    int maximum_requests = 0;
    int request_timeout = 60, graceful_timeout = 15, connect_timeout = 15, socket_timeout = 60,
        queue_timeout = 45, shutdown_timeout = 5, startup_timeout = 15, deadlock_timeout = 60,
        inactivity_timeout = 0, restart_interval = 0, cpu_time_limit = 0;
    int eviction_timeout = 0, interrupt_timeout = 0;
    std::vector<std::string> ignore_activity;  // URL paths
    // mod_reqtimeout (RequestReadTimeout); 0 turns a limit off.
    int header_timeout = 15, header_max_timeout = 30, header_min_rate = 500;
    int body_timeout = 15, body_max_timeout = 0, body_min_rate = 500;
    int keep_alive_timeout = 2;
    long long limit_request_body = 10485760;
    std::string user, group;
    std::vector<std::string> python_paths;
    std::string working_directory;
    Pairs url_aliases, setenv_variables;
    std::string document_root, mount_point = "/", callable_object = "application";
    std::string directory_index;
    std::string application_group = "%{GLOBAL}", process_group;
    bool reload_on_changes = false, disable_reloading = false, embedded_mode = false;
    bool server_status = false, setup_only = false;
    bool log_to_terminal = false, access_log = false, startup_log = false;
    std::string log_level = "warn", log_directory;
    std::vector<std::string> include_files;
    std::string lang, locale;
    std::string httpd_executable = "/usr/sbin/apache2";
    std::string modules_directory, mime_types = "/etc/mime.types", socket_prefix;
    std::vector<std::string> server_mpms;  // --server-mpm, repeatable: the acceptable MPMs
    bool verbose_debugging = false;
    std::string pid_file;
    // Proxies (WSGITrustedProxyHeaders, WSGITrustedProxies).
    std::vector<std::string> trusted_proxy_headers, trusted_proxies;
    // Logs: formats (empty: Apache's), file names in the log directory, rotation.
    std::string access_log_format, error_log_format;
    std::string access_log_name = "access_log", error_log_name = "error_log";
    bool rotate_logs = false;
    int max_log_size = 5;  // MB
    std::string rotatelogs_executable = "/usr/bin/rotatelogs";
    // Host names (with --server-name: name-based virtual hosts).
    std::vector<std::string> server_aliases;
    bool allow_localhost = false;
    bool compress_responses = false;
    // Passed to WSGIDaemonProcess; 0 means the module's default.
    int header_buffer_size = 0, response_buffer_size = 0, response_socket_timeout = 0,
        send_buffer_size = 0, receive_buffer_size = 0;
    int daemon_backlog = 100, server_backlog = 500;
    std::string python_eggs;
    bool chunked_request = false, enable_sendfile = false, server_metrics = false;
    std::string map_head_to_get = "Auto";
    // Errors, directories, HTTPS policy, access control scripts.
    Pairs error_documents;
    bool error_override = false, directory_listing = false;
    std::vector<std::string> allow_override;
    bool https_only = false;
    std::string hsts_policy;
    std::string host_access_script, auth_user_script, auth_group_script;
    std::string auth_type = "Basic", auth_group = "wsgi";
    // The environment: variables passed into the environ, the script apachectl sources.
    std::vector<std::string> passenv_variables;
    std::string envvars_script, process_name;
    bool orphan_interpreter = false, with_cgi = false;
    Pairs handler_scripts;  // --add-handler EXTENSION SCRIPT
    std::string startup_log_name = "startup_log";
    // Reverse proxying with mod_proxy: URL path or host name -> backend URL.
    Pairs proxy_mount_points, proxy_virtual_hosts;
    std::optional<int> proxy_timeout;
};

// Registers the options above on a start-server or setup-server subcommand.
void add_server_options(CLI::App& app, ServerOptions& options);

// Facts about the machine the Plan depends on, gathered by facts.cpp (tests pass their own).
struct Facts {
    unsigned uid = 0;
    std::string cwd, tmpdir = "/tmp";
    std::string module_path;                // our mod_wsgi.so
    std::string python_home;                // a virtual environment to use, or empty
    std::vector<std::string> available_mpms;  // e.g. {"event", "worker", "prefork"}
    int unprivileged_port_start = 1024;
    bool is_root() const { return uid == 0; }
};

// The resolved server: what the generated files say.
struct Plan {
    ServerOptions options;
    bool module_target = false;   // --application-type module
    bool static_only = false;     // --application-type static: the document root, no Python
    std::string script;           // the WSGI script served (the target, or handler.wsgi)
    std::string module_name;      // module target: "package.module"
    std::string module_callable;  // module target: the callable's name in it
    std::string server_root, config_file, apachectl, envvars, pid_file;
    std::string log_directory, error_log, access_log, startup_log;
    std::string document_root, working_directory;
    std::string process_group;    // daemon process group name (empty in embedded mode)
    std::string server_name;      // ServerName
    std::string mpm;              // event, worker or prefork
    std::string module_path, python_home;
    std::string reload_monitor;   // path of the monitor helper, or empty
    std::string resource_script;  // resource.wsgi for --add-handler, or empty
    Pairs handler_scripts;        // (".ext", absolute script path) of --add-handler
    std::string lang, locale;
    std::string run_user, run_group;  // only when started as root
    Pairs url_aliases;            // absolute paths, longest URL first
    std::vector<std::string> python_paths;
    std::string ssl_certificate_file, ssl_certificate_key_file;
    std::string ssl_certificate_chain_file, ssl_ca_certificate_file;  // absolute, or empty
    bool rotate_logs = false;     // --rotate-logs, unless logging to the terminal
    bool https_only = false;      // --https-only with an HTTPS port
    std::string hsts_policy;      // --hsts-policy when https_only
    std::string envvars_script;   // sourced by apachectl: --envvars-script, else envvars
    std::string python_eggs;      // PYTHON_EGG_CACHE of the daemon processes
    std::string host_access_script, auth_user_script, auth_group_script;  // absolute
    std::vector<std::string> warnings;  // shown before starting
    int max_clients = 0;
};

// Checks the options and fills in every default. Throws UsageError.
Plan resolve(const ServerOptions& options, const Facts& facts);

// The URL the server answers on, e.g. "http://localhost:8000/".
std::string server_url(const Plan& plan);

}  // namespace express

// Option registration and resolution for start-server and setup-server. Names, defaults and
// meanings follow mod_wsgi-express (mod_wsgi's src/express/options.py and the
// "mod_wsgi-express" user guide); the help texts are ours.

#include "express/options.hpp"

#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <regex>

#include "common/trusted_proxy.hpp"

namespace express {
namespace {

namespace fs = std::filesystem;

void add_network_options(CLI::App& app, ServerOptions& o) {
    app.add_option("--host", o.host,
                   "IP address to listen on (default: all interfaces)");
    app.add_option("--port", o.port, "Port to listen on (default 8000)")
        ->check(CLI::Range(1, 65535));
    app.add_option("--https-port,--ssl-port", o.https_port, "Port to listen on for HTTPS")
        ->check(CLI::Range(1, 65535));
    app.add_option("--ssl-certificate-file", o.ssl_certificate_file,
                   "PEM certificate for HTTPS");
    app.add_option("--ssl-certificate-key-file", o.ssl_certificate_key_file,
                   "PEM private key of --ssl-certificate-file");
    app.add_option("--ssl-certificate", o.ssl_certificate,
                   "Common path of FILE.crt and FILE.key (instead of the two options above)");
    app.add_flag("--ssl-environment", o.ssl_environment,
                 "Put the SSL_* variables (mod_ssl's StdEnvVars) in the environ");
    app.add_option("--ssl-certificate-chain-file", o.ssl_certificate_chain_file,
                   "PEM certificates of the CAs between the server certificate and a root");
    app.add_option("--ssl-ca-certificate-file", o.ssl_ca_certificate_file,
                   "PEM CA certificates for client certificates: HTTPS clients must present "
                   "one they signed (for all URLs, or those of --ssl-verify-client)");
    app.add_option("--ssl-verify-client", o.ssl_verify_client_urls,
                   "URL path that alone needs a client certificate (repeatable; with "
                   "--ssl-ca-certificate-file)")
        ->allow_extra_args(false);
    app.add_flag("--http2", o.http2, "Speak HTTP/2 (h2 over HTTPS, h2c) with mod_http2");
    app.add_option("--server-name", o.server_name, "ServerName of the server");
    app.add_option("--keep-alive-timeout", o.keep_alive_timeout,
                   "Seconds a keep-alive connection waits for the next request (default 2)")
        ->check(CLI::NonNegativeNumber);
    app.add_option("--limit-request-body", o.limit_request_body,
                   "Largest request body in bytes (default 10485760)")
        ->check(CLI::NonNegativeNumber);
    app.add_option("--server-alias", o.server_aliases,
                   "Another host name of the server, wildcards allowed (repeatable; with "
                   "--server-name)")
        ->allow_extra_args(false);
    app.add_flag("--allow-localhost", o.allow_localhost,
                 "With --server-name: still serve clients on this machine that use another "
                 "host name");
    app.add_flag("--https-only", o.https_only,
                 "Redirect HTTP requests to the same URL on --https-port");
    app.add_option("--hsts-policy", o.hsts_policy,
                   "Strict-Transport-Security header of HTTPS responses (with --https-only)");
    app.add_option("--trust-proxy-header", o.trusted_proxy_headers,
                   "Proxy header to trust, e.g. X-Forwarded-For (repeatable; "
                   "WSGITrustedProxyHeaders)")
        ->allow_extra_args(false);
    app.add_option("--trust-proxy", o.trusted_proxies,
                   "Address or CIDR block of a trusted proxy (repeatable; WSGITrustedProxies; "
                   "default: every client)")
        ->allow_extra_args(false);
    app.add_option("--server-backlog", o.server_backlog,
                   "Listen backlog of Apache's own sockets (default 500)")
        ->check(CLI::Range(1, 1000000));
    app.add_option("--proxy-mount-point,--proxy-url-alias", o.proxy_mount_points,
                   "Pass requests under URL-PATH to the backend URL (repeatable)")
        ->type_name("URL-PATH URL")
        ->allow_extra_args(false);
    app.add_option("--proxy-virtual-host", o.proxy_virtual_hosts,
                   "Pass requests for HOSTNAME to the backend URL (repeatable)")
        ->type_name("HOSTNAME URL")
        ->allow_extra_args(false);
    app.add_option("--proxy-timeout", o.proxy_timeout,
                   "Seconds to wait for a proxied backend (default: --socket-timeout)")
        ->check(CLI::Range(1, 1000000));
    app.add_flag("--compress-responses", o.compress_responses,
                 "Compress text responses (HTML, plain text, XML, CSS, JavaScript) with "
                 "mod_deflate");
}

void add_capacity_options(CLI::App& app, ServerOptions& o) {
    app.add_option("--processes", o.processes, "Daemon processes (default 1)")
        ->check(CLI::Range(1, 1000));
    app.add_option("--threads", o.threads, "Request threads per process (default 5)")
        ->check(CLI::Range(1, 1000));
    app.add_option("--max-clients", o.max_clients,
                   "Client connections Apache accepts at once (default 1.5 x processes x threads,"
                   " at least 10)")
        ->check(CLI::Range(1, 100000));
    app.add_flag("--embedded-mode", o.embedded_mode,
                 "Run the application in the Apache children rather than a daemon process group");
    app.add_option("--process-group", o.process_group,
                   "Name of the daemon process group (default HOST:PORT)");
    app.add_option("--application-group", o.application_group,
                   "Application group (default %{GLOBAL}, the main interpreter)");
    app.add_option("--server-mpm", o.server_mpm, "MPM: event, worker or prefork")
        ->check(CLI::IsMember({"event", "worker", "prefork"}));
    app.add_option("--daemon-backlog", o.daemon_backlog,
                   "Listen backlog of the daemon process group's socket (default 100)")
        ->check(CLI::Range(1, 1000000));
    app.add_option("--send-buffer-size", o.send_buffer_size,
                   "Socket send buffer towards the daemon processes, bytes (default 0: the "
                   "system's; else at least 512)")
        ->check(CLI::NonNegativeNumber);
    app.add_option("--receive-buffer-size", o.receive_buffer_size,
                   "Socket receive buffer from the daemon processes, bytes (default 0: the "
                   "system's; else at least 512)")
        ->check(CLI::NonNegativeNumber);
    app.add_option("--header-buffer-size", o.header_buffer_size,
                   "Buffer for a daemon's response headers, bytes (default 0: 32768; else at "
                   "least 8192)")
        ->check(CLI::NonNegativeNumber);
    app.add_option("--response-buffer-size", o.response_buffer_size,
                   "Response content an Apache child buffers from a daemon, bytes (default 0: "
                   "the module's; else at least 65536)")
        ->check(CLI::NonNegativeNumber);
    app.add_option("--response-socket-timeout", o.response_socket_timeout,
                   "Seconds a write of the response to the client may wait (default 0: "
                   "--socket-timeout)")
        ->check(CLI::NonNegativeNumber);
    app.add_flag("--server-metrics", o.server_metrics,
                 "Make mod_wsgi.server_metrics() available to the application");
}

void add_timeout_options(CLI::App& app, ServerOptions& o) {
    struct Timeout {
        const char* name;
        int ServerOptions::*field;
        const char* help;
    };
    static const Timeout kTimeouts[] = {
        {"--maximum-requests", &ServerOptions::maximum_requests,
         "Restart a daemon process after this many requests (default 0: never)"},
        {"--request-timeout", &ServerOptions::request_timeout,
         "Seconds a request may run before its daemon process restarts (default 60)"},
        {"--graceful-timeout", &ServerOptions::graceful_timeout,
         "Seconds a graceful restart waits for requests in flight (default 15)"},
        {"--connect-timeout", &ServerOptions::connect_timeout,
         "Seconds to keep trying to reach a daemon process (default 15)"},
        {"--socket-timeout", &ServerOptions::socket_timeout,
         "Seconds any read or write on the daemon socket may take (default 60)"},
        {"--queue-timeout", &ServerOptions::queue_timeout,
         "Seconds a request may wait for a daemon thread (default 45)"},
        {"--shutdown-timeout", &ServerOptions::shutdown_timeout,
         "Seconds a stopping process waits for requests in flight (default 5)"},
        {"--startup-timeout", &ServerOptions::startup_timeout,
         "Seconds a daemon process has to load the application (default 15)"},
        {"--deadlock-timeout", &ServerOptions::deadlock_timeout,
         "Seconds the GIL may stay blocked before a restart (default 60)"},
        {"--inactivity-timeout", &ServerOptions::inactivity_timeout,
         "Restart a daemon process idle this many seconds (default 0: never)"},
        {"--restart-interval", &ServerOptions::restart_interval,
         "Restart daemon processes every this many seconds (default 0: never)"},
        {"--cpu-time-limit", &ServerOptions::cpu_time_limit,
         "Restart a daemon process after this much CPU time (default 0: none)"},
        {"--eviction-timeout", &ServerOptions::eviction_timeout,
         "Seconds requests in flight get when SIGUSR1 restarts a daemon process (default 0: "
         "--graceful-timeout)"},
        {"--interrupt-timeout", &ServerOptions::interrupt_timeout,
         "Past --request-timeout, seconds a request gets to unwind from mod_wsgi.RequestTimeout "
         "before its process restarts (default 0: no interrupt)"},
        {"--header-timeout", &ServerOptions::header_timeout,
         "Seconds to receive the request line and headers (default 15; 0: no limit)"},
        {"--header-max-timeout", &ServerOptions::header_max_timeout,
         "Most seconds for the request headers however fast they come (default 30)"},
        {"--header-min-rate", &ServerOptions::header_min_rate,
         "Bytes a second of request headers that extend --header-timeout (default 500)"},
        {"--body-timeout", &ServerOptions::body_timeout,
         "Seconds to receive the request body (default 15; 0: no limit)"},
        {"--body-max-timeout", &ServerOptions::body_max_timeout,
         "Most seconds for the request body however fast it comes (default 0: none)"},
        {"--body-min-rate", &ServerOptions::body_min_rate,
         "Bytes a second of request body that extend --body-timeout (default 500)"},
    };
    for (const Timeout& t : kTimeouts) {
        app.add_option(t.name, o.*(t.field), t.help)->check(CLI::NonNegativeNumber);
    }
    app.add_option("--ignore-activity", o.ignore_activity,
                   "URL path whose requests do not count as activity for --inactivity-timeout, "
                   "e.g. a health check (repeatable)")
        ->allow_extra_args(false);
}

void add_application_options(CLI::App& app, ServerOptions& o) {
    app.add_option("target", o.target,
                   "WSGI script file, or with --application-type module a Python module "
                   "(package.module or package.module:callable)");
    app.add_option("--entry-point", o.entry_point, "The same as TARGET (wins over it)");
    app.add_option("--application-type", o.application_type,
                   "script (a WSGI script file, the default) or module")
        ->check(CLI::IsMember({"script", "module"}));
    app.add_option("--callable-object", o.callable_object,
                   "Name of the WSGI application in the script (default application)");
    app.add_option("--mount-point", o.mount_point,
                   "URL path the application is mounted at (default /)");
    app.add_option("--url-alias", o.url_aliases,
                   "Serve a static file or directory at a URL path (repeatable)")
        ->type_name("URL-PATH FILE-PATH")
        ->allow_extra_args(false);
    app.add_option("--document-root", o.document_root,
                   "Directory of static files for URLs outside the mount point");
    app.add_option("--directory-index", o.directory_index,
                   "Index file served for a directory of the document root");
    app.add_option("--python-path", o.python_paths,
                   "Directory added to the Python module search path (repeatable)")
        ->allow_extra_args(false);
    app.add_option("--working-directory", o.working_directory,
                   "Working directory of the application, also searched for modules "
                   "(default: the current directory)");
    app.add_option("--setenv", o.setenv_variables,
                   "Add KEY VALUE to every request's environ (repeatable)")
        ->type_name("KEY VALUE")
        ->allow_extra_args(false);
    app.add_option("--passenv", o.passenv_variables,
                   "Pass the environment variable KEY of the server into every request's "
                   "environ (repeatable)")
        ->type_name("KEY")
        ->allow_extra_args(false);
    app.add_option("--envvars-script", o.envvars_script,
                   "Shell script apachectl sources for the server's environment variables "
                   "(default: envvars in the server root)");
    app.add_flag("--reload-on-changes", o.reload_on_changes,
                 "Restart the daemon process when any imported Python module's file changes");
    app.add_flag("--disable-reloading", o.disable_reloading,
                 "Do not restart when the WSGI script changes either");
    app.add_option("--user", o.user, "Account the application runs as when started as root "
                                     "(default www-data)");
    app.add_option("--group", o.group, "Group the application runs as when started as root "
                                       "(default: the user's group)");
    app.add_option("--lang", o.lang, "LANG of the daemon processes");
    app.add_option("--locale", o.locale, "LC_ALL of the daemon processes (default: C.UTF-8 "
                                         "when the current locale is C or POSIX)");
    app.add_option("--python-eggs", o.python_eggs,
                   "Directory for unpacking Python eggs (PYTHON_EGG_CACHE)");
    app.add_flag("--chunked-request", o.chunked_request,
                 "Accept request bodies sent with chunked transfer encoding");
    app.add_option("--map-head-to-get", o.map_head_to_get,
                   "Off, On or Auto (default): present HEAD requests to the application as GET")
        ->transform(CLI::IsMember({"Off", "On", "Auto"}, CLI::ignore_case));
    app.add_flag("--enable-sendfile", o.enable_sendfile,
                 "Send wsgi.file_wrapper files with sendfile()");
    app.add_option("--error-document", o.error_documents,
                   "Apache's response for an HTTP error status: a URL path, a URL or a message "
                   "(repeatable)")
        ->type_name("STATUS URL-PATH")
        ->allow_extra_args(false);
    app.add_flag("--error-override", o.error_override,
                 "Replace the application's error responses by Apache's error documents");
    app.add_flag("--directory-listing", o.directory_listing,
                 "List directories of the document root that have no index file");
    app.add_option("--allow-override", o.allow_override,
                   "Directive type .htaccess files in the document root may use: All, "
                   "AuthConfig, FileInfo, Indexes, Limit, Options (repeatable; default None)")
        ->allow_extra_args(false);
    app.add_option("--host-access-script", o.host_access_script,
                   "Python script deciding which hosts may access the server "
                   "(WSGIAccessScript)");
    app.add_option("--auth-user-script", o.auth_user_script,
                   "Python script checking user names and passwords (WSGIAuthUserScript)");
    app.add_option("--auth-type", o.auth_type,
                   "Authentication scheme with --auth-user-script: Basic (default) or Digest")
        ->transform(CLI::IsMember({"Basic", "Digest"}, CLI::ignore_case));
    app.add_option("--auth-group-script", o.auth_group_script,
                   "Python script giving a user's groups (WSGIAuthGroupScript)");
    app.add_option("--auth-group", o.auth_group,
                   "Group users must be in with --auth-group-script (default wsgi)");
}

void add_server_files_options(CLI::App& app, ServerOptions& o) {
    app.add_option("--server-root", o.server_root,
                   "Directory for the generated configuration, logs and pid file "
                   "(default $TMPDIR/mod_wsgi-HOST:PORT:UID)");
    app.add_option("--log-directory", o.log_directory,
                   "Directory for the logs (default: the server root)");
    app.add_option("--log-level", o.log_level, "Apache LogLevel (default warn)")
        ->check(CLI::IsMember({"emerg", "alert", "crit", "error", "warn", "notice", "info",
                               "debug", "trace1", "trace2", "trace3", "trace4", "trace5",
                               "trace6", "trace7", "trace8"}));
    app.add_flag("--log-to-terminal", o.log_to_terminal,
                 "Send the error log (and access log) to the terminal instead of files");
    app.add_flag("--access-log", o.access_log, "Write an access log");
    app.add_flag("--startup-log", o.startup_log,
                 "Write Apache's startup messages to startup_log");
    app.add_option("--startup-log-name", o.startup_log_name,
                   "File name of the startup log in the log directory (default startup_log)");
    app.add_option("--access-log-format", o.access_log_format,
                   "Format of access log lines: common (the default), combined, or a LogFormat "
                   "string");
    app.add_option("--error-log-format", o.error_log_format,
                   "Format of error log lines (an ErrorLogFormat string)");
    app.add_option("--access-log-name", o.access_log_name,
                   "File name of the access log in the log directory (default access_log)");
    app.add_option("--error-log-name", o.error_log_name,
                   "File name of the error log in the log directory (default error_log)");
    app.add_flag("--rotate-logs", o.rotate_logs,
                 "Rotate the logs with rotatelogs once they reach --max-log-size");
    app.add_option("--max-log-size", o.max_log_size,
                   "Size in MB at which --rotate-logs starts a new log file (default 5)")
        ->check(CLI::Range(1, 1000000));
    app.add_option("--rotatelogs-executable", o.rotatelogs_executable,
                   "rotatelogs program (default /usr/bin/rotatelogs)");
    app.add_flag("--server-status", o.server_status,
                 "Serve mod_status at /server-status (to local clients)");
    app.add_option("--include-file", o.include_files,
                   "Apache configuration file included at the end (repeatable)")
        ->allow_extra_args(false);
    app.add_option("--pid-file", o.pid_file, "Pid file of the Apache parent process");
    app.add_flag("--orphan-interpreter", o.orphan_interpreter,
                 "Do not destroy the Python interpreter when a process exits "
                 "(WSGIDestroyInterpreter Off)");
    app.add_flag("--with-cgi", o.with_cgi,
                 "Run executable .cgi files of the document root as CGI scripts");
    app.add_option("--process-name", o.process_name,
                   "Name (argv[0]) of the Apache processes, for process managers that look "
                   "for one");
    app.add_option("--httpd-executable", o.httpd_executable,
                   "Apache binary (default /usr/sbin/apache2)");
    app.add_option("--modules-directory", o.modules_directory,
                   "Directory of Apache's modules (default: apxs -q LIBEXECDIR)");
    app.add_option("--mime-types", o.mime_types, "MIME types file (default /etc/mime.types)");
    app.add_option("--socket-prefix", o.socket_prefix,
                   "Path prefix of the daemon sockets (default: in the server root)");
    app.add_flag("--setup-only", o.setup_only,
                 "Write the server root and exit (the same as setup-server)");
}

std::string absolute(const std::string& path, const std::string& cwd) {
    if (path.empty()) {
        return path;
    }
    fs::path p(path);
    if (p.is_relative()) {
        p = fs::path(cwd) / p;
    }
    return p.lexically_normal().string();
}

bool is_directory(const std::string& path) {
    struct stat st{};
    return stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

bool is_file(const std::string& path) {
    struct stat st{};
    return stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

void check_url_path(const std::string& option, const std::string& url) {
    if (url.empty() || url[0] != '/') {
        throw UsageError(option + " needs a URL path starting with '/', not '" + url + "'");
    }
}

// Words Apache would split or misread in a quoted configuration argument.
void check_config_safe(const std::string& option, const std::string& value) {
    if (value.find_first_of("\"\n\r") != std::string::npos) {
        throw UsageError(option + " may not contain '\"' or a line break: '" + value + "'");
    }
}

void check_word(const std::string& option, const std::string& value) {
    if (value.empty() || value.find_first_of(" \t\"'\n\r\\") != std::string::npos) {
        throw UsageError(option + " needs a name without spaces or quotes, not '" + value + "'");
    }
}

// A file name in the log directory.
void check_file_name(const std::string& option, const std::string& name) {
    if (name.empty() || name == "." || name == ".." ||
        name.find_first_of("/\"\n\r") != std::string::npos) {
        throw UsageError(option + " needs a file name without '/', not '" + name + "'");
    }
}

void check_one_line(const std::string& option, const std::string& value) {
    if (value.find_first_of("\n\r") != std::string::npos) {
        throw UsageError(option + " may not contain a line break");
    }
}

// An existing file, made absolute.
std::string existing_file(const std::string& option, const std::string& path,
                          const Facts& facts) {
    std::string full = absolute(path, facts.cwd);
    if (!is_file(full)) {
        throw UsageError(option + ": no such file: " + path);
    }
    check_config_safe(option, full);
    return full;
}

void resolve_target(Plan& plan, const ServerOptions& o, const Facts& facts) {
    std::string target = o.entry_point.empty() ? o.target : o.entry_point;
    if (target.empty()) {
        throw UsageError("no application given: name a WSGI script file (or, with "
                         "--application-type module, a Python module)");
    }
    check_config_safe("TARGET", target);
    if (o.application_type == "module") {
        static const std::regex kModule(
            R"(^([A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*)(:([A-Za-z_][A-Za-z0-9_]*))?$)");
        std::smatch m;
        if (!std::regex_match(target, m, kModule)) {
            throw UsageError("'" + target + "' is not a Python module name (package.module or "
                             "package.module:callable)");
        }
        plan.module_target = true;
        plan.module_name = m[1];
        plan.module_callable = m[4].matched ? std::string(m[4]) : o.callable_object;
        plan.script = plan.server_root + "/handler.wsgi";
        return;
    }
    plan.script = absolute(target, facts.cwd);
    if (!is_file(plan.script)) {
        throw UsageError("no such WSGI script file: " + target);
    }
}

void resolve_paths(Plan& plan, const ServerOptions& o, const Facts& facts) {
    std::string host = o.host.empty() ? "localhost" : o.host;
    plan.server_root = o.server_root.empty()
                           ? facts.tmpdir + "/mod_wsgi-" + host + ":" + std::to_string(o.port) +
                                 ":" + std::to_string(facts.uid)
                           : absolute(o.server_root, facts.cwd);
    check_config_safe("--server-root", plan.server_root);
    plan.config_file = plan.server_root + "/httpd.conf";
    plan.apachectl = plan.server_root + "/apachectl";
    plan.envvars = plan.server_root + "/envvars";
    plan.pid_file = o.pid_file.empty() ? plan.server_root + "/httpd.pid"
                                       : absolute(o.pid_file, facts.cwd);
    plan.log_directory = o.log_directory.empty() ? plan.server_root
                                                 : absolute(o.log_directory, facts.cwd);
    check_file_name("--error-log-name", o.error_log_name);
    check_file_name("--access-log-name", o.access_log_name);
    if (o.log_to_terminal && o.log_directory.empty()) {
        plan.error_log = "/dev/stderr";
        plan.access_log = "/dev/stdout";
    } else {
        plan.error_log = plan.log_directory + "/" + o.error_log_name;
        plan.access_log = plan.log_directory + "/" + o.access_log_name;
        check_config_safe("--log-directory", plan.log_directory);
    }
    check_file_name("--startup-log-name", o.startup_log_name);
    plan.startup_log = plan.log_directory + "/" + o.startup_log_name;
    plan.working_directory = absolute(o.working_directory.empty() ? facts.cwd
                                                                  : o.working_directory,
                                      facts.cwd);
    if (!is_directory(plan.working_directory)) {
        throw UsageError("--working-directory: no such directory: " + plan.working_directory);
    }
    plan.document_root = o.document_root.empty() ? plan.server_root + "/htdocs"
                                                 : absolute(o.document_root, facts.cwd);
    if (!o.document_root.empty() && !is_directory(plan.document_root)) {
        throw UsageError("--document-root: no such directory: " + o.document_root);
    }
    check_config_safe("--document-root", plan.document_root);
    for (const auto& [url, path] : o.url_aliases) {
        check_url_path("--url-alias", url);
        std::string full = absolute(path, facts.cwd);
        check_config_safe("--url-alias", url + full);
        if (!fs::exists(full)) {
            throw UsageError("--url-alias " + url + ": no such file or directory: " + path);
        }
        plan.url_aliases.emplace_back(url, full);
    }
    // Apache takes the first Alias that matches: put the longer URL paths first.
    std::stable_sort(plan.url_aliases.begin(), plan.url_aliases.end(),
                     [](const auto& a, const auto& b) { return a.first.size() > b.first.size(); });
    for (const std::string& path : o.python_paths) {
        plan.python_paths.push_back(absolute(path, facts.cwd));
        check_config_safe("--python-path", plan.python_paths.back());
    }
    for (const std::string& file : o.include_files) {
        if (!is_file(absolute(file, facts.cwd))) {
            throw UsageError("--include-file: no such file: " + file);
        }
    }
}

void resolve_ssl(Plan& plan, const ServerOptions& o, const Facts& facts) {
    plan.ssl_certificate_file = o.ssl_certificate_file;
    plan.ssl_certificate_key_file = o.ssl_certificate_key_file;
    if (!o.ssl_certificate.empty()) {
        if (plan.ssl_certificate_file.empty()) {
            plan.ssl_certificate_file = o.ssl_certificate + ".crt";
        }
        if (plan.ssl_certificate_key_file.empty()) {
            plan.ssl_certificate_key_file = o.ssl_certificate + ".key";
        }
    }
    if (!o.https_port) {
        if (!plan.ssl_certificate_file.empty() || o.ssl_environment ||
            !o.ssl_certificate_chain_file.empty() || !o.ssl_ca_certificate_file.empty() ||
            !o.ssl_verify_client_urls.empty()) {
            throw UsageError("the SSL options need --https-port");
        }
        return;
    }
    if (*o.https_port == o.port) {
        throw UsageError("--https-port must differ from --port");
    }
    if (plan.ssl_certificate_file.empty() || plan.ssl_certificate_key_file.empty()) {
        throw UsageError("--https-port needs --ssl-certificate-file and "
                         "--ssl-certificate-key-file (or --ssl-certificate)");
    }
    for (std::string* file : {&plan.ssl_certificate_file, &plan.ssl_certificate_key_file}) {
        *file = absolute(*file, facts.cwd);
        if (!is_file(*file)) {
            throw UsageError("no such SSL certificate or key file: " + *file);
        }
    }
    if (!o.ssl_certificate_chain_file.empty()) {
        plan.ssl_certificate_chain_file =
            existing_file("--ssl-certificate-chain-file", o.ssl_certificate_chain_file, facts);
    }
    if (!o.ssl_ca_certificate_file.empty()) {
        plan.ssl_ca_certificate_file =
            existing_file("--ssl-ca-certificate-file", o.ssl_ca_certificate_file, facts);
    } else if (!o.ssl_verify_client_urls.empty()) {
        throw UsageError("--ssl-verify-client needs --ssl-ca-certificate-file");
    }
    for (const std::string& url : o.ssl_verify_client_urls) {
        check_url_path("--ssl-verify-client", url);
        check_config_safe("--ssl-verify-client", url);
    }
}

void check_port(int port, const char* option, const Facts& facts) {
    if (!facts.is_root() && port < facts.unprivileged_port_start) {
        throw UsageError(std::string(option) + " " + std::to_string(port) +
                         " is a privileged port: start mod_wsgi-express as root, or use a port "
                         "from " + std::to_string(facts.unprivileged_port_start) + " up");
    }
}

void resolve_server(Plan& plan, const ServerOptions& o, const Facts& facts) {
    check_port(o.port, "--port", facts);
    if (o.https_port) {
        check_port(*o.https_port, "--https-port", facts);
    }
    check_url_path("--mount-point", o.mount_point);
    check_config_safe("--host", o.host);
    check_config_safe("--server-name", o.server_name);
    std::string host = o.host.empty() ? "localhost" : o.host;
    plan.server_name = o.server_name.empty() ? host : o.server_name;
    plan.process_group = o.embedded_mode ? ""
                         : o.process_group.empty()
                             ? host + ":" + std::to_string(o.port)
                             : o.process_group;
    // Option values of WSGIScriptAlias and WSGIImportScript cannot be quoted: no spaces.
    if (!o.embedded_mode) {
        check_word("--process-group", plan.process_group);
    }
    check_word("--application-group", o.application_group);
    check_word("--callable-object", o.callable_object);
    if (o.http2 && o.server_mpm == "prefork") {
        throw UsageError("--http2 does not work with --server-mpm prefork (mod_http2 needs "
                         "threads)");
    }
    if (!o.server_mpm.empty()) {
        if (std::find(facts.available_mpms.begin(), facts.available_mpms.end(), o.server_mpm) ==
            facts.available_mpms.end()) {
            throw UsageError("--server-mpm " + o.server_mpm + ": mod_mpm_" + o.server_mpm +
                             ".so is not in the modules directory");
        }
        plan.mpm = o.server_mpm;
    } else if (!facts.available_mpms.empty()) {
        plan.mpm = facts.available_mpms.front();
    } else {
        throw UsageError("no MPM module (mod_mpm_event.so, ...) in the modules directory");
    }
    int processes = o.processes.value_or(1);
    int wanted = o.max_clients.value_or(
        std::max(10, static_cast<int>(std::ceil(1.5 * processes * o.threads))));
    plan.max_clients = o.embedded_mode ? processes * o.threads : wanted;
    if (facts.is_root()) {
        plan.run_user = o.user.empty() ? "www-data" : o.user;
        plan.run_group = o.group;  // empty: the user's primary group, found by facts.cpp
    }
    // mod_wsgi-express: a C or POSIX locale becomes a UTF-8 one, so that Python's file system
    // encoding is UTF-8 in the daemon processes. Debian always has C.UTF-8.
    plan.lang = o.lang;
    plan.locale = o.locale;
    if (plan.locale.empty() && plan.lang.empty()) {
        const char* current = std::getenv("LC_ALL");
        if (!current || !*current) {
            current = std::getenv("LANG");
        }
        std::string value = current ? current : "";
        if (value.empty() || value == "C" || value == "POSIX") {
            plan.lang = plan.locale = "C.UTF-8";
        }
    }
}

void resolve_logs(Plan& plan, const ServerOptions& o) {
    check_one_line("--access-log-format", o.access_log_format);
    check_one_line("--error-log-format", o.error_log_format);
    // mod_wsgi-express: logging to the terminal turns rotation off.
    plan.rotate_logs = o.rotate_logs && !(o.log_to_terminal && o.log_directory.empty());
    if (plan.rotate_logs) {
        check_config_safe("--rotatelogs-executable", o.rotatelogs_executable);
        if (!is_file(o.rotatelogs_executable) ||
            access(o.rotatelogs_executable.c_str(), X_OK) != 0) {
            throw UsageError("--rotatelogs-executable: " + o.rotatelogs_executable +
                             " is not an executable file (Debian: apt-get install apache2-utils)");
        }
        if (o.rotatelogs_executable.find(' ') != std::string::npos) {
            throw UsageError("--rotatelogs-executable may not contain a space: " +
                             o.rotatelogs_executable);
        }
        for (const std::string* path : {&plan.error_log, &plan.access_log}) {
            if (path->find(' ') != std::string::npos) {
                throw UsageError("--rotate-logs: the log path may not contain a space: " + *path);
            }
        }
    }
}

void resolve_proxies(const ServerOptions& o) {
    for (const std::string& header : o.trusted_proxy_headers) {
        if (!wsgi::common::canonical_proxy_header(header)) {
            throw UsageError("--trust-proxy-header: '" + header +
                             "' is not a proxy header mod_wsgi knows (X-Forwarded-For, "
                             "X-Client-IP, X-Real-IP, X-Forwarded-Proto, X-Forwarded-Scheme, "
                             "X-Scheme, X-Url-Scheme, X-Forwarded-SSL, X-Forwarded-HTTPS, X-HTTPS, "
                             "X-Forwarded-Host, X-Host, X-Forwarded-Server, X-Forwarded-Port, "
                             "X-Script-Name, X-Forwarded-Script-Name)");
        }
    }
    for (const std::string& proxy : o.trusted_proxies) {
        if (!wsgi::common::parse_address_block(proxy)) {
            throw UsageError("--trust-proxy needs an IP address or CIDR block (10.0.0.0/8), "
                             "not '" + proxy + "'");
        }
    }
}

// The host names and the HTTPS policy. Combinations mod_wsgi-express accepts and ignores are
// warnings, so that its command lines keep working.
void resolve_names(Plan& plan, const ServerOptions& o) {
    for (const std::string& alias : o.server_aliases) {
        check_word("--server-alias", alias);
    }
    if (o.server_name.empty() && !o.server_aliases.empty()) {
        plan.warnings.push_back("--server-alias is ignored without --server-name");
    }
    if (o.server_name.empty() && o.allow_localhost) {
        plan.warnings.push_back("--allow-localhost is ignored without --server-name");
    }
    check_config_safe("--hsts-policy", o.hsts_policy);
    if (o.https_only && !o.https_port) {
        plan.warnings.push_back("--https-only is ignored without --https-port");
    }
    if (!o.hsts_policy.empty() && !(o.https_only && o.https_port)) {
        plan.warnings.push_back("--hsts-policy is ignored without --https-only and --https-port");
    }
    plan.https_only = o.https_only && o.https_port.has_value();
    plan.hsts_policy = plan.https_only ? o.hsts_policy : "";
}

// mod_reqtimeout refuses a maximum that is not above the initial timeout.
void check_read_timeout(const char* what, int timeout, int max_timeout) {
    if (timeout > 0 && max_timeout > 0 && max_timeout <= timeout) {
        throw UsageError(std::string("--") + what + "-max-timeout (" +
                         std::to_string(max_timeout) + ") must be 0 or more than --" + what +
                         "-timeout (" + std::to_string(timeout) + ")");
    }
}

void resolve_proxying(const ServerOptions& o) {
    static const std::regex kUrl(R"(^(http|https|ws|wss)://[^\s/"]+(/[^\s"]*)?$)");
    for (const auto& [url_path, url] : o.proxy_mount_points) {
        check_url_path("--proxy-mount-point", url_path);
        check_config_safe("--proxy-mount-point", url_path);
        if (!std::regex_match(url, kUrl)) {
            throw UsageError("--proxy-mount-point " + url_path +
                             " needs an http://, https://, ws:// or wss:// URL, not '" + url + "'");
        }
    }
    for (const auto& [host, url] : o.proxy_virtual_hosts) {
        check_word("--proxy-virtual-host", host);
        if (!std::regex_match(url, kUrl)) {
            throw UsageError("--proxy-virtual-host " + host +
                             " needs an http://, https://, ws:// or wss:// URL, not '" + url + "'");
        }
    }
}

void check_buffer_size(const char* option, int value, int minimum) {
    if (value != 0 && value < minimum) {
        throw UsageError(std::string(option) + " must be 0 (the default) or at least " +
                         std::to_string(minimum) + " bytes, not " + std::to_string(value));
    }
}

void resolve_daemon_extras(Plan& plan, const ServerOptions& o, const Facts& facts) {
    // The minimums WSGIDaemonProcess checks (src/config/daemon_options.cpp).
    check_read_timeout("header", o.header_timeout, o.header_max_timeout);
    check_read_timeout("body", o.body_timeout, o.body_max_timeout);
    for (const std::string& url : o.ignore_activity) {
        check_url_path("--ignore-activity", url);
        check_config_safe("--ignore-activity", url);
    }
    check_buffer_size("--send-buffer-size", o.send_buffer_size, 512);
    check_buffer_size("--receive-buffer-size", o.receive_buffer_size, 512);
    check_buffer_size("--header-buffer-size", o.header_buffer_size, 8192);
    check_buffer_size("--response-buffer-size", o.response_buffer_size, 65536);
    if (!o.python_eggs.empty()) {
        plan.python_eggs = absolute(o.python_eggs, facts.cwd);
        check_config_safe("--python-eggs", plan.python_eggs);
    }
}

void resolve_access(Plan& plan, const ServerOptions& o, const Facts& facts) {
    static const std::regex kStatus("^[45][0-9][0-9]$");
    for (const auto& [status, document] : o.error_documents) {
        if (!std::regex_match(status, kStatus)) {
            throw UsageError("--error-document needs an HTTP error status (400-599), not '" +
                             status + "'");
        }
        if (document.empty()) {
            throw UsageError("--error-document " + status + " needs a URL path, URL or message");
        }
        check_one_line("--error-document", document);
    }
    static const char* const kOverrides[] = {"All",     "None",  "AuthConfig", "FileInfo",
                                             "Indexes", "Limit", "Options"};
    for (const std::string& type : o.allow_override) {
        bool known = std::any_of(std::begin(kOverrides), std::end(kOverrides),
                                 [&type](const char* name) { return strcasecmp(name, type.c_str()) == 0; });
        if (!known) {
            throw UsageError("--allow-override needs All, None, AuthConfig, FileInfo, Indexes, "
                             "Limit or Options, not '" + type + "'");
        }
    }
    if (!o.host_access_script.empty()) {
        plan.host_access_script = existing_file("--host-access-script", o.host_access_script,
                                                facts);
    }
    if (!o.auth_user_script.empty()) {
        plan.auth_user_script = existing_file("--auth-user-script", o.auth_user_script, facts);
    }
    if (!o.auth_group_script.empty()) {
        plan.auth_group_script = existing_file("--auth-group-script", o.auth_group_script,
                                               facts);
        if (plan.auth_user_script.empty()) {
            plan.warnings.push_back("--auth-group-script is ignored without --auth-user-script");
        }
    }
    check_config_safe("--auth-group", o.auth_group);
}

}  // namespace

void add_server_options(CLI::App& app, ServerOptions& options) {
    add_application_options(app, options);
    add_network_options(app, options);
    add_capacity_options(app, options);
    add_timeout_options(app, options);
    add_server_files_options(app, options);
}

Plan resolve(const ServerOptions& options, const Facts& facts) {
    Plan plan;
    plan.options = options;
    plan.module_path = facts.module_path;
    plan.python_home = facts.python_home;
    resolve_paths(plan, options, facts);
    resolve_target(plan, options, facts);
    resolve_ssl(plan, options, facts);
    resolve_server(plan, options, facts);
    resolve_logs(plan, options);
    resolve_proxies(options);
    resolve_proxying(options);
    resolve_names(plan, options);
    resolve_daemon_extras(plan, options, facts);
    resolve_access(plan, options, facts);
    if (options.reload_on_changes) {
        if (options.embedded_mode) {
            plan.warnings.push_back("--reload-on-changes works in daemon mode only; ignored "
                                    "with --embedded-mode");
        } else {
            plan.reload_monitor = plan.server_root + "/reload_monitor.py";
        }
    }
    for (const auto& [key, value] : options.setenv_variables) {
        check_config_safe("--setenv", key + value);
    }
    static const std::regex kName("^[A-Za-z_][A-Za-z0-9_]*$");
    for (const std::string& name : options.passenv_variables) {
        if (!std::regex_match(name, kName)) {
            throw UsageError("--passenv needs an environment variable name, not '" + name + "'");
        }
    }
    plan.envvars_script = options.envvars_script.empty()
                              ? plan.envvars
                              : existing_file("--envvars-script", options.envvars_script, facts);
    check_one_line("--process-name", options.process_name);
    return plan;
}

std::string server_url(const Plan& plan) {
    const ServerOptions& o = plan.options;
    std::string host = o.host.empty() ? "localhost" : o.host;
    if (host.find(':') != std::string::npos) {
        host = "[" + host + "]";
    }
    std::string path = o.mount_point;
    if (path.back() != '/') {
        path += '/';
    }
    return "http://" + host + ":" + std::to_string(o.port) + path;
}

}  // namespace express

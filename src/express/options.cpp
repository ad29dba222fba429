// Option registration for start-server and setup-server. Names, defaults and meanings follow
// mod_wsgi-express (mod_wsgi's src/express/options.py and the "mod_wsgi-express" user guide);
// the help texts are ours. resolve.cpp checks the values and fills in the defaults.

#include "express/options.hpp"

#include <CLI/CLI.hpp>

namespace express {
namespace {

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
    app.add_option("--initial-workers", o.initial_workers,
                   "Apache children (threads with prefork) started at first, as a fraction of "
                   "the most there may be, 0 to 1")
        ->check(CLI::Range(0.0, 1.0));
    app.add_option("--minimum-spare-workers", o.minimum_spare_workers,
                   "Idle capacity Apache keeps at least, as a fraction of the most, 0 to 1")
        ->check(CLI::Range(0.0, 1.0));
    app.add_option("--maximum-spare-workers", o.maximum_spare_workers,
                   "Idle capacity Apache keeps at most, as a fraction of the most, 0 to 1")
        ->check(CLI::Range(0.0, 1.0));
    app.add_flag("--embedded-mode", o.embedded_mode,
                 "Run the application in the Apache children rather than a daemon process group");
    app.add_option("--process-group", o.process_group,
                   "Name of the daemon process group (default HOST:PORT)");
    app.add_option("--application-group", o.application_group,
                   "Application group (default %{GLOBAL}, the main interpreter)");
    app.add_option("--server-mpm", o.server_mpms,
                   "MPM to use: event, worker or prefork (repeatable: the first of event, "
                   "worker, prefork that is given and installed)")
        ->check(CLI::IsMember({"event", "worker", "prefork"}))
        ->allow_extra_args(false);
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
                   "script (a WSGI script file, the default), module, or static (TARGET is the "
                   "document root, default the current directory; no application)")
        ->check(CLI::IsMember({"script", "module", "static"}));
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
}

// What reaches the application and how: request bodies, HEAD, sendfile, eggs.
void add_request_options(CLI::App& app, ServerOptions& o) {
    app.add_option("--python-eggs", o.python_eggs,
                   "Directory for unpacking Python eggs (PYTHON_EGG_CACHE)");
    app.add_flag("--chunked-request", o.chunked_request,
                 "Accept request bodies sent with chunked transfer encoding");
    app.add_option("--map-head-to-get", o.map_head_to_get,
                   "Off, On or Auto (default): present HEAD requests to the application as GET")
        ->transform(CLI::IsMember({"Off", "On", "Auto"}, CLI::ignore_case));
    app.add_flag("--enable-sendfile", o.enable_sendfile,
                 "Send wsgi.file_wrapper files with sendfile()");
}

// Errors, directories and access control.
void add_access_options(CLI::App& app, ServerOptions& o) {
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
    app.add_option("--add-handler", o.handler_scripts,
                   "Serve document root files with EXTENSION by the WSGI application in "
                   "SCRIPT-PATH (its handle_request or application; repeatable)")
        ->type_name("EXTENSION SCRIPT-PATH")
        ->allow_extra_args(false);
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
    app.add_flag("--verbose-debugging", o.verbose_debugging,
                 "WSGIVerboseDebugging On: the module's debug messages");
    app.add_flag("--setup-only", o.setup_only,
                 "Write the server root and exit (the same as setup-server)");
}

}  // namespace

void add_server_options(CLI::App& app, ServerOptions& options) {
    add_application_options(app, options);
    add_request_options(app, options);
    add_access_options(app, options);
    add_network_options(app, options);
    add_capacity_options(app, options);
    add_timeout_options(app, options);
    add_server_files_options(app, options);
}

}  // namespace express

// Resolution of the start-server and setup-server options into a Plan: every check runs here,
// before anything is written, and every default mod_wsgi-express has is filled in.

#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <regex>

#include "common/trusted_proxy.hpp"
#include "express/options.hpp"

namespace express {
namespace {

namespace fs = std::filesystem;

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

// --application-type static: only the document root is served; it is TARGET unless
// --document-root names it, else the current directory (mod_wsgi-express).
void resolve_static(Plan& plan, const ServerOptions& o, const std::string& target,
                    const Facts& facts) {
    plan.static_only = true;
    if (o.document_root.empty()) {
        plan.document_root = absolute(target.empty() ? facts.cwd : target, facts.cwd);
        if (!is_directory(plan.document_root)) {
            throw UsageError("--application-type static: no such directory: " + target);
        }
        check_config_safe("TARGET", plan.document_root);
    }
    if (!o.handler_scripts.empty()) {
        throw UsageError("--add-handler needs an application: not with --application-type "
                         "static");
    }
}

void resolve_target(Plan& plan, const ServerOptions& o, const Facts& facts) {
    std::string target = o.entry_point.empty() ? o.target : o.entry_point;
    if (o.application_type == "static") {
        resolve_static(plan, o, target, facts);
        return;
    }
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

// mod_wsgi-express: the first of event, worker and prefork that is installed and, when
// --server-mpm is given, among those it names.
void resolve_mpm(Plan& plan, const ServerOptions& o, const Facts& facts) {
    for (const char* mpm : {"event", "worker", "prefork"}) {
        bool wanted = o.server_mpms.empty() ||
                      std::find(o.server_mpms.begin(), o.server_mpms.end(), mpm) !=
                          o.server_mpms.end();
        bool installed = std::find(facts.available_mpms.begin(), facts.available_mpms.end(),
                                   mpm) != facts.available_mpms.end();
        if (wanted && installed) {
            plan.mpm = mpm;
            break;
        }
    }
    if (plan.mpm.empty()) {
        std::string names;
        for (const std::string& mpm : o.server_mpms) {
            names += (names.empty() ? "mod_mpm_" : ", mod_mpm_") + mpm + ".so";
        }
        throw UsageError(o.server_mpms.empty()
                             ? "no MPM module (mod_mpm_event.so, ...) in the modules directory"
                             : "--server-mpm: " + names + " not in the modules directory");
    }
    if (o.http2 && plan.mpm == "prefork") {
        throw UsageError("--http2 does not work with the prefork MPM (mod_http2 needs "
                         "threads): give --server-mpm event or worker");
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
    resolve_mpm(plan, o, facts);
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
        bool known = std::any_of(std::begin(kOverrides), std::end(kOverrides), [&](const char* n) {
            return strcasecmp(n, type.c_str()) == 0;
        });
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

void resolve_handlers(Plan& plan, const ServerOptions& o, const Facts& facts) {
    static const std::regex kExtension(R"(^\.?[A-Za-z0-9_-]+$)");
    for (const auto& [extension, script] : o.handler_scripts) {
        if (!std::regex_match(extension, kExtension)) {
            throw UsageError("--add-handler needs a file name extension such as .tmpl, not '" +
                             extension + "'");
        }
        std::string dotted = extension[0] == '.' ? extension : "." + extension;
        plan.handler_scripts.emplace_back(dotted,
                                          existing_file("--add-handler", script, facts));
    }
    if (!plan.handler_scripts.empty()) {
        plan.resource_script = plan.server_root + "/resource.wsgi";
    }
}

}  // namespace

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
    resolve_handlers(plan, options, facts);
    if (options.reload_on_changes) {
        if (plan.static_only) {
            plan.warnings.push_back("--reload-on-changes is ignored with --application-type "
                                    "static");
        } else if (options.embedded_mode) {
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

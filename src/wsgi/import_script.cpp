#include "wsgi/import_script.hpp"

#include <apr_file_info.h>
#include <http_core.h>

#include <limits>
#include <set>
#include <utility>

#include "apache/log.hpp"
#include "config/config.hpp"
#include "config/options.hpp"
#include "python/gil.hpp"
#include "python/interpreter.hpp"
#include "python/ref.hpp"
#include "python/runtime.hpp"
#include "wsgi/channel.hpp"
#include "wsgi/script.hpp"

namespace wsgi::wsgi {
namespace {

// The channel of a script loaded outside any request: it only logs, against the server.
class ServerLogChannel final : public Channel {
public:
    explicit ServerLogChannel(server_rec* s) : server_(s) {}

    ReadStatus read_body(std::string&, std::size_t, int&, std::string&) override {
        return ReadStatus::kEof;
    }
    bool head_only() const override { return false; }
    void set_headers(int, const std::string&, const HeaderList&,
                     std::optional<std::int64_t>) override {}
    bool send_body(const char*, std::size_t, Pass, std::string& error) override {
        error = "no request";
        return false;
    }
    bool send_file(int, std::int64_t, std::int64_t, bool, bool, std::string& error) override {
        error = "no request";
        return false;
    }
    bool finish(std::string&) override { return true; }
    void abort() override {}
    void log(int level, const std::string& line) override {
        apache::log_line(level, nullptr, server_, line);
    }

private:
    server_rec* server_;
};

// What made the line, for log messages.
const char* source(const config::ImportScript& import) {
    return import.from_script_alias ? "WSGIScriptAlias with process-group= and application-group="
                                     : "WSGIImportScript";
}

// The application group an import script names: %{SERVER} is the name (and port, unless 80
// or 443) of the server it was configured in, as a request to that server would expand it.
std::string application_group(server_rec* s, const config::ImportScript& import) {
    if (import.application_group != "%{SERVER}") {
        return import.application_group;
    }
    unsigned port = s->port;
    if (port == 0 && s->addrs != nullptr) {
        port = s->addrs->host_port;
    }
    config::RequestIdentity identity{s->server_hostname != nullptr ? s->server_hostname : "",
                                     port != 0 ? port : 80u, ""};
    return config::expand_application_group(import.application_group, identity,
                                            [](std::string_view) { return std::nullopt; });
}

void preload(server_rec* main, server_rec* s, const config::ImportScript& import,
             apr_pool_t* pool) {
    apr_finfo_t info;
    apr_status_t status = apr_stat(&info, import.script.c_str(), APR_FINFO_MTIME, pool);
    if (status != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, status, s,
                     "WSGI0031: Cannot load WSGI script '%s' (%s): the file cannot be found "
                     "or read.",
                     import.script.c_str(), source(import));
        return;
    }
    std::string group = application_group(s, import);
    std::string error;
    // Bounded by the configuration, not by requests: no limit.
    python::Interpreter* interpreter = python::interpreters().for_application_group(
        group, std::numeric_limits<std::size_t>::max(), error);
    if (interpreter == nullptr) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, s,
                     "WSGI0032: Cannot load WSGI script '%s' (%s): no Python interpreter for "
                     "application group '%s': %s.",
                     import.script.c_str(), source(import), group.c_str(), error.c_str());
        return;
    }
    ScriptLoad load;
    load.path = import.script;
    // The name requests use, so that they find the module (WSGICaseSensitivity is global).
    load.module_name = script_module_name(
        load.path, config::server_config(main).case_sensitivity.value_or(true));
    load.mtime = info.mtime;
    load.reloading = true;
    ServerLogChannel channel(s);
    python::InterpreterLock lock(*interpreter);
    // load_script logs a failure (WSGI0003, with the traceback) and leaves nothing loaded.
    python::Ref module = load_script(*interpreter, load, channel);
    if (module) {
        python::GilRelease release;
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, s,
                     "Imported WSGI script '%s' into application group '%s' at process start "
                     "(%s).",
                     import.script.c_str(), group.c_str(), source(import));
    }
}

}  // namespace

void preload_import_scripts(server_rec* main, const std::string& process_group,
                            apr_pool_t* pool) noexcept {
    // A script named for the same group by several lines (an alias in the :80 and the :443
    // virtual host, a WSGIImportScript too) is loaded once.
    std::set<std::pair<std::string, std::string>> tried;
    for (server_rec* s = main; s != nullptr; s = s->next) {
        for (const config::ImportScript& import : config::server_config(s).import_scripts) {
            if (import.process_group != process_group ||
                !tried.emplace(import.script, application_group(s, import)).second) {
                continue;
            }
            try {
                preload(main, s, import, pool);
            } catch (const std::exception& e) {
                ap_log_error(APLOG_MARK, APLOG_ERR, 0, s,
                             "WSGI0009: Internal error loading WSGI script '%s' (%s): %s",
                             import.script.c_str(), source(import), e.what());
            }
        }
    }
}

}  // namespace wsgi::wsgi

#include "wsgi/environ.hpp"

#include <ap_mpm.h>
#include <ap_release.h>
#include <http_core.h>
#include <http_log.h>
#include <http_protocol.h>
#include <http_ssl.h>
#include <util_script.h>

#include <string>

#include "common/http_validate.hpp"
#include "common/script_alias.hpp"
#include "common/text.hpp"
#include "python/ref.hpp"
#include "config/config.hpp"
#include "wsgi/file_wrapper.hpp"
#include "wsgi/trusted_proxies.hpp"

namespace wsgi::wsgi {
namespace {

using python::Ref;

bool is_truthy_flag(const char* value) {
    return value != nullptr && (common::iequals(value, "on") || common::iequals(value, "1") ||
                                common::iequals(value, "yes"));
}

// The URI of the request line, before internal redirects (CGI's REQUEST_URI).
const char* original_uri(request_rec* r) {
    while (r->prev != nullptr) {
        r = r->prev;
    }
    return r->unparsed_uri != nullptr ? r->unparsed_uri : "";
}

struct MpmFacts {
    bool multithread = false;
    bool multiprocess = false;
};

MpmFacts query_mpm() {
    MpmFacts facts;
    int value = 0;
    if (ap_mpm_query(AP_MPMQ_IS_THREADED, &value) == APR_SUCCESS) {
        facts.multithread = value != AP_MPMQ_NOT_SUPPORTED;
    }
    int max_daemons = 0;
    if (ap_mpm_query(AP_MPMQ_IS_FORKED, &value) == APR_SUCCESS &&
        value != AP_MPMQ_NOT_SUPPORTED &&
        ap_mpm_query(AP_MPMQ_MAX_DAEMONS, &max_daemons) == APR_SUCCESS) {
        facts.multiprocess = max_daemons > 1;
    }
    return facts;
}

// A trusted proxy's scheme header (trusted_proxies.hpp) overrides what the connection says.
bool is_https(request_rec* r) {
    if (auto https = proxy_decision(r).https) {
        return *https;
    }
    return ap_ssl_conn_is_ssl(r->connection) ||
           is_truthy_flag(apr_table_get(r->subprocess_env, "HTTPS"));
}

bool gather_table(request_rec* r, const VariableSink& sink) {
    const apr_array_header_t* entries = apr_table_elts(r->subprocess_env);
    const auto* items = reinterpret_cast<const apr_table_entry_t*>(entries->elts);
    const bool proxy_scheme = proxy_decision(r).https.has_value();
    for (int i = 0; i < entries->nelts; ++i) {
        if (items[i].key == nullptr || (proxy_scheme && common::iequals(items[i].key, "HTTPS"))) {
            continue;  // HTTPS follows the proxy's scheme header, below
        }
        if (!sink(items[i].key, items[i].val != nullptr ? items[i].val : "")) {
            return false;
        }
    }
    return true;
}

bool gather_headers(request_rec* r, bool pass_authorization, const VariableSink& sink) {
    const common::ProxyDecision& proxy = proxy_decision(r);
    const apr_array_header_t* entries = apr_table_elts(r->headers_in);
    const auto* items = reinterpret_cast<const apr_table_entry_t*>(entries->elts);
    for (int i = 0; i < entries->nelts; ++i) {
        const char* name = items[i].key;
        if (name == nullptr || !common::is_environ_header_name(name)) {
            continue;  // e.g. X_Forwarded_For must not pass as X-Forwarded-For
        }
        std::string key = common::environ_key_for_header(name);
        if (key == "HTTP_PROXY") {
            continue;  // httpoxy (CVE-2016-5388)
        }
        if (proxy.removes(name)) {
            continue;  // a proxy header this peer may not send (CVE-2022-2255)
        }
        if (!pass_authorization &&
            (key == "HTTP_AUTHORIZATION" || key == "HTTP_PROXY_AUTHORIZATION")) {
            continue;
        }
        // Apache merges repeated request headers into one entry; apr_table_get joins any
        // left, so each key is sent once.
        if (apr_table_get(r->headers_in, name) != items[i].val) {
            continue;
        }
        const char* value = items[i].val != nullptr ? items[i].val : "";
        if (key == "HTTP_HOST" && proxy.host) {
            value = proxy.host->c_str();
        }
        if (!sink(key, value)) {
            return false;
        }
    }
    // X-Forwarded-Host from a request without Host (HTTP/1.0) still sets HTTP_HOST.
    if (proxy.host && apr_table_get(r->headers_in, "Host") == nullptr) {
        return sink("HTTP_HOST", *proxy.host);
    }
    return true;
}

const char* or_empty(const char* value) { return value != nullptr ? value : ""; }

}  // namespace

void script_name_and_path_info(request_rec* r, std::string& script_name, std::string& path_info) {
    const char* uri = r->uri != nullptr ? r->uri : "";
    if (r->path_info != nullptr && *r->path_info != '\0') {
        int end = ap_find_path_info(uri, r->path_info);
        script_name = common::collapse_slashes(std::string_view(uri, static_cast<std::size_t>(end)));
        path_info = common::collapse_slashes(r->path_info);
    } else {
        script_name = common::collapse_slashes(uri);
        path_info.clear();
    }
}

bool gather_variables(request_rec* r, const RequestSettings& settings, const VariableSink& sink) {
    conn_rec* c = r->connection;
    apr_port_t remote_port =
        r->useragent_addr != nullptr ? r->useragent_addr->port : c->client_addr->port;
    const char* method = settings.map_head_to_get && r->method_number == M_GET && r->header_only
                             ? "GET"
                             : r->method;
    const char* listener_host =
        c->local_addr->hostname != nullptr ? c->local_addr->hostname : c->local_ip;
    if (r->log_id == nullptr) {
        // mod_wsgi.request_id and the events' request_id: Apache makes a log id only when a
        // log format asks for %L; as mod_wsgi does, make one now.
        ap_run_generate_log_id(c, r, &r->log_id);
    }
    const common::ProxyDecision& proxy = proxy_decision(r);
    const std::string server_name =
        proxy.server_name ? *proxy.server_name : or_empty(ap_get_server_name_for_url(r));
    const std::string server_port =
        proxy.server_port ? *proxy.server_port : std::to_string(ap_get_server_port(r));
    const std::string remote_addr = proxy.remote_addr ? *proxy.remote_addr : or_empty(r->useragent_ip);
    const std::string& script_name = proxy.script_name ? *proxy.script_name : settings.script_name;
    return gather_table(r, sink) &&
           gather_headers(r, settings.pass_authorization, sink) &&
           sink("SERVER_SOFTWARE", ap_get_server_banner()) &&
           sink("SERVER_NAME", server_name) &&
           sink("SERVER_ADDR", or_empty(c->local_ip)) &&
           sink("SERVER_PORT", server_port) &&
           sink("SERVER_ADMIN", or_empty(r->server->server_admin)) &&
           sink("SERVER_PROTOCOL", or_empty(r->protocol)) &&
           sink("REMOTE_ADDR", remote_addr) &&
           sink("REMOTE_PORT", std::to_string(remote_port)) &&
           sink("DOCUMENT_ROOT", or_empty(ap_document_root(r))) &&
           sink("REQUEST_SCHEME", or_empty(ap_http_scheme(r))) &&
           sink("CONTEXT_PREFIX", or_empty(ap_context_prefix(r))) &&
           sink("CONTEXT_DOCUMENT_ROOT", or_empty(ap_context_document_root(r))) &&
           sink("GATEWAY_INTERFACE", "CGI/1.1") && sink("REQUEST_METHOD", or_empty(method)) &&
           sink("REQUEST_URI", original_uri(r)) && sink("QUERY_STRING", or_empty(r->args)) &&
           sink("SCRIPT_FILENAME", or_empty(r->filename)) &&
           sink("SCRIPT_NAME", script_name) && sink("PATH_INFO", settings.path_info) &&
           (!proxy.script_name || sink("mod_wsgi.mount_point", settings.script_name)) &&
           (r->user == nullptr || sink("REMOTE_USER", r->user)) &&
           (r->ap_auth_type == nullptr || sink("AUTH_TYPE", r->ap_auth_type)) &&
           (!is_https(r) || sink("HTTPS", "1")) &&
           sink("mod_wsgi.process_group", settings.process_group) &&
           sink("mod_wsgi.application_group", settings.application_group) &&
           sink("mod_wsgi.callable_object", settings.callable_object) &&
           sink("mod_wsgi.request_handler", or_empty(r->handler)) &&
           sink("mod_wsgi.handler_script", settings.handler_script) &&
           sink("mod_wsgi.script_reloading", settings.script_reloading ? "1" : "0") &&
           sink("mod_wsgi.enable_sendfile", settings.enable_sendfile ? "1" : "0") &&
           sink("mod_wsgi.script_name", settings.script_name) &&
           sink("mod_wsgi.path_info", settings.path_info) &&
           sink("mod_wsgi.listener_host", or_empty(listener_host)) &&
           sink("mod_wsgi.listener_port", std::to_string(c->local_addr->port)) &&
           sink("mod_wsgi.request_id", or_empty(r->log_id)) &&
           sink("mod_wsgi.connection_id", or_empty(c->log_id));
}

EnvironFacts embedded_facts(request_rec* r) {
    static const MpmFacts mpm = query_mpm();
    EnvironFacts facts;
    facts.multithread = mpm.multithread;
    facts.multiprocess = mpm.multiprocess;
    facts.https = is_https(r);
    facts.request_start = static_cast<double>(r->request_time) / 1e6;
    return facts;
}

Ref environ_from_request(request_rec* r, const RequestSettings& settings) {
    Ref environ = Ref::steal(PyDict_New());
    if (!environ) {
        return environ;
    }
    PyObject* dict = environ.get();
    bool ok = gather_variables(r, settings, [dict](std::string_view key, std::string_view value) {
        Ref name = Ref::steal(PyUnicode_FromStringAndSize(key.data(),
                                                          static_cast<Py_ssize_t>(key.size())));
        Ref text = Ref::steal(PyUnicode_DecodeLatin1(value.data(),
                                                     static_cast<Py_ssize_t>(value.size()),
                                                     nullptr));
        return name && text && PyDict_SetItem(dict, name.get(), text.get()) == 0;
    });
    if (ok && config::dir_config(r).pass_apache_request.value_or(false)) {
        // WSGIPassApacheRequest (embedded mode only): for C extensions that know httpd.
        Ref capsule = Ref::steal(PyCapsule_New(r, "apache.request_rec", nullptr));
        ok = capsule && PyDict_SetItemString(dict, "apache.request_rec", capsule.get()) == 0;
    }
    return ok ? std::move(environ) : Ref();
}

bool add_wsgi_objects(PyObject* environ, const EnvironFacts& facts, PyObject* input,
                      PyObject* errors) {
    auto set = [environ](const char* key, Ref value) {
        return value && PyDict_SetItemString(environ, key, value.get()) == 0;
    };
    auto flag = [](bool value) { return Ref::borrow(value ? Py_True : Py_False); };
    return set("wsgi.version", Ref::steal(Py_BuildValue("(ii)", 1, 0))) &&
           set("wsgi.url_scheme", Ref::steal(PyUnicode_FromString(facts.https ? "https" : "http"))) &&
           set("wsgi.input", Ref::borrow(input)) && set("wsgi.errors", Ref::borrow(errors)) &&
           set("wsgi.multithread", flag(facts.multithread)) &&
           set("wsgi.multiprocess", flag(facts.multiprocess)) &&
           set("wsgi.run_once", flag(false)) && set("wsgi.input_terminated", flag(true)) &&
           set("wsgi.file_wrapper", Ref::borrow(file_wrapper_type())) &&
           set("mod_wsgi.request_start", Ref::steal(PyFloat_FromDouble(facts.request_start))) &&
           set("mod_wsgi.version",
               Ref::steal(Py_BuildValue("(iii)", MOD_WSGI_VERSION_MAJOR, MOD_WSGI_VERSION_MINOR,
                                        MOD_WSGI_VERSION_PATCH))) &&
           set("apache.version",
               Ref::steal(Py_BuildValue("(iii)", AP_SERVER_MAJORVERSION_NUMBER,
                                        AP_SERVER_MINORVERSION_NUMBER,
                                        AP_SERVER_PATCHLEVEL_NUMBER)));
}

}  // namespace wsgi::wsgi

#include "wsgi/environ.hpp"

#include <unistd.h>

#include <ap_mpm.h>
#include <ap_release.h>
#include <http_core.h>
#include <http_log.h>
#include <http_protocol.h>
#include <http_ssl.h>
#include <util_script.h>

#include <memory>
#include <string>

#include "common/http_validate.hpp"
#include "common/script_alias.hpp"
#include "common/text.hpp"
#include "python/ref.hpp"
#include "config/config.hpp"
#include "wsgi/environ_cache.hpp"
#include "wsgi/file_wrapper.hpp"
#include "wsgi/interpreter_setup.hpp"
#include "wsgi/trusted_proxies.hpp"

namespace wsgi::wsgi {
namespace {

using python::Ref;

const char* or_empty(const char* value) { return value != nullptr ? value : ""; }

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

template <class Sink>
bool gather_table(request_rec* r, Sink& sink) {
    const apr_array_header_t* entries = apr_table_elts(r->subprocess_env);
    const auto* items = reinterpret_cast<const apr_table_entry_t*>(entries->elts);
    const bool proxy_scheme = proxy_decision(r).https.has_value();
    for (int i = 0; i < entries->nelts; ++i) {
        if (items[i].key == nullptr || (proxy_scheme && common::iequals(items[i].key, "HTTPS"))) {
            continue;  // HTTPS follows the proxy's scheme header, below
        }
        if (!sink(std::string_view(items[i].key), or_empty(items[i].val))) {
            return false;
        }
    }
    return true;
}

template <class Sink>
bool gather_headers(request_rec* r, bool pass_authorization, Sink& sink) {
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
        if (!sink(std::string_view(key), value)) {
            return false;
        }
    }
    // X-Forwarded-Host from a request without Host (HTTP/1.0) still sets HTTP_HOST.
    if (proxy.host && apr_table_get(r->headers_in, "Host") == nullptr) {
        return sink(std::string_view("HTTP_HOST"), *proxy.host);
    }
    return true;
}

// The names gather() always sets, each with a fixed slot in the interpreter's EnvironCache.
enum Key : std::size_t {
    kServerSoftware, kServerName, kServerAddr, kServerPort, kServerAdmin, kServerProtocol,
    kRemoteAddr, kRemotePort, kDocumentRoot, kRequestScheme, kContextPrefix,
    kContextDocumentRoot, kGatewayInterface, kRequestMethod, kRequestUri, kQueryString,
    kScriptFilename, kScriptName, kPathInfo, kMountPoint, kRemoteUser, kAuthType, kHttps,
    kProcessGroup, kApplicationGroup, kCallableObject, kRequestHandler, kHandlerScript,
    kScriptReloading, kEnableSendfile, kModScriptName, kModPathInfo, kListenerHost,
    kListenerPort, kRequestId, kConnectionId,
    // the wsgi.* and other object-valued names of add_wsgi_objects()
    kWsgiVersion, kWsgiUrlScheme, kWsgiInput, kWsgiErrors, kWsgiMultithread,
    kWsgiMultiprocess, kWsgiRunOnce, kWsgiInputTerminated, kWsgiFileWrapper, kRequestStart,
    kModWsgiVersion, kApacheVersion, kApacheRequestRec,
    kKeyCount
};

constexpr std::string_view kKeyNames[kKeyCount] = {
    "SERVER_SOFTWARE", "SERVER_NAME", "SERVER_ADDR", "SERVER_PORT", "SERVER_ADMIN",
    "SERVER_PROTOCOL", "REMOTE_ADDR", "REMOTE_PORT", "DOCUMENT_ROOT", "REQUEST_SCHEME",
    "CONTEXT_PREFIX", "CONTEXT_DOCUMENT_ROOT", "GATEWAY_INTERFACE", "REQUEST_METHOD",
    "REQUEST_URI", "QUERY_STRING", "SCRIPT_FILENAME", "SCRIPT_NAME", "PATH_INFO",
    "mod_wsgi.mount_point", "REMOTE_USER", "AUTH_TYPE", "HTTPS", "mod_wsgi.process_group",
    "mod_wsgi.application_group", "mod_wsgi.callable_object", "mod_wsgi.request_handler",
    "mod_wsgi.handler_script", "mod_wsgi.script_reloading", "mod_wsgi.enable_sendfile",
    "mod_wsgi.script_name", "mod_wsgi.path_info", "mod_wsgi.listener_host",
    "mod_wsgi.listener_port", "mod_wsgi.request_id", "mod_wsgi.connection_id",
    "wsgi.version", "wsgi.url_scheme", "wsgi.input", "wsgi.errors", "wsgi.multithread",
    "wsgi.multiprocess", "wsgi.run_once", "wsgi.input_terminated", "wsgi.file_wrapper",
    "mod_wsgi.request_start", "mod_wsgi.version", "apache.version", "apache.request_rec",
};

// The string variables of `r`, in the order mod_wsgi gives them. `sink(key, value)` takes
// a Key for the fixed names and a std::string_view for the others; a false return stops.
template <class Sink>
bool gather(request_rec* r, const RequestSettings& settings, Sink& sink) {
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
    const std::string_view server_name = proxy.server_name
                                             ? std::string_view(*proxy.server_name)
                                             : or_empty(ap_get_server_name_for_url(r));
    const std::string server_port =
        proxy.server_port ? *proxy.server_port : std::to_string(ap_get_server_port(r));
    const std::string_view remote_addr = proxy.remote_addr ? std::string_view(*proxy.remote_addr)
                                                           : or_empty(r->useragent_ip);
    const std::string& script_name = proxy.script_name ? *proxy.script_name : settings.script_name;
    return gather_table(r, sink) &&
           gather_headers(r, settings.pass_authorization, sink) &&
           sink(kServerSoftware, ap_get_server_banner()) &&
           sink(kServerName, server_name) &&
           sink(kServerAddr, or_empty(c->local_ip)) &&
           sink(kServerPort, server_port) &&
           sink(kServerAdmin, or_empty(r->server->server_admin)) &&
           sink(kServerProtocol, or_empty(r->protocol)) &&
           sink(kRemoteAddr, remote_addr) &&
           sink(kRemotePort, std::to_string(remote_port)) &&
           sink(kDocumentRoot, or_empty(ap_document_root(r))) &&
           sink(kRequestScheme, or_empty(ap_http_scheme(r))) &&
           sink(kContextPrefix, or_empty(ap_context_prefix(r))) &&
           sink(kContextDocumentRoot, or_empty(ap_context_document_root(r))) &&
           sink(kGatewayInterface, "CGI/1.1") && sink(kRequestMethod, or_empty(method)) &&
           sink(kRequestUri, original_uri(r)) && sink(kQueryString, or_empty(r->args)) &&
           sink(kScriptFilename, or_empty(r->filename)) &&
           sink(kScriptName, script_name) && sink(kPathInfo, settings.path_info) &&
           (!proxy.script_name || sink(kMountPoint, settings.script_name)) &&
           (r->user == nullptr || sink(kRemoteUser, r->user)) &&
           (r->ap_auth_type == nullptr || sink(kAuthType, r->ap_auth_type)) &&
           (!is_https(r) || sink(kHttps, "1")) &&
           sink(kProcessGroup, settings.process_group) &&
           sink(kApplicationGroup, settings.application_group) &&
           sink(kCallableObject, settings.callable_object) &&
           sink(kRequestHandler, or_empty(r->handler)) &&
           sink(kHandlerScript, settings.handler_script) &&
           sink(kScriptReloading, settings.script_reloading ? "1" : "0") &&
           sink(kEnableSendfile, settings.enable_sendfile ? "1" : "0") &&
           sink(kModScriptName, settings.script_name) &&
           sink(kModPathInfo, settings.path_info) &&
           sink(kListenerHost, or_empty(listener_host)) &&
           sink(kListenerPort, std::to_string(c->local_addr->port)) &&
           sink(kRequestId, or_empty(r->log_id)) &&
           sink(kConnectionId, or_empty(c->log_id));
}

// The interpreter's cache of environ names and values, made on first use. GIL held.
EnvironCache& environ_cache() {
    WsgiState& state = wsgi_state();
    if (!state.environ_cache) {
        state.environ_cache = std::make_unique<EnvironCache>(kKeyCount);
    }
    return *state.environ_cache;
}

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
    struct Named {
        const VariableSink& sink;
        bool operator()(Key key, std::string_view value) const {
            return sink(kKeyNames[key], value);
        }
        bool operator()(std::string_view key, std::string_view value) const {
            return sink(key, value);
        }
    };
    Named named{sink};
    return gather(r, settings, named);
}

EnvironFacts embedded_facts(request_rec* r) {
    static const MpmFacts mpm = query_mpm();
    EnvironFacts facts;
    facts.multithread = mpm.multithread;
    facts.multiprocess = mpm.multiprocess;
    facts.https = is_https(r);
    facts.request_start = static_cast<double>(r->request_time) / 1e6;
    facts.body_within_content_length = r->input_filters == r->proto_input_filters;
    facts.server_pid = static_cast<long>(getpid());
    return facts;
}

Ref environ_from_request(request_rec* r, const RequestSettings& settings) {
    // Room for the ~45 variables and the wsgi.* objects without growing the dict.
    Ref environ = Ref::steal(_PyDict_NewPresized(64));
    if (!environ) {
        return environ;
    }
    struct Cached {
        PyObject* dict;
        EnvironCache& cache;
        bool operator()(Key key, std::string_view value) const {
            return cache.set(dict, key, kKeyNames[key], value);
        }
        bool operator()(std::string_view key, std::string_view value) const {
            return cache.set(dict, EnvironCache::kNoSlot, key, value);
        }
    };
    EnvironCache& cache = environ_cache();
    Cached sink{environ.get(), cache};
    bool ok = gather(r, settings, sink);
    if (ok && config::dir_config(r).pass_apache_request.value_or(false)) {
        // WSGIPassApacheRequest (embedded mode only): for C extensions that know httpd.
        Ref capsule = Ref::steal(PyCapsule_New(r, "apache.request_rec", nullptr));
        ok = capsule && cache.set_object(environ.get(), kApacheRequestRec,
                                         kKeyNames[kApacheRequestRec], capsule.get());
    }
    return ok ? std::move(environ) : Ref();
}

Ref environ_from_variables(std::span<const std::pair<std::string, std::string>> variables) {
    Ref environ = Ref::steal(_PyDict_NewPresized(64));
    if (!environ) {
        return environ;
    }
    EnvironCache& cache = environ_cache();
    for (const auto& [name, value] : variables) {
        if (!cache.set(environ.get(), EnvironCache::kNoSlot, name, value)) {
            return Ref();
        }
    }
    return environ;
}

bool add_wsgi_objects(PyObject* environ, const EnvironFacts& facts, PyObject* input,
                      PyObject* errors) {
    EnvironCache& cache = environ_cache();
    auto set = [&cache, environ](Key key, PyObject* value) {
        return cache.set_object(environ, key, kKeyNames[key], value);
    };
    auto constant = [&cache, environ](Key key, auto make) {
        return cache.set_constant(environ, key, kKeyNames[key], make);
    };
    auto flag = [](bool value) { return value ? Py_True : Py_False; };
    Ref request_start = Ref::steal(PyFloat_FromDouble(facts.request_start));
    return constant(kWsgiVersion, [] { return Py_BuildValue("(ii)", 1, 0); }) &&
           cache.set(environ, kWsgiUrlScheme, kKeyNames[kWsgiUrlScheme],
                     facts.https ? "https" : "http") &&
           set(kWsgiInput, input) && set(kWsgiErrors, errors) &&
           set(kWsgiMultithread, flag(facts.multithread)) &&
           set(kWsgiMultiprocess, flag(facts.multiprocess)) &&
           set(kWsgiRunOnce, Py_False) && set(kWsgiInputTerminated, Py_True) &&
           set(kWsgiFileWrapper, file_wrapper_type()) &&
           request_start && set(kRequestStart, request_start.get()) &&
           add_version_keys(environ);
}

bool add_version_keys(PyObject* environ) {
    EnvironCache& cache = environ_cache();
    return cache.set_constant(environ, kModWsgiVersion, kKeyNames[kModWsgiVersion],
                              [] {
                                  return Py_BuildValue("(iii)", MOD_WSGI_VERSION_MAJOR,
                                                       MOD_WSGI_VERSION_MINOR,
                                                       MOD_WSGI_VERSION_PATCH);
                              }) &&
           cache.set_constant(environ, kApacheVersion, kKeyNames[kApacheVersion], [] {
               return Py_BuildValue("(iii)", AP_SERVER_MAJORVERSION_NUMBER,
                                    AP_SERVER_MINORVERSION_NUMBER, AP_SERVER_PATCHLEVEL_NUMBER);
           });
}

}  // namespace wsgi::wsgi

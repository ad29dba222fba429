#include "wsgi/environ.hpp"

#include <ap_mpm.h>
#include <ap_release.h>
#include <http_core.h>
#include <http_protocol.h>
#include <http_ssl.h>
#include <util_script.h>

#include <string>

#include "common/http_validate.hpp"
#include "common/script_alias.hpp"
#include "common/text.hpp"
#include "python/ref.hpp"
#include "wsgi/file_wrapper.hpp"

namespace wsgi::wsgi {
namespace {

using python::Ref;

// Sets environ[key] = value decoded as latin-1 (PEP 3333 native strings). Returns false
// with an exception set.
bool set_string(PyObject* environ, const char* key, std::string_view value) {
    Ref text = Ref::steal(PyUnicode_DecodeLatin1(value.data(),
                                                 static_cast<Py_ssize_t>(value.size()), nullptr));
    return text && PyDict_SetItemString(environ, key, text.get()) == 0;
}

bool set_string(PyObject* environ, const char* key, const char* value) {
    return set_string(environ, key, std::string_view(value != nullptr ? value : ""));
}

bool set_object(PyObject* environ, const char* key, PyObject* value) {
    return value != nullptr && PyDict_SetItemString(environ, key, value) == 0;
}

bool set_owned(PyObject* environ, const char* key, Ref value) {
    return value && PyDict_SetItemString(environ, key, value.get()) == 0;
}

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

bool add_request_environment(PyObject* environ, request_rec* r) {
    const apr_array_header_t* entries = apr_table_elts(r->subprocess_env);
    const auto* items = reinterpret_cast<const apr_table_entry_t*>(entries->elts);
    for (int i = 0; i < entries->nelts; ++i) {
        if (items[i].key != nullptr && !set_string(environ, items[i].key, items[i].val)) {
            return false;
        }
    }
    return true;
}

bool add_headers(PyObject* environ, request_rec* r, bool pass_authorization) {
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
        if (!pass_authorization &&
            (key == "HTTP_AUTHORIZATION" || key == "HTTP_PROXY_AUTHORIZATION")) {
            continue;
        }
        std::string value = items[i].val != nullptr ? items[i].val : "";
        if (PyObject* existing = PyDict_GetItemString(environ, key.c_str());
            existing != nullptr && key.starts_with("HTTP_")) {
            Ref joined = Ref::steal(PyUnicode_FromFormat("%U, %s", existing, ""));
            Ref latin = Ref::steal(PyUnicode_DecodeLatin1(value.data(),
                                                          static_cast<Py_ssize_t>(value.size()),
                                                          nullptr));
            Ref combined = joined && latin ? Ref::steal(PyUnicode_Concat(joined.get(), latin.get()))
                                           : Ref();
            if (!set_owned(environ, key.c_str(), std::move(combined))) {
                return false;
            }
            continue;
        }
        if (!set_string(environ, key.c_str(), value)) {
            return false;
        }
    }
    return true;
}

bool add_cgi_variables(PyObject* environ, request_rec* r, const RequestSettings& settings) {
    conn_rec* c = r->connection;
    apr_port_t remote_port =
        r->useragent_addr != nullptr ? r->useragent_addr->port : c->client_addr->port;
    const char* method = settings.map_head_to_get && r->method_number == M_GET && r->header_only
                             ? "GET"
                             : r->method;
    return set_string(environ, "SERVER_SOFTWARE", ap_get_server_banner()) &&
           set_string(environ, "SERVER_NAME", ap_get_server_name_for_url(r)) &&
           set_string(environ, "SERVER_ADDR", c->local_ip) &&
           set_string(environ, "SERVER_PORT", std::to_string(ap_get_server_port(r))) &&
           set_string(environ, "SERVER_ADMIN", r->server->server_admin) &&
           set_string(environ, "SERVER_PROTOCOL", r->protocol) &&
           set_string(environ, "REMOTE_ADDR", r->useragent_ip) &&
           set_string(environ, "REMOTE_PORT", std::to_string(remote_port)) &&
           set_string(environ, "DOCUMENT_ROOT", ap_document_root(r)) &&
           set_string(environ, "REQUEST_SCHEME", ap_http_scheme(r)) &&
           set_string(environ, "CONTEXT_PREFIX", ap_context_prefix(r)) &&
           set_string(environ, "CONTEXT_DOCUMENT_ROOT", ap_context_document_root(r)) &&
           set_string(environ, "GATEWAY_INTERFACE", "CGI/1.1") &&
           set_string(environ, "REQUEST_METHOD", method) &&
           set_string(environ, "REQUEST_URI", original_uri(r)) &&
           set_string(environ, "QUERY_STRING", r->args != nullptr ? r->args : "") &&
           set_string(environ, "SCRIPT_FILENAME", r->filename) &&
           set_string(environ, "SCRIPT_NAME", settings.script_name) &&
           set_string(environ, "PATH_INFO", settings.path_info) &&
           (r->user == nullptr || set_string(environ, "REMOTE_USER", r->user)) &&
           (r->ap_auth_type == nullptr || set_string(environ, "AUTH_TYPE", r->ap_auth_type));
}

Ref version_tuple(int major, int minor, int patch) {
    return Ref::steal(Py_BuildValue("(iii)", major, minor, patch));
}

bool add_wsgi_keys(PyObject* environ, request_rec* r, const RequestSettings& settings,
                   PyObject* input, PyObject* errors) {
    static const MpmFacts mpm = query_mpm();
    bool https = ap_ssl_conn_is_ssl(r->connection) ||
                 is_truthy_flag(apr_table_get(r->subprocess_env, "HTTPS"));
    if (https && !set_string(environ, "HTTPS", "1")) {
        return false;
    }
    return set_owned(environ, "wsgi.version", Ref::steal(Py_BuildValue("(ii)", 1, 0))) &&
           set_string(environ, "wsgi.url_scheme", https ? "https" : "http") &&
           set_object(environ, "wsgi.input", input) &&
           set_object(environ, "wsgi.errors", errors) &&
           set_object(environ, "wsgi.multithread", mpm.multithread ? Py_True : Py_False) &&
           set_object(environ, "wsgi.multiprocess", mpm.multiprocess ? Py_True : Py_False) &&
           set_object(environ, "wsgi.run_once", Py_False) &&
           set_object(environ, "wsgi.input_terminated", Py_True) &&
           set_object(environ, "wsgi.file_wrapper", file_wrapper_type()) &&
           set_string(environ, "mod_wsgi.process_group", settings.process_group) &&
           set_string(environ, "mod_wsgi.application_group", settings.application_group) &&
           set_string(environ, "mod_wsgi.callable_object", settings.callable_object) &&
           set_string(environ, "mod_wsgi.request_handler", "wsgi-script") &&
           set_string(environ, "mod_wsgi.handler_script", "") &&
           set_string(environ, "mod_wsgi.script_reloading",
                      settings.script_reloading ? "1" : "0") &&
           set_string(environ, "mod_wsgi.enable_sendfile", settings.enable_sendfile ? "1" : "0") &&
           set_string(environ, "mod_wsgi.script_name", settings.script_name) &&
           set_string(environ, "mod_wsgi.path_info", settings.path_info) &&
           set_string(environ, "mod_wsgi.listener_host",
                      r->connection->local_addr->hostname != nullptr
                          ? r->connection->local_addr->hostname
                          : r->connection->local_ip) &&
           set_string(environ, "mod_wsgi.listener_port",
                      std::to_string(r->connection->local_addr->port)) &&
           set_string(environ, "mod_wsgi.request_id", r->log_id) &&
           set_string(environ, "mod_wsgi.connection_id", r->connection->log_id) &&
           set_owned(environ, "mod_wsgi.request_start",
                     Ref::steal(PyFloat_FromDouble(static_cast<double>(r->request_time) / 1e6))) &&
           set_owned(environ, "mod_wsgi.version",
                     version_tuple(MOD_WSGI_VERSION_MAJOR, MOD_WSGI_VERSION_MINOR,
                                   MOD_WSGI_VERSION_PATCH)) &&
           set_owned(environ, "apache.version",
                     version_tuple(AP_SERVER_MAJORVERSION_NUMBER, AP_SERVER_MINORVERSION_NUMBER,
                                   AP_SERVER_PATCHLEVEL_NUMBER));
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

Ref build_environ(request_rec* r, const RequestSettings& settings, PyObject* input,
                  PyObject* errors) {
    Ref environ = Ref::steal(PyDict_New());
    if (!environ || !add_request_environment(environ.get(), r) ||
        !add_headers(environ.get(), r, settings.pass_authorization) ||
        !add_cgi_variables(environ.get(), r, settings) ||
        !add_wsgi_keys(environ.get(), r, settings, input, errors)) {
        return Ref();
    }
    return environ;
}

}  // namespace wsgi::wsgi

#pragma once
// The WSGI environ of a request (PEP 3333 "environ Variables"; mod_wsgi docs "WSGI environ";
// CGI variables per RFC 3875 as Apache provides them). Built in two halves: the string
// variables, which the Apache child gathers from request_rec (and, in daemon mode, sends to
// the daemon process), and the wsgi.* objects, which the process running the application
// adds.

#include <Python.h>
#include <httpd.h>

#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include "python/ref.hpp"
#include "wsgi/request.hpp"

namespace wsgi::wsgi {

// Receives one string variable; returns false to stop (e.g. a Python error).
using VariableSink = std::function<bool(std::string_view key, std::string_view value)>;

// Gathers the string variables of `r`: the request's environment table (SetEnv, mod_rewrite,
// mod_ssl), HTTP_* for request headers (names limited to letters, digits and '-', no Proxy,
// Authorization only when passed), the CGI variables with SCRIPT_NAME / PATH_INFO from
// `settings`, HTTPS when on TLS, and mod_wsgi's string keys. Returns false when the sink
// stopped.
bool gather_variables(request_rec* r, const RequestSettings& settings, const VariableSink& sink);

// Facts about the serving process and request that become environ objects.
struct EnvironFacts {
    bool multithread = false;
    bool multiprocess = false;
    bool https = false;
    double request_start = 0;  // seconds since the epoch
    // Daemon mode: when the Apache child began passing the request on, and when a daemon
    // thread took it (seconds since the epoch); 0 in embedded mode, as mod_wsgi has them.
    double queue_start = 0;
    double daemon_start = 0;
    // The Apache child that received the request (mod_wsgi.server_pid, the events'
    // server_pid): this process in embedded mode; 0 when a daemon process was not told.
    long server_pid = 0;
    // Whether the body the application reads is at most CONTENT_LENGTH bytes: no request
    // input filter sits above HTTP_IN (which stops at the Content-Length) to change it, as
    // mod_deflate's inflating does. When not, wsgi.input reads on to the end of the body, as
    // mod_wsgi does (its Input_read: never truncate what the input filters give).
    bool body_within_content_length = true;
};

// The facts for `r` served in embedded mode (MPM threading and processes).
EnvironFacts embedded_facts(request_rec* r);

// A dict holding the string variables of `r`, decoded as latin-1 (new reference), or an empty
// Ref with an exception set. GIL held.
python::Ref environ_from_request(request_rec* r, const RequestSettings& settings);

// A dict holding `variables` (name, value), decoded as latin-1 (new reference), or an empty
// Ref with an exception set: the environ of a request gathered in an Apache child and served
// in a daemon process. Names and repeated values come from the interpreter's cache, as for
// environ_from_request(). GIL held, the request's interpreter current.
python::Ref environ_from_variables(
    std::span<const std::pair<std::string, std::string>> variables);

// Adds `mod_wsgi.version` and `apache.version` (tuples of three ints, from the interpreter's
// cache) to `environ`: part of add_wsgi_objects(), and given alone to the environ of access,
// auth and dispatch scripts, as mod_wsgi does (its Auth_environ and Dispatch_environ). GIL
// held; false with an exception set.
bool add_version_keys(PyObject* environ);

// Adds the wsgi.* keys and mod_wsgi's object-valued keys to `environ`. `input` and `errors`
// are borrowed. GIL held; false with an exception set.
bool add_wsgi_objects(PyObject* environ, const EnvironFacts& facts, PyObject* input,
                      PyObject* errors);

// Computes SCRIPT_NAME and PATH_INFO for `r` as mod_wsgi does: the URI minus the path info
// Apache found after the script, repeated slashes collapsed; a mount at "/" gives "".
void script_name_and_path_info(request_rec* r, std::string& script_name, std::string& path_info);

}  // namespace wsgi::wsgi

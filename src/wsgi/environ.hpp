#pragma once
// The WSGI environ of a request (PEP 3333 "environ Variables"; mod_wsgi docs "WSGI environ";
// CGI variables per RFC 3875 as Apache provides them).

#include <Python.h>
#include <httpd.h>

#include "python/ref.hpp"
#include "wsgi/request.hpp"

namespace wsgi::wsgi {

// Builds the environ dict for `r`: the request's environment table (SetEnv, mod_rewrite,
// mod_ssl), HTTP_* for request headers (latin-1, names limited to letters, digits and '-',
// no Proxy, Authorization only when passed), the CGI variables, SCRIPT_NAME / PATH_INFO with
// repeated slashes collapsed, the wsgi.* keys and mod_wsgi's own. `input` and `errors` are
// borrowed. GIL held. Returns nullptr with an exception set on failure.
python::Ref build_environ(request_rec* r, const RequestSettings& settings, PyObject* input,
                          PyObject* errors);

// Computes SCRIPT_NAME and PATH_INFO for `r` as mod_wsgi does: the URI minus the path info
// Apache found after the script, repeated slashes collapsed; a mount at "/" gives "".
void script_name_and_path_info(request_rec* r, std::string& script_name, std::string& path_info);

}  // namespace wsgi::wsgi

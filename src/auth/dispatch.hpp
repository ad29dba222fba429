#pragma once
// WSGIDispatchScript (mod_wsgi docs): per request, the script's process_group(environ),
// application_group(environ) and callable_object(environ), those it defines, may replace the
// configured choices. A string result is expanded like the matching directive's value
// (%{GLOBAL}, %{ENV:name}...); None keeps the configured choice.

#include <httpd.h>

#include "wsgi/request.hpp"

namespace wsgi::auth {

// Applies the WSGIDispatchScript of `r`'s directory, if any, to `settings`. Runs the script
// in embedded mode, in its application-group= or else the request's application group.
// Without the GIL. Returns OK, or HTTP_INTERNAL_SERVER_ERROR (logged, with the traceback) when
// the script fails to load, raises or returns something other than a string or None.
int apply_dispatch_script(request_rec* r, wsgi::RequestSettings& settings);

}  // namespace wsgi::auth

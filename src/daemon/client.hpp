#pragma once
// Daemon mode on the Apache child's side: passes a request to its daemon process group over
// the group's UNIX socket and relays the response through Apache (so output filters, the
// access log, several Set-Cookie headers and WSGIErrorOverride work as in embedded mode).

#include <httpd.h>

#include "config/config.hpp"
#include "wsgi/request.hpp"
#include "wsgi/script.hpp"

namespace wsgi::daemon {

// Serves `r` through `group`. Returns OK once a response went to the client (or the client
// left), else the HTTP status for Apache to answer with, logged with a WSGInnnn code: 503 when
// no daemon process can be reached within connect-timeout, 504 when it does not answer within
// socket-timeout, 502 when it fails before sending headers. Never called with the GIL.
int serve_in_daemon(request_rec* r, const wsgi::RequestSettings& settings,
                    const config::DaemonGroup& group, const wsgi::ScriptLoad& script);

}  // namespace wsgi::daemon

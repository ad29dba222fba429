#pragma once
// WSGITrustedProxyHeaders / WSGITrustedProxies applied to a request (rules in
// common/trusted_proxy.hpp). The decision is made once per request, in the Apache child, and
// read by the environ (both modes: daemon mode gets the environ gathered here) and by
// wsgi.url_scheme through EnvironFacts.

#include <httpd.h>

#include "common/trusted_proxy.hpp"

namespace wsgi::wsgi {

// The proxy header decision for `r`, made on first use and kept in r->pool. The peer is
// r->useragent_ip. Any thread serving `r`; no GIL needed.
const common::ProxyDecision& proxy_decision(request_rec* r);

}  // namespace wsgi::wsgi

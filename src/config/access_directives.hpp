#pragma once
// Directive handlers of the access control, handler and dispatch scripts and of the trusted
// proxy headers (issue 6): WSGIAuthUserScript, WSGIAuthGroupScript, WSGIGroupAuthoritative,
// WSGIAccessScript, WSGIDispatchScript, WSGIHandlerScript, WSGIPassApacheRequest,
// WSGITrustedProxyHeaders, WSGITrustedProxies. Each is noexcept and returns an error string
// naming the directive (config thread only). kDirectives lists them.

#include <httpd.h>
// clang-format off
#include <http_config.h>
// clang-format on

namespace wsgi::config {

// RAW_ARGS "FILE [application-group=NAME]": stores the script for the authn provider "wsgi",
// the authz provider "wsgi-group" and the access checker.
const char* set_auth_user_script(cmd_parms* cmd, void* mconfig, const char* args) noexcept;
const char* set_auth_group_script(cmd_parms* cmd, void* mconfig, const char* args) noexcept;
const char* set_access_script(cmd_parms* cmd, void* mconfig, const char* args) noexcept;
// RAW_ARGS "FILE [application-group=NAME]".
const char* set_dispatch_script(cmd_parms* cmd, void* mconfig, const char* args) noexcept;
// RAW_ARGS "NAME FILE [process-group=] [application-group=] [pass-authorization=]".
const char* add_handler_script(cmd_parms* cmd, void* mconfig, const char* args) noexcept;
// TAKE1 On|Off.
const char* set_group_authoritative(cmd_parms* cmd, void* mconfig, const char* value) noexcept;
const char* set_pass_apache_request(cmd_parms* cmd, void* mconfig, const char* value) noexcept;
// ITERATE: one header name / one address or CIDR block per call; lines in a scope add up.
const char* add_trusted_proxy_header(cmd_parms* cmd, void* mconfig, const char* name) noexcept;
const char* add_trusted_proxy(cmd_parms* cmd, void* mconfig, const char* address) noexcept;

}  // namespace wsgi::config

#pragma once
// Apache's auth phases through Python scripts (mod_wsgi docs "Access Control Mechanisms"):
// the authn provider "wsgi" (WSGIAuthUserScript: check_password() for Basic,
// get_realm_hash() for Digest), the authz provider "wsgi-group" (WSGIAuthGroupScript:
// groups_for_user() for `Require wsgi-group NAME...`) and an access checker
// (WSGIAccessScript: allow_access()). Being Apache providers, they protect static files and
// CGI as well as WSGI applications.

#include <apr_pools.h>

namespace wsgi::auth {

// Registers the two providers and the access checker hook. From register_hooks only.
void register_auth_hooks(apr_pool_t* pool) noexcept;

}  // namespace wsgi::auth

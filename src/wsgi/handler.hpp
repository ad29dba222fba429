#pragma once
// The module's httpd hooks for embedded mode: mapping URLs to WSGI scripts, serving a
// request through its WSGI application, and the Python lifecycle of an Apache child.
// Every function here is noexcept: no C++ exception crosses into httpd.

#include <apr_pools.h>
#include <cstddef>
#include <httpd.h>

#include <optional>
#include <string>
#include <string_view>

#include "config/config.hpp"
#include "python/interpreter.hpp"

namespace wsgi::wsgi {

// Sub interpreters one process (Apache child or daemon process) may create: application group
// names can come from the request (%{ENV:...} set from headers by mod_rewrite or SetEnvIf),
// and each costs megabytes.
constexpr std::size_t kMaxSubInterpreters = 64;

// post_config: records the main server and adds "mod_wsgi/<version> Python/<X.Y>" to the
// server version (shown in the startup "configured" line). Runs in the parent; never
// initialises Python there.
int post_config(apr_pool_t* pconf, apr_pool_t* plog, apr_pool_t* ptemp, server_rec* s) noexcept;

// check_config: checks what only a running server would otherwise find out, so that it fails
// `apache2 -t` and the start command with a message (daemon mode: the socket directory must be
// reachable by Apache's child user, WSGI0166). Runs in the parent, before Apache detaches.
int check_config(apr_pool_t* pconf, apr_pool_t* plog, apr_pool_t* ptemp, server_rec* s) noexcept;

// child_init: initialises Python in a new Apache child (after privileges were dropped) and
// registers its finalisation, which runs atexit handlers, on the child's pool.
void child_init(apr_pool_t* pchild, server_rec* s) noexcept;

// Initialises Python in this process (an Apache child: `group` null; a daemon process: its
// group, whose python-home= / python-path= apply), sets up the main interpreter, registers
// the finalisation at process exit on `pool` and preloads the process group's
// WSGIImportScript lines. Without the GIL. Returns false (logged) when Python is not usable.
bool start_python(server_rec* s, apr_pool_t* pool, const config::DaemonGroup* group);

// translate_name: WSGIScriptAlias / WSGIScriptAliasMatch. Runs after mod_alias, so Alias
// keeps serving static files beside a mount at "/". Sets r->filename to the target plus the
// rest of the URI (Apache's directory walk then splits off PATH_INFO) and the handler.
int translate_name(request_rec* r) noexcept;

// The value of %{ENV:name} for `r`: request notes, then the request environment, then the
// process environment; nullopt when unset.
std::optional<std::string> lookup_variable(request_rec* r, std::string_view name);

// What the %{...} expansions of group names need, for `r` with this SCRIPT_NAME (borrowed).
config::RequestIdentity request_identity(request_rec* r, std::string_view script_name);

// The interpreter of an expanded application group name in this process, created on first
// use (bounded; warns as the count grows). Without the GIL. Logs and returns nullptr on
// failure.
python::Interpreter* interpreter_for(request_rec* r, const std::string& application_group);

// handler: serves requests whose handler is "wsgi-script" (or application/x-httpd-wsgi).
int handle_request(request_rec* r) noexcept;

}  // namespace wsgi::wsgi

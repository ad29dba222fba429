// The module record: the one symbol Apache looks up (`LoadModule wsgi_module ...`), the
// directive table and hook registration. Everything else lives in the layers below.

#include <httpd.h>
#include <http_config.h>
#include <http_core.h>
#include <http_log.h>
#include <http_protocol.h>
#include <http_request.h>

#include "apache/connection_input.hpp"
#include "apache/log_id.hpp"
#include "config/config.hpp"
#include "auth/providers.hpp"
#include "config/directives.hpp"
#include "wsgi/handler.hpp"

namespace {

void register_hooks(apr_pool_t* pool) noexcept {
    // After mod_alias (Alias beats a WSGIScriptAlias at "/"), before mod_userdir and
    // mod_vhost_alias, as mod_wsgi orders itself.
    static const char* const kBefore[] = {"mod_alias.c", nullptr};
    static const char* const kAfter[] = {"mod_userdir.c", "mod_vhost_alias.c", nullptr};
    ap_hook_check_config(wsgi::wsgi::check_config, nullptr, nullptr, APR_HOOK_MIDDLE);
    ap_hook_post_config(wsgi::wsgi::post_config, nullptr, nullptr, APR_HOOK_MIDDLE);
    ap_hook_child_init(wsgi::wsgi::child_init, nullptr, nullptr, APR_HOOK_MIDDLE);
    ap_hook_translate_name(wsgi::wsgi::translate_name, kBefore, kAfter, APR_HOOK_MIDDLE);
    ap_hook_handler(wsgi::wsgi::handle_request, nullptr, nullptr, APR_HOOK_MIDDLE);
    // The core's own runs at APR_HOOK_REALLY_LAST: another module's network bucket wins.
    ap_hook_insert_network_bucket(wsgi::apache::insert_network_bucket, nullptr, nullptr,
                                  APR_HOOK_LAST);
    // One getpid system call fewer per request than the core's generator (APR_HOOK_REALLY_LAST),
    // which it replaces; mod_unique_id's still wins.
    wsgi::apache::forget_process_id_on_fork();
    ap_hook_generate_log_id(wsgi::apache::generate_log_id, nullptr, nullptr, APR_HOOK_LAST);
    wsgi::auth::register_auth_hooks(pool);
}

}  // namespace

extern "C" {
__attribute__((visibility("default"))) module AP_MODULE_DECLARE_DATA wsgi_module = {
    // STANDARD20_MODULE_STUFF, but named "mod_wsgi.c" rather than this file's name, so that
    // <IfModule mod_wsgi.c> (Debian's wsgi.conf, many existing configs) matches, as with
    // mod_wsgi.
    MODULE_MAGIC_NUMBER_MAJOR,
    MODULE_MAGIC_NUMBER_MINOR,
    -1,
    "mod_wsgi.c",
    nullptr,
    nullptr,
    MODULE_MAGIC_COOKIE,
    nullptr,
    wsgi::config::create_dir_config,
    wsgi::config::merge_dir_config,
    wsgi::config::create_server_config,
    wsgi::config::merge_server_config,
    wsgi::config::kDirectives,
    register_hooks,
    AP_MODULE_FLAG_ALWAYS_MERGE,
};
}

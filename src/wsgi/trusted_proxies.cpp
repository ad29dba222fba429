#include "wsgi/trusted_proxies.hpp"

#include <apr_pools.h>

#include <string>

#include "apache/pool.hpp"
#include "config/config.hpp"

namespace wsgi::wsgi {
namespace {

constexpr const char* kPoolKey = "mod_wsgi.proxy_decision";

}  // namespace

const common::ProxyDecision& proxy_decision(request_rec* r) {
    void* cached = nullptr;
    apr_pool_userdata_get(&cached, kPoolKey, r->pool);
    if (cached != nullptr) {
        return *static_cast<const common::ProxyDecision*>(cached);
    }
    const config::DirConfig& dir = config::dir_config(r);
    common::ProxyRules rules;
    if (dir.trusted_proxy_headers) {
        rules.trusted_headers = *dir.trusted_proxy_headers;
    }
    rules.trusted_proxies = dir.trusted_proxies;
    auto lookup = [r](std::string_view name) -> std::optional<std::string> {
        const char* value = apr_table_get(r->headers_in, std::string(name).c_str());
        if (value == nullptr) {
            return std::nullopt;
        }
        return std::string(value);
    };
    auto* decision = apache::make_pool_object<common::ProxyDecision>(r->pool);
    *decision = common::decide_proxy_headers(
        rules, r->useragent_ip != nullptr ? r->useragent_ip : "", lookup);
    apr_pool_userdata_setn(decision, kPoolKey, nullptr, r->pool);
    return *decision;
}

}  // namespace wsgi::wsgi

#include "config/access_directives.hpp"

#include <string>
#include <vector>

#include "common/trusted_proxy.hpp"
#include "config/access_scripts.hpp"
#include "config/config.hpp"
#include "config/directive_barrier.hpp"
#include "config/options.hpp"

namespace wsgi::config {
namespace {

std::vector<std::string> remaining_words(apr_pool_t* pool, const char* args) {
    std::vector<std::string> words;
    while (*args != '\0') {
        std::string word = ap_getword_conf(pool, &args);
        if (word.empty()) {
            break;
        }
        words.push_back(std::move(word));
    }
    return words;
}

template <std::optional<ScriptReference> DirConfig::*Field>
const char* set_script(cmd_parms* cmd, void* mconfig, const char* args) noexcept {
    return directive_barrier(cmd, [&]() -> std::string {
        std::string path = ap_getword_conf(cmd->temp_pool, &args);
        ScriptReference script;
        if (auto error = parse_script_reference(path, remaining_words(cmd->temp_pool, args),
                                                ScriptOptions::kApplicationGroup, script)) {
            return directive_name(cmd) + ": " + *error;
        }
        // Relative to ServerRoot, as httpd resolves other file names in its configuration.
        const char* resolved = ap_server_root_relative(cmd->pool, script.path.c_str());
        if (resolved == nullptr) {
            return directive_name(cmd) + ": invalid script path '" + script.path + "'";
        }
        script.path = resolved;
        static_cast<DirConfig*>(mconfig)->*Field = std::move(script);
        return {};
    });
}

template <std::optional<bool> DirConfig::*Field>
const char* set_flag(cmd_parms* cmd, void* mconfig, const char* value) noexcept {
    return directive_barrier(cmd, [&]() -> std::string {
        auto flag = parse_on_off(value);
        if (!flag) {
            return directive_name(cmd) + " must be On or Off, not '" + value + "'";
        }
        static_cast<DirConfig*>(mconfig)->*Field = *flag;
        return {};
    });
}

}  // namespace

const char* set_auth_user_script(cmd_parms* cmd, void* mconfig, const char* args) noexcept {
    return set_script<&DirConfig::auth_user_script>(cmd, mconfig, args);
}

const char* set_auth_group_script(cmd_parms* cmd, void* mconfig, const char* args) noexcept {
    return set_script<&DirConfig::auth_group_script>(cmd, mconfig, args);
}

const char* set_access_script(cmd_parms* cmd, void* mconfig, const char* args) noexcept {
    return set_script<&DirConfig::access_script>(cmd, mconfig, args);
}

const char* set_dispatch_script(cmd_parms* cmd, void* mconfig, const char* args) noexcept {
    return set_script<&DirConfig::dispatch_script>(cmd, mconfig, args);
}

const char* add_handler_script(cmd_parms* cmd, void* mconfig, const char* args) noexcept {
    return directive_barrier(cmd, [&]() -> std::string {
        HandlerScript handler;
        handler.name = ap_getword_conf(cmd->temp_pool, &args);
        std::string path = ap_getword_conf(cmd->temp_pool, &args);
        if (handler.name.empty() || path.empty()) {
            return directive_name(cmd) + " requires a handler name and a script file";
        }
        if (auto error = parse_script_reference(path, remaining_words(cmd->temp_pool, args),
                                                ScriptOptions::kHandler, handler.script)) {
            return directive_name(cmd) + " " + handler.name + ": " + *error;
        }
        const char* resolved = ap_server_root_relative(cmd->pool, handler.script.path.c_str());
        if (resolved == nullptr) {
            return directive_name(cmd) + ": invalid script path '" + path + "'";
        }
        handler.script.path = resolved;
        auto& handlers = static_cast<DirConfig*>(mconfig)->handler_scripts;
        for (auto& existing : handlers) {
            if (existing.name == handler.name) {
                existing = std::move(handler);  // the later line wins, as for other directives
                return {};
            }
        }
        handlers.push_back(std::move(handler));
        return {};
    });
}

const char* set_group_authoritative(cmd_parms* cmd, void* mconfig, const char* value) noexcept {
    return set_flag<&DirConfig::group_authoritative>(cmd, mconfig, value);
}

const char* set_pass_apache_request(cmd_parms* cmd, void* mconfig, const char* value) noexcept {
    return set_flag<&DirConfig::pass_apache_request>(cmd, mconfig, value);
}

const char* add_trusted_proxy_header(cmd_parms* cmd, void* mconfig, const char* name) noexcept {
    return directive_barrier(cmd, [&]() -> std::string {
        auto canonical = common::canonical_proxy_header(name);
        if (!canonical) {
            return directive_name(cmd) + ": '" + name +
                   "' is not a supported proxy header (X-Forwarded-For, X-Client-IP, "
                   "X-Real-IP, X-Forwarded-Proto, X-Forwarded-Scheme, X-Scheme, X-Url-Scheme, "
                   "X-Forwarded-SSL, X-Forwarded-HTTPS, X-HTTPS, X-Forwarded-Host, X-Host, "
                   "X-Forwarded-Server, X-Forwarded-Port, X-Script-Name, "
                   "X-Forwarded-Script-Name)";
        }
        auto& headers = static_cast<DirConfig*>(mconfig)->trusted_proxy_headers;
        if (!headers) {
            headers.emplace();
        }
        headers->push_back(std::move(*canonical));
        return {};
    });
}

const char* add_trusted_proxy(cmd_parms* cmd, void* mconfig, const char* address) noexcept {
    return directive_barrier(cmd, [&]() -> std::string {
        auto block = common::parse_address_block(address);
        if (!block) {
            return directive_name(cmd) + ": '" + address +
                   "' is not an IP address or CIDR block (a.b.c.d, a.b.c.d/n, IPv6[/n])";
        }
        auto& proxies = static_cast<DirConfig*>(mconfig)->trusted_proxies;
        if (!proxies) {
            proxies.emplace();
        }
        proxies->push_back(*block);
        return {};
    });
}

}  // namespace wsgi::config

#pragma once
// The error barrier of directive handlers: a handler body returns an error string ("" for
// success) and may throw; either way httpd gets a pool-allocated message naming the directive
// and no C++ exception crosses into it. Config thread only (httpd reads directives on one
// thread).

#include <httpd.h>
// clang-format off
#include <http_config.h>
// clang-format on
#include <apr_strings.h>

#include <exception>
#include <string>

namespace wsgi::config {

inline std::string directive_name(cmd_parms* cmd) { return cmd->directive->directive; }

template <class Body>
const char* directive_barrier(cmd_parms* cmd, Body&& body) noexcept {
    try {
        std::string error = body();
        if (error.empty()) {
            return nullptr;
        }
        return apr_pstrdup(cmd->pool, error.c_str());
    } catch (const std::exception& e) {
        return apr_psprintf(cmd->pool, "%s: %s", cmd->directive->directive, e.what());
    } catch (...) {
        return apr_psprintf(cmd->pool, "%s: internal error", cmd->directive->directive);
    }
}

// httpd's AP_INIT_* macros do not cast handlers in C++ (no designated initialisers there).
template <class F>
cmd_func to_cmd_func(F f) {
    return reinterpret_cast<cmd_func>(reinterpret_cast<void (*)()>(f));
}

}  // namespace wsgi::config

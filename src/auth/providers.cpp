#include "auth/providers.hpp"

#include <ap_provider.h>
#include <apr_strings.h>
#include <http_core.h>
#include <http_request.h>
#include <mod_auth.h>

#include <cstring>
#include <string>
#include <vector>

#include "apache/log.hpp"
#include "auth/script_call.hpp"
#include "config/config.hpp"
#include "python/ref.hpp"

namespace wsgi::auth {
namespace {

using python::Ref;

// Credentials and realms are bytes on the wire, not necessarily UTF-8: decoded as latin-1,
// like the environ's strings (PEP 3333) and as mod_wsgi does, so any byte sequence reaches
// the script intact (mod_wsgi 5.0.1 crashed decoding them as UTF-8). A script wanting UTF-8
// text does s.encode("latin-1").decode("utf-8").
Ref latin1(const char* text) {
    return Ref::steal(PyUnicode_DecodeLatin1(text, static_cast<Py_ssize_t>(std::strlen(text)),
                                             nullptr));
}

// The bytes a returned str stands for: latin-1 when it fits (what a script returns after
// receiving latin-1 input), else UTF-8. Returns false when neither works.
bool bytes_of(PyObject* text, std::string& out) {
    if (PyBytes_Check(text)) {
        out.assign(PyBytes_AS_STRING(text), static_cast<std::size_t>(PyBytes_GET_SIZE(text)));
        return true;
    }
    if (!PyUnicode_Check(text)) {
        return false;
    }
    Ref encoded = Ref::steal(PyUnicode_AsLatin1String(text));
    if (!encoded) {
        PyErr_Clear();
        encoded = Ref::steal(PyUnicode_AsUTF8String(text));
    }
    if (!encoded) {
        PyErr_Clear();
        return false;
    }
    out.assign(PyBytes_AS_STRING(encoded.get()),
               static_cast<std::size_t>(PyBytes_GET_SIZE(encoded.get())));
    return true;
}

const config::ScriptReference* user_script(request_rec* r, const char* provider_use) {
    const auto& script = config::dir_config(r).auth_user_script;
    if (!script) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      "WSGI0204: %s uses the 'wsgi' provider but no WSGIAuthUserScript applies "
                      "here.",
                      provider_use);
        return nullptr;
    }
    return &*script;
}

// The three script arguments: environ, user, and `third` (password or realm).
Ref auth_args(ScriptContext& context, const char* user, const char* third) {
    Ref name = latin1(user);
    Ref other = latin1(third);
    if (!name || !other) {
        return Ref();
    }
    return Ref::steal(PyTuple_Pack(3, context.environ(), name.get(), other.get()));
}

authn_status check_password(request_rec* r, const char* user, const char* password) noexcept {
    try {
        const config::ScriptReference* script = user_script(r, "AuthBasicProvider");
        if (script == nullptr) {
            return AUTH_GENERAL_ERROR;
        }
        authn_status status = AUTH_GENERAL_ERROR;
        with_access_control_script(r, *script, [&](ScriptContext& ctx) {
            Ref args = auth_args(ctx, user, password);
            Ref result = args ? Ref::steal(ctx.call("check_password", args.get())) : Ref();
            if (!result) {
                return false;
            }
            if (result.get() == Py_None) {
                status = AUTH_USER_NOT_FOUND;
            } else if (result.get() == Py_True) {
                status = AUTH_GRANTED;
            } else if (result.get() == Py_False) {
                status = AUTH_DENIED;
            } else if (std::string name; PyUnicode_Check(result.get()) &&
                                         bytes_of(result.get(), name) && !name.empty()) {
                // A user name: the authenticated user becomes that name (mod_wsgi).
                r->user = apr_pstrmemdup(r->pool, name.data(), name.size());
                status = AUTH_GRANTED;
            } else if (PyUnicode_Check(result.get()) && PyUnicode_GET_LENGTH(result.get()) == 0) {
                ctx.fail("check_password() returned an empty user name");
                return false;
            } else {
                ctx.fail("check_password() must return True, False, None or a user name, not " +
                         std::string(Py_TYPE(result.get())->tp_name));
                return false;
            }
            return true;
        });
        return status;
    } catch (...) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "WSGI0009: Internal error in check_password.");
        return AUTH_GENERAL_ERROR;
    }
}

authn_status get_realm_hash(request_rec* r, const char* user, const char* realm,
                            char** rethash) noexcept {
    try {
        const config::ScriptReference* script = user_script(r, "AuthDigestProvider");
        if (script == nullptr) {
            return AUTH_GENERAL_ERROR;
        }
        authn_status status = AUTH_GENERAL_ERROR;
        with_access_control_script(r, *script, [&](ScriptContext& ctx) {
            Ref args = auth_args(ctx, user, realm);
            Ref result = args ? Ref::steal(ctx.call("get_realm_hash", args.get())) : Ref();
            if (!result) {
                return false;
            }
            std::string hash;
            if (result.get() == Py_None) {
                status = AUTH_USER_NOT_FOUND;
            } else if ((PyUnicode_Check(result.get()) || PyBytes_Check(result.get())) &&
                       bytes_of(result.get(), hash)) {
                *rethash = apr_pstrmemdup(r->pool, hash.data(), hash.size());
                status = AUTH_USER_FOUND;
            } else {
                ctx.fail("get_realm_hash() must return None or the MD5 hex digest of "
                         "'user:realm:password' as a string, not " +
                         std::string(Py_TYPE(result.get())->tp_name));
                return false;
            }
            return true;
        });
        return status;
    } catch (...) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "WSGI0009: Internal error in get_realm_hash.");
        return AUTH_GENERAL_ERROR;
    }
}

const authn_provider kAuthnProvider = {&check_password, &get_realm_hash};

// The group names of a `Require wsgi-group` line (quoted names may hold spaces).
std::vector<std::string> required_groups(request_rec* r, const char* require_args) {
    std::vector<std::string> groups;
    const char* args = require_args != nullptr ? require_args : "";
    while (*args != '\0') {
        const char* word = ap_getword_conf(r->pool, &args);
        if (*word == '\0') {
            break;
        }
        groups.emplace_back(word);
    }
    return groups;
}

// True when the iterable `groups` names one of `required`; false with `error` set when it is
// not an iterable of strings.
bool any_group_matches(PyObject* groups, const std::vector<std::string>& required,
                       std::string& error) {
    Ref iterator = Ref::steal(PyObject_GetIter(groups));
    if (!iterator) {
        PyErr_Clear();
        error = "groups_for_user() must return an iterable of group names, not " +
                std::string(Py_TYPE(groups)->tp_name);
        return false;
    }
    bool matched = false;
    while (Ref item = Ref::steal(PyIter_Next(iterator.get()))) {
        std::string name;
        if (!bytes_of(item.get(), name)) {
            error = "groups_for_user() returned a group name that is not a string";
            return false;
        }
        for (const auto& wanted : required) {
            matched = matched || wanted == name;
        }
    }
    if (PyErr_Occurred()) {
        PyErr_Clear();
        error = "iterating the groups returned by groups_for_user() raised an exception";
        return false;
    }
    return matched;
}

authz_status check_group(request_rec* r, const char* require_args, const void*) noexcept {
    try {
        if (r->user == nullptr) {
            return AUTHZ_DENIED_NO_USER;
        }
        const config::DirConfig& dir = config::dir_config(r);
        if (!dir.auth_group_script) {
            ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                          "WSGI0204: 'Require wsgi-group' is used but no WSGIAuthGroupScript "
                          "applies here.");
            return AUTHZ_GENERAL_ERROR;
        }
        const config::ScriptReference& script = *dir.auth_group_script;
        std::vector<std::string> required = required_groups(r, require_args);
        authz_status status = AUTHZ_GENERAL_ERROR;
        with_access_control_script(r, script, [&](ScriptContext& ctx) {
            Ref user = latin1(r->user);
            Ref args = user ? Ref::steal(PyTuple_Pack(2, ctx.environ(), user.get())) : Ref();
            Ref result = args ? Ref::steal(ctx.call("groups_for_user", args.get())) : Ref();
            if (!result) {
                return false;
            }
            std::string error;
            bool matched = result.get() != Py_None && any_group_matches(result.get(), required,
                                                                        error);
            if (!error.empty()) {
                ctx.fail(error);
                return false;
            }
            // WSGIGroupAuthoritative Off: not being in the groups leaves the decision to the
            // other Require lines instead of denying.
            status = matched ? AUTHZ_GRANTED
                             : (dir.group_authoritative.value_or(true) ? AUTHZ_DENIED
                                                                      : AUTHZ_NEUTRAL);
            return true;
        });
        return status;
    } catch (...) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "WSGI0009: Internal error in wsgi-group.");
        return AUTHZ_GENERAL_ERROR;
    }
}

const authz_provider kAuthzProvider = {&check_group, nullptr};

// access_checker: allow_access(environ, host) -> True (allow), False (403), None (no say).
// Any failure, an exception included, denies: access control must fail closed.
int check_access(request_rec* r) noexcept {
    try {
        const auto& script = config::dir_config(r).access_script;
        if (!script) {
            return DECLINED;
        }
        int status = HTTP_FORBIDDEN;
        with_access_control_script(r, *script, [&](ScriptContext& ctx) {
            const char* host =
                ap_get_remote_host(r->connection, r->per_dir_config, REMOTE_NAME, nullptr);
            Ref name = latin1(host != nullptr ? host : "");
            Ref args = name ? Ref::steal(PyTuple_Pack(2, ctx.environ(), name.get())) : Ref();
            Ref result = args ? Ref::steal(ctx.call("allow_access", args.get())) : Ref();
            if (!result) {
                return false;
            }
            if (result.get() == Py_None) {
                status = DECLINED;
            } else if (result.get() == Py_True) {
                status = OK;
            } else if (result.get() != Py_False) {
                ctx.fail("allow_access() must return True, False or None, not " +
                         std::string(Py_TYPE(result.get())->tp_name));
                return false;
            }
            return true;
        });
        if (status == HTTP_FORBIDDEN) {
            ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                          "Access denied by WSGIAccessScript '%s': %s", script->path.c_str(),
                          r->uri != nullptr ? r->uri : "");
        }
        return status;
    } catch (...) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "WSGI0009: Internal error in allow_access.");
        return HTTP_FORBIDDEN;
    }
}

}  // namespace

void register_auth_hooks(apr_pool_t* pool) noexcept {
    ap_register_auth_provider(pool, AUTHN_PROVIDER_GROUP, "wsgi", AUTHN_PROVIDER_VERSION,
                              &kAuthnProvider, AP_AUTH_INTERNAL_PER_CONF);
    ap_register_auth_provider(pool, AUTHZ_PROVIDER_GROUP, "wsgi-group", AUTHZ_PROVIDER_VERSION,
                              &kAuthzProvider, AP_AUTH_INTERNAL_PER_CONF);
    ap_hook_check_access(check_access, nullptr, nullptr, APR_HOOK_MIDDLE,
                         AP_AUTH_INTERNAL_PER_CONF);
}

}  // namespace wsgi::auth

#include "config/daemon_identity.hpp"

#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <string_view>

namespace wsgi::config {
namespace {

using Error = std::optional<std::string>;

// "#123" -> 123; nullopt for anything else.
std::optional<std::uint32_t> numeric_id(std::string_view value) {
    if (!value.starts_with('#') || value.size() < 2) {
        return std::nullopt;
    }
    std::uint32_t id = 0;
    const char* end = value.data() + value.size();
    auto [stop, ec] = std::from_chars(value.data() + 1, end, id);
    if (ec != std::errc() || stop != end) {
        return std::nullopt;
    }
    return id;
}

// The *_r lookups need a caller buffer; grow it while they report ERANGE (large groups).
template <class Entry, class Lookup>
bool lookup_entry(Lookup lookup, Entry& entry, std::vector<char>& buffer) {
    buffer.resize(4096);
    while (true) {
        Entry* result = nullptr;
        int rc = lookup(&entry, buffer.data(), buffer.size(), &result);
        if (rc == ERANGE && buffer.size() < (1u << 24)) {
            buffer.resize(buffer.size() * 2);
            continue;
        }
        return rc == 0 && result != nullptr;
    }
}

struct User {
    uid_t uid = 0;
    std::string name;
    std::string home;
};

std::optional<User> find_user_by_uid(uid_t uid) {
    passwd entry{};
    std::vector<char> buffer;
    auto lookup = [uid](passwd* e, char* b, size_t n, passwd** r) {
        return getpwuid_r(uid, e, b, n, r);
    };
    if (!lookup_entry(lookup, entry, buffer)) {
        return std::nullopt;
    }
    return User{entry.pw_uid, entry.pw_name, entry.pw_dir ? entry.pw_dir : ""};
}

std::optional<User> find_user_by_name(const std::string& name) {
    passwd entry{};
    std::vector<char> buffer;
    auto lookup = [&name](passwd* e, char* b, size_t n, passwd** r) {
        return getpwnam_r(name.c_str(), e, b, n, r);
    };
    if (!lookup_entry(lookup, entry, buffer)) {
        return std::nullopt;
    }
    return User{entry.pw_uid, entry.pw_name, entry.pw_dir ? entry.pw_dir : ""};
}

std::optional<gid_t> find_group_by_name(const std::string& name) {
    group entry{};
    std::vector<char> buffer;
    auto lookup = [&name](group* e, char* b, size_t n, group** r) {
        return getgrnam_r(name.c_str(), e, b, n, r);
    };
    if (!lookup_entry(lookup, entry, buffer)) {
        return std::nullopt;
    }
    return entry.gr_gid;
}

Error unknown(std::string_view kind, std::string_view option, std::string_view value) {
    return "Unknown " + std::string(kind) + " '" + std::string(value) + "' for option '" +
           std::string(option) + "'";
}

// A uid from "name" or "#uid". A bare #uid needs no passwd entry (chown() and stat()
// comparisons work with any id).
Error resolve_uid(std::string_view option, const std::string& value, uid_t& out) {
    if (auto id = numeric_id(value)) {
        out = static_cast<uid_t>(*id);
        return std::nullopt;
    }
    auto user = find_user_by_name(value);
    if (!user) {
        return unknown("user", option, value);
    }
    out = user->uid;
    return std::nullopt;
}

Error resolve_gid(std::string_view option, const std::string& value, gid_t& out) {
    if (auto id = numeric_id(value)) {
        out = static_cast<gid_t>(*id);
        return std::nullopt;
    }
    auto gid = find_group_by_name(value);
    if (!gid) {
        return unknown("group", option, value);
    }
    out = *gid;
    return std::nullopt;
}

// user=: the daemon processes' account. Unlike the other options it needs a passwd entry
// even as "#uid": initgroups() and the default home directory come from it.
Error resolve_user(const DaemonOptions& options, uid_t apache_uid, DaemonIdentity& out) {
    if (!options.user) {
        out.uid = apache_uid;
        if (auto user = find_user_by_uid(apache_uid)) {
            out.user = user->name;
            out.user_home = user->home;
        } else {
            out.user = "#" + std::to_string(apache_uid);
        }
        return std::nullopt;
    }
    const std::string& value = *options.user;
    std::optional<User> user;
    if (auto id = numeric_id(value)) {
        user = find_user_by_uid(static_cast<uid_t>(*id));
    } else {
        user = find_user_by_name(value);
    }
    if (!user) {
        return unknown("user", "user", value);
    }
    if (user->uid == 0) {
        return "Invalid value '" + value +
               "' for option 'user': daemon processes may not run as root";
    }
    out.uid = user->uid;
    out.user = user->name;
    out.user_home = user->home;
    return std::nullopt;
}

}  // namespace

std::optional<std::string> resolve_daemon_identity(const DaemonOptions& options, uid_t apache_uid,
                                                   gid_t apache_gid, DaemonIdentity& out) {
    DaemonIdentity identity;
    if (auto error = resolve_user(options, apache_uid, identity)) {
        return error;
    }
    identity.gid = apache_gid;
    if (options.group) {
        if (auto error = resolve_gid("group", *options.group, identity.gid)) {
            return error;
        }
    }
    if (options.supplementary_groups) {
        std::vector<gid_t> groups;
        for (const auto& name : *options.supplementary_groups) {
            gid_t gid = 0;
            if (auto error = resolve_gid("supplementary-groups", name, gid)) {
                return error;
            }
            groups.push_back(gid);
        }
        identity.supplementary_groups = std::move(groups);
    }
    identity.socket_uid = apache_uid;
    if (options.socket_user) {
        if (auto error = resolve_uid("socket-user", *options.socket_user, identity.socket_uid)) {
            return error;
        }
    }
    if (options.script_user) {
        uid_t uid = 0;
        if (auto error = resolve_uid("script-user", *options.script_user, uid)) {
            return error;
        }
        identity.script_uid = uid;
    }
    if (options.script_group) {
        gid_t gid = 0;
        if (auto error = resolve_gid("script-group", *options.script_group, gid)) {
            return error;
        }
        identity.script_gid = gid;
    }
    out = std::move(identity);
    return std::nullopt;
}

}  // namespace wsgi::config

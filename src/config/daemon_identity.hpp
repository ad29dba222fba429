#pragma once
// The accounts a daemon process group runs as, resolved from its WSGIDaemonProcess options
// with the system's user and group databases (getpwnam_r / getgrnam_r). No httpd, no Python;
// not pure (reads /etc/passwd, NSS), so kept apart from the option parser.

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "config/daemon_options.hpp"

namespace wsgi::config {

struct DaemonIdentity {
    uid_t uid = 0;          // user=, else Apache's User
    std::string user;       // that user's name ("#uid" when it has no passwd entry)
    std::string user_home;  // that user's home directory; empty when unknown
    gid_t gid = 0;          // group=, else Apache's Group
    // supplementary-groups=, in order; nullopt: initgroups(user, gid). setgroups() is meant to
    // receive `gid` followed by these, as mod_wsgi does.
    std::optional<std::vector<gid_t>> supplementary_groups;
    uid_t socket_uid = 0;  // socket-user=, else Apache's User: owner of the listener socket
    std::optional<uid_t> script_uid;  // script-user=: required owner of WSGI script files
    std::optional<gid_t> script_gid;  // script-group=: required group of WSGI script files
};

// Resolves the user=, group=, supplementary-groups=, socket-user=, script-user= and
// script-group= options of `options` ("name" or "#id"); unset ones default to Apache's
// `apache_uid` / `apache_gid`. user= must name an account with a passwd entry that is not
// root (uid 0), whatever its name. Returns an error message naming the option and the value
// ("Unknown user 'bob' for option 'user'"), or nullopt with `out` filled in.
// Any thread may call it (reentrant lookups); it may block on NSS (LDAP, NIS).
std::optional<std::string> resolve_daemon_identity(const DaemonOptions& options, uid_t apache_uid,
                                                   gid_t apache_gid, DaemonIdentity& out);

}  // namespace wsgi::config

#pragma once
// Daemon process groups on the Apache parent's side (mod_wsgi docs "WSGIDaemonProcess",
// "Processes And Threading"): one listening UNIX socket per group, made before any fork, and
// `processes` daemon processes forked from the parent and supervised with httpd's "other
// child" API (apr_proc_other_child_register), as mod_cgid supervises its daemon. A daemon
// process that dies is forked again; Apache's stop and restart end them.

#include <apr_pools.h>
#include <httpd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "config/daemon_identity.hpp"
#include "daemon/death_record.hpp"

namespace wsgi::daemon {

// One group of the running configuration.
struct GroupRuntime {
    const config::DaemonGroup* group = nullptr;
    config::DaemonIdentity identity;
    std::string socket_path;
    int listen_fd = -1;
    // Only Apache's children may drive a daemon process: the uid they run as (checked with
    // SO_PEERCRED) and a secret made at each server start from the system's CSPRNG, which
    // they send with every request (a process that merely can connect has neither).
    uid_t peer_uid = 0;
    std::string secret;
};

// check_config, in the parent, at every start and restart and in `apache2 -t`: when daemon
// process groups are configured, checks that Apache's child user can reach the socket
// directory (WSGISocketPrefix). Returns OK, or !OK after logging WSGI0166 (on the console
// before Apache detached), which makes httpd report "Configuration check failed" and exit 1.
int check_process_groups(apr_pool_t* pconf, server_rec* s) noexcept;

// post_config, in the parent: makes every group's socket and forks its processes. Skipped in
// the first configuration pass and in `apache2 -t`. Returns OK, or an HTTP error status
// (with a log line naming the group) to stop Apache from starting.
int start_process_groups(apr_pool_t* pconf, server_rec* s) noexcept;

// The running group with this registry index, or nullptr.
const GroupRuntime* group_runtime(std::size_t index);

// The user that listens on every group's socket: the Apache parent's effective uid when it
// made them (root, or the user an unprivileged Apache runs as). An Apache child checks a
// daemon socket's peer against it (SO_PEERCRED), so that a socket put in place of the
// group's by another user is never sent a request. 0 until start_process_groups() ran in the
// parent; an Apache child has the value it inherited when it was forked. Any thread.
uid_t socket_listener_uid();

// In an Apache child (child_init): closes the groups' listening sockets, which only daemon
// processes may accept on.
void close_group_listeners() noexcept;

// In a daemon process: notes that it completed a request, so that should it then die (a
// request that crashes it), the parent forks it again at once instead of backing off as for a
// process that cannot start (WSGI0165). A store into memory shared with the parent; any
// thread.
void note_served() noexcept;

}  // namespace wsgi::daemon

#pragma once
// Daemon process groups on the Apache parent's side (mod_wsgi docs "WSGIDaemonProcess",
// "Processes And Threading"): one listening UNIX socket per group, made before any fork, and
// `processes` daemon processes forked from the parent and supervised with httpd's "other
// child" API (apr_proc_other_child_register), as mod_cgid supervises its daemon. A daemon
// process that dies is forked again; Apache's stop and restart end them.

#include <apr_pools.h>
#include <httpd.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "config/daemon_identity.hpp"

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

// post_config, in the parent: makes every group's socket and forks its processes. Skipped in
// the first configuration pass and in `apache2 -t`. Returns OK, or an HTTP error status
// (with a log line naming the group) to stop Apache from starting.
int start_process_groups(apr_pool_t* pconf, server_rec* s) noexcept;

// The running group with this registry index, or nullptr.
const GroupRuntime* group_runtime(std::size_t index);

// In an Apache child (child_init): closes the groups' listening sockets, which only daemon
// processes may accept on.
void close_group_listeners() noexcept;

// How a daemon process of a group died, as the parent recorded it in memory shared with the
// Apache children, so that a request it broke can be logged with the pid and the cause.
struct DaemonDeath {
    pid_t pid = 0;
    std::string how;  // "terminated by signal 9 (Killed)", "exited with status 1"...
};

// The latest death in group `index` recorded at or after `since` (microseconds since the
// epoch), waiting up to `wait` for the parent to record it. Any process; no GIL needed.
std::optional<DaemonDeath> recent_death(std::size_t index, std::int64_t since,
                                        std::chrono::milliseconds wait);

}  // namespace wsgi::daemon

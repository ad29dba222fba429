#pragma once
// The life of one daemon process, from the fork in the Apache parent to its exit: drop
// privileges and set up the process as its WSGIDaemonProcess options say, initialise Python,
// run `threads` request threads accepting on the group's socket, and restart (exit, for the
// parent to fork again) on maximum-requests, restart-interval, inactivity-timeout,
// cpu-time-limit, a changed script, SIGUSR1, or end on SIGTERM / SIGINT / SIGHUP.

#include <httpd.h>

#include <cstddef>
#include <vector>

#include "daemon/process_group.hpp"

namespace wsgi::daemon {

// Runs in the freshly forked child; never returns. `server` is where the group was defined
// (its ErrorLog receives the process's log lines). `delay_seconds` > 0 makes a crash-looping
// process wait before starting (back-off decided by the parent).
[[noreturn]] void run_daemon_process(const std::vector<GroupRuntime>& groups, std::size_t index,
                                     int number, server_rec* server, int delay_seconds);

}  // namespace wsgi::daemon

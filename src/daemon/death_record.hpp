#pragma once
// How daemon processes end, told without ambiguity (issue 5 §1: "the daemon died before sending
// headers -> 502 with one log line naming the group, the pid and how it died").
//
// httpd's other-child callback (apr_proc_other_child_alert, called by the MPM's
// server_main_loop) receives the exit status OR the signal number of a reaped process: the MPM
// drops apr_proc_wait_all_procs' exitwhy, which says which of the two it is. So a daemon process
// notes its own deliberate ends before it ends -- the module's own exits, exit() (on_exit),
// os._exit() (replaced in every interpreter of a daemon process) and, when memory-limit or
// virtual-memory-limit is set, a fatal signal (SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT) with
// the memory it was using -- in memory shared with the Apache parent. When the parent reaps the
// process it matches the note against httpd's number; a number without a note is a signal
// (unless it is above the highest signal number, then it can only be an exit status). The
// parent records the outcome in a ring the Apache children read, so that a request broken by the
// death is logged with the pid and the cause (WSGI0146).
//
// Known limits: a SIGKILL from the kernel's OOM killer looks like any `kill -9`; C code calling
// _exit(n) directly (not through os._exit) for n in 1..64 is reported as signal n.

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

struct server_rec;

namespace wsgi::daemon {

// Parent, post_config of a real start (not `apache2 -t`): makes the shared memory on the first
// call of the server's life, in the process pool, so that it outlives every configuration
// generation (old daemon processes draining after a graceful restart still write their notes
// where the parent reads them); later calls find it again. Returns false when it could not be
// made (deaths are then described from httpd's number alone).
bool open_death_records(server_rec* s);

// Daemon process, right after the fork, before anything can end it: notes are made for this
// pid from now on. Registers an on_exit() handler and, when `memory_limit` or
// `virtual_memory_limit` (bytes, 0: none) is set, handlers of the fatal signals that note the
// memory use and then hand the signal to the handler that was installed before (Apache's core
// dump handler or the default).
void watch_own_exit(std::uint64_t memory_limit, std::uint64_t virtual_memory_limit);

// Daemon process: about to end with exit status `status`. Async-signal-safe, any thread; does
// nothing in a process other than the daemon process itself (a child it forked).
void note_exit(int status) noexcept;

// Daemon process: notes `status` and ends the process at once (_exit). Any thread.
[[noreturn]] void end_daemon_process(int status) noexcept;

// How a daemon process ended, as the parent worked it out.
struct Ending {
    bool exited = false;  // false: killed by a signal (or unknown)
    int code = 0;         // exit status, or signal number
    std::string how;      // "exited with status 3", "terminated by signal 9 (Killed)"...

    // Whether the process ended other than by exit status 0.
    bool failed() const { return !exited || code != 0; }
};

// Parent, from the other-child callback: works out how `pid` of group `group_index` ended from
// httpd's `value` (exit status or signal number; -1 when unknown) and the process's own note,
// and records it for the Apache children. Single-threaded parent only.
Ending record_death(std::size_t group_index, pid_t pid, int value);

// How a daemon process of a group died, as the parent recorded it.
struct DaemonDeath {
    pid_t pid = 0;
    std::string how;
};

// Apache child: the latest death in group `group_index` recorded at or after `since`
// (microseconds since the epoch), waiting up to `wait` for the parent to record it (the MPM
// reaps about once a second). Any thread; no GIL needed.
std::optional<DaemonDeath> recent_death(std::size_t group_index, std::int64_t since,
                                        std::chrono::milliseconds wait);

}  // namespace wsgi::daemon

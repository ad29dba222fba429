#pragma once
// WSGIDaemonProcess NAME option=value ... (mod_wsgi docs "WSGIDaemonProcess"; defaults of
// mod_wsgi 6, see ../shared/reference/mod_wsgi-features.md §2). Pure: no httpd, no Python.
// Durations are in seconds (fractions allowed where mod_wsgi allows them), sizes in bytes.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace wsgi::config {

using Seconds = std::chrono::duration<double>;

struct DaemonOptions {
    std::string name;  // the process group name

    // Processes and threads.
    int processes = 1;
    bool processes_given = false;  // processes= present (even =1): wsgi.multiprocess is True
    int threads = 15;
    std::optional<std::string> display_name;  // "%{GROUP}" -> "(wsgi:NAME)"

    // Identity and environment of the daemon processes.
    std::optional<std::string> user;           // name or #uid; default: Apache's User
    std::optional<std::string> group;          // name or #gid; default: Apache's Group
    std::optional<std::vector<std::string>> supplementary_groups;
    std::optional<unsigned> umask;             // octal in the directive
    std::optional<std::string> home;           // working directory
    std::optional<std::string> chroot;
    std::optional<std::string> lang;
    std::optional<std::string> locale;
    std::optional<std::string> python_home;
    std::vector<std::string> python_path;      // colon-separated in the directive
    std::optional<std::string> python_eggs;
    std::optional<double> switch_interval;
    int cpu_priority = 0;

    // Recycling and timeouts.
    std::int64_t maximum_requests = 0;         // 0: never
    Seconds restart_interval{0};
    Seconds cpu_time_limit{0};
    Seconds inactivity_timeout{0};
    Seconds request_timeout{0};
    Seconds interrupt_timeout{0};
    Seconds deadlock_timeout{300};
    Seconds startup_timeout{0};
    Seconds graceful_timeout{15};
    Seconds eviction_timeout{0};
    Seconds shutdown_timeout{5};
    Seconds connect_timeout{15};
    std::optional<Seconds> socket_timeout;           // default: Apache's Timeout
    Seconds queue_timeout{0};
    std::optional<Seconds> response_socket_timeout;  // default: socket_timeout

    // Sockets and buffers.
    int listen_backlog = 100;
    std::optional<std::string> socket_user;    // default: Apache's User
    std::int64_t send_buffer_size = 0;         // 0: the OS default
    std::int64_t receive_buffer_size = 0;
    std::int64_t header_buffer_size = 32768;
    std::int64_t response_buffer_size = 8 * 1024 * 1024;
    std::int64_t response_flush_delay_ms = 5;
    std::int64_t stack_size = 0;               // 0: the OS default

    // Resource limits.
    std::int64_t memory_limit = 0;             // RLIMIT_DATA; 0: none
    std::int64_t virtual_memory_limit = 0;     // RLIMIT_AS; 0: none

    // Script ownership checks.
    std::optional<std::string> script_user;
    std::optional<std::string> script_group;
    bool server_metrics = false;
};

// Parses the words after the name of a WSGIDaemonProcess directive. Returns an error message
// naming the option and what is wrong ("Invalid option to WSGI daemon process definition"
// for unknown names, as mod_wsgi) or nullopt, filling `options`.
std::optional<std::string> parse_daemon_options(const std::vector<std::string_view>& words,
                                                DaemonOptions& options);

// The process title for display-name: "%{GROUP}" becomes "(wsgi:NAME)".
std::string daemon_display_name(const DaemonOptions& options);

// Parses a number of seconds as the timeouts take it: digits with at most one '.', no sign or
// exponent, at most 2147483647. nullopt for anything else.
std::optional<double> parse_seconds(std::string_view text);

}  // namespace wsgi::config

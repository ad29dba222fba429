#include "config/daemon_options.hpp"

#include <limits.h>
#include <pthread.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <limits>
#include <set>

#include "common/text.hpp"
#include "config/options.hpp"

namespace wsgi::config {
namespace {

using Error = std::optional<std::string>;

constexpr std::string_view kInvalidOption = "Invalid option to WSGI daemon process definition";
constexpr std::int64_t kMaxInt = std::numeric_limits<int>::max();
constexpr std::int64_t kMaxInt64 = std::numeric_limits<std::int64_t>::max();
// Durations end up as APR microsecond times and as int seconds for setrlimit(RLIMIT_CPU);
// this bound keeps both conversions exact.
constexpr double kMaxSeconds = 2147483647.0;

std::string quote(std::string_view text) { return "'" + std::string(text) + "'"; }

Error invalid(std::string_view name, std::string_view value, std::string_view why) {
    return "Invalid value " + quote(value) + " for option '" + std::string(name) +
           "': " + std::string(why);
}

// A whole decimal integer (optional '-'), nullopt when not one or out of int64 range.
std::optional<std::int64_t> parse_integer(std::string_view text) {
    std::int64_t value = 0;
    const char* end = text.data() + text.size();
    auto [stop, ec] = std::from_chars(text.data(), end, value);
    if (ec != std::errc() || stop != end) {
        return std::nullopt;
    }
    return value;
}

std::string range_text(std::int64_t min, std::int64_t max) {
    if (max == kMaxInt64 || max == kMaxInt) {
        return "must be an integer >= " + std::to_string(min);
    }
    return "must be an integer from " + std::to_string(min) + " to " + std::to_string(max);
}

Error integer_in(std::string_view name, std::string_view value, std::int64_t min, std::int64_t max,
                 std::int64_t& out) {
    auto parsed = parse_integer(value);
    if (!parsed || *parsed < min || *parsed > max) {
        return invalid(name, value, range_text(min, max));
    }
    out = *parsed;
    return std::nullopt;
}

// A timeout option's value in seconds (parse_seconds()).
Error seconds_value(std::string_view name, std::string_view value, Seconds& out) {
    auto seconds = parse_seconds(value);
    if (!seconds) {
        return invalid(name, value, "must be a non-negative number of seconds");
    }
    out = Seconds(*seconds);
    return std::nullopt;
}

// "name" or "#id" (uid or gid, decimal).
bool valid_account(std::string_view value) {
    if (!value.starts_with('#')) {
        return value.find_first_of(" \t,:") == std::string_view::npos;
    }
    auto digits = value.substr(1);
    if (digits.empty() || digits.find_first_not_of("0123456789") != std::string_view::npos) {
        return false;
    }
    auto id = parse_integer(digits);
    return id && *id <= std::numeric_limits<std::uint32_t>::max() - 1;  // (uid_t)-1 is "none"
}

bool is_root_user(std::string_view value) {
    if (value == "root") {
        return true;
    }
    if (value.starts_with('#')) {
        auto id = parse_integer(value.substr(1));
        return id && *id == 0;
    }
    return false;
}

Error account_value(std::string_view name, std::string_view value, std::string_view kind,
                    std::optional<std::string>& out) {
    if (!valid_account(value)) {
        return invalid(
            name, value,
            "must be a " + std::string(kind) + " name or #" + (kind == "user" ? "uid" : "gid"));
    }
    out = std::string(value);
    return std::nullopt;
}

// ---- One handler per kind of value. The option name comes first for error messages.

using Handler = Error (*)(std::string_view name, std::string_view value, DaemonOptions&);

template <std::optional<std::string> DaemonOptions::*Field>
Error set_string(std::string_view, std::string_view value, DaemonOptions& options) {
    options.*Field = std::string(value);
    return std::nullopt;
}

template <std::optional<std::string> DaemonOptions::*Field>
Error set_absolute_path(std::string_view name, std::string_view value, DaemonOptions& options) {
    if (!value.starts_with('/')) {
        return invalid(name, value, "must be an absolute path");
    }
    options.*Field = std::string(value);
    return std::nullopt;
}

template <Seconds DaemonOptions::*Field>
Error set_seconds(std::string_view name, std::string_view value, DaemonOptions& options) {
    return seconds_value(name, value, options.*Field);
}

template <std::optional<Seconds> DaemonOptions::*Field>
Error set_optional_seconds(std::string_view name, std::string_view value, DaemonOptions& options) {
    Seconds seconds{};
    if (auto error = seconds_value(name, value, seconds)) {
        return error;
    }
    options.*Field = seconds;
    return std::nullopt;
}

template <std::int64_t DaemonOptions::*Field, std::int64_t kMin, std::int64_t kMax>
Error set_int64(std::string_view name, std::string_view value, DaemonOptions& options) {
    return integer_in(name, value, kMin, kMax, options.*Field);
}

template <int DaemonOptions::*Field, int kMin, int kMax>
Error set_int(std::string_view name, std::string_view value, DaemonOptions& options) {
    std::int64_t parsed = 0;
    if (auto error = integer_in(name, value, kMin, kMax, parsed)) {
        return error;
    }
    options.*Field = static_cast<int>(parsed);
    return std::nullopt;
}

// A buffer size: 0 (the default) or at least kMin bytes, as mod_wsgi checks them; a smaller
// header or response buffer could not hold one status line or would flush every write.
template <std::int64_t DaemonOptions::*Field, std::int64_t kMin, std::int64_t kDefault>
Error set_buffer_size(std::string_view name, std::string_view value, DaemonOptions& options) {
    auto size = parse_integer(value);
    if (!size || *size < 0 || *size > kMaxInt || (*size != 0 && *size < kMin)) {
        return invalid(name, value,
                       "must be 0 (the default) or a number of bytes from " + std::to_string(kMin) +
                           " to " + std::to_string(kMaxInt));
    }
    options.*Field = *size == 0 ? kDefault : *size;
    return std::nullopt;
}

Error set_processes(std::string_view name, std::string_view value, DaemonOptions& options) {
    if (auto error = set_int<&DaemonOptions::processes, 1, static_cast<int>(kMaxInt)>(name, value,
                                                                                      options)) {
        return error;
    }
    // mod_wsgi docs: giving processes= at all, even =1, makes wsgi.multiprocess True.
    options.processes_given = true;
    return std::nullopt;
}

Error set_user(std::string_view name, std::string_view value, DaemonOptions& options) {
    // mod_wsgi docs: a daemon process group never runs as root. A name that resolves to uid 0
    // is caught when the identity is resolved (daemon_identity.hpp).
    if (is_root_user(value)) {
        return invalid(name, value, "daemon processes may not run as root");
    }
    return account_value(name, value, "user", options.user);
}

Error set_group(std::string_view name, std::string_view value, DaemonOptions& options) {
    return account_value(name, value, "group", options.group);
}

Error set_socket_user(std::string_view name, std::string_view value, DaemonOptions& options) {
    return account_value(name, value, "user", options.socket_user);
}

Error set_script_user(std::string_view name, std::string_view value, DaemonOptions& options) {
    return account_value(name, value, "user", options.script_user);
}

Error set_script_group(std::string_view name, std::string_view value, DaemonOptions& options) {
    return account_value(name, value, "group", options.script_group);
}

// setgroups() receives the primary group followed by this list (as mod_wsgi builds it), so
// the list may hold at most NGROUPS_MAX - 1 names.
Error set_supplementary_groups(std::string_view name, std::string_view value,
                               DaemonOptions& options) {
    std::vector<std::string> groups;
    std::string_view rest = value;
    while (true) {
        auto comma = rest.find(',');
        auto group = rest.substr(0, comma);
        if (group.empty() || !valid_account(group)) {
            return invalid(name, value, "must be a comma-separated list of group names or #gids");
        }
        groups.emplace_back(group);
        if (comma == std::string_view::npos) {
            break;
        }
        rest = rest.substr(comma + 1);
    }
    long maximum = sysconf(_SC_NGROUPS_MAX);
    if (maximum <= 0) {
        maximum = NGROUPS_MAX;
    }
    if (static_cast<long>(groups.size()) + 1 > maximum) {
        return invalid(name, value,
                       "too many groups (at most " + std::to_string(maximum - 1) +
                           " besides the primary group)");
    }
    options.supplementary_groups = std::move(groups);
    return std::nullopt;
}

Error set_umask(std::string_view name, std::string_view value, DaemonOptions& options) {
    unsigned mask = 0;
    const char* end = value.data() + value.size();
    auto [stop, ec] = std::from_chars(value.data(), end, mask, 8);
    if (ec != std::errc() || stop != end || mask > 0777) {
        return invalid(name, value, "must be an octal number from 0 to 0777");
    }
    options.umask = mask;
    return std::nullopt;
}

Error set_python_path(std::string_view name, std::string_view value, DaemonOptions& options) {
    auto dirs = common::split_path_list(value);
    if (dirs.empty()) {
        return invalid(name, value, "must name at least one directory");
    }
    options.python_path = std::move(dirs);
    return std::nullopt;
}

Error set_switch_interval(std::string_view name, std::string_view value, DaemonOptions& options) {
    // sys.setswitchinterval() refuses zero and negative values.
    auto seconds = parse_seconds(value);
    if (!seconds || *seconds <= 0) {
        return invalid(name, value, "must be a positive number of seconds");
    }
    options.switch_interval = *seconds;
    return std::nullopt;
}

Error set_stack_size(std::string_view name, std::string_view value, DaemonOptions& options) {
    // pthread_attr_setstacksize() refuses less than PTHREAD_STACK_MIN (glibc: a sysconf()).
    const std::int64_t minimum = static_cast<std::int64_t>(PTHREAD_STACK_MIN);
    auto parsed = parse_integer(value);
    if (!parsed || *parsed < 0 || (*parsed != 0 && *parsed < minimum)) {
        return invalid(
            name, value,
            "must be 0 (the default) or a number of bytes >= " + std::to_string(minimum));
    }
    options.stack_size = *parsed;
    return std::nullopt;
}

Error set_server_metrics(std::string_view name, std::string_view value, DaemonOptions& options) {
    auto flag = parse_on_off(value);
    if (!flag) {
        return invalid(name, value, "must be On or Off");
    }
    options.server_metrics = *flag;
    return std::nullopt;
}

// mod_wsgi 4.x (Debian's 4.9.4) took these for its New Relic agent bootstrap; 6.0 removed
// them. Configurations written for 4.x still parse; the values are ignored.
Error ignore(std::string_view, std::string_view, DaemonOptions&) { return std::nullopt; }

struct Option {
    std::string_view name;
    Handler handler;
};

using O = DaemonOptions;

constexpr std::array kOptions = {
    Option{"processes", set_processes},
    Option{"threads", set_int<&O::threads, 0, 65535>},
    Option{"display-name", set_string<&O::display_name>},
    Option{"user", set_user},
    Option{"group", set_group},
    Option{"supplementary-groups", set_supplementary_groups},
    Option{"umask", set_umask},
    Option{"home", set_absolute_path<&O::home>},
    Option{"chroot", set_absolute_path<&O::chroot>},
    Option{"lang", set_string<&O::lang>},
    Option{"locale", set_string<&O::locale>},
    Option{"python-home", set_string<&O::python_home>},
    Option{"python-path", set_python_path},
    Option{"python-eggs", set_string<&O::python_eggs>},
    Option{"switch-interval", set_switch_interval},
    Option{"cpu-priority", set_int<&O::cpu_priority, -20, 20>},
    Option{"maximum-requests", set_int64<&O::maximum_requests, 0, kMaxInt64>},
    Option{"restart-interval", set_seconds<&O::restart_interval>},
    Option{"cpu-time-limit", set_seconds<&O::cpu_time_limit>},
    Option{"inactivity-timeout", set_seconds<&O::inactivity_timeout>},
    Option{"request-timeout", set_seconds<&O::request_timeout>},
    Option{"interrupt-timeout", set_seconds<&O::interrupt_timeout>},
    Option{"deadlock-timeout", set_seconds<&O::deadlock_timeout>},
    Option{"startup-timeout", set_seconds<&O::startup_timeout>},
    Option{"graceful-timeout", set_seconds<&O::graceful_timeout>},
    Option{"eviction-timeout", set_seconds<&O::eviction_timeout>},
    Option{"shutdown-timeout", set_seconds<&O::shutdown_timeout>},
    Option{"connect-timeout", set_seconds<&O::connect_timeout>},
    Option{"socket-timeout", set_optional_seconds<&O::socket_timeout>},
    Option{"queue-timeout", set_seconds<&O::queue_timeout>},
    Option{"response-socket-timeout", set_optional_seconds<&O::response_socket_timeout>},
    Option{"listen-backlog", set_int<&O::listen_backlog, 1, static_cast<int>(kMaxInt)>},
    Option{"socket-user", set_socket_user},
    Option{"send-buffer-size", set_buffer_size<&O::send_buffer_size, 512, 0>},
    Option{"receive-buffer-size", set_buffer_size<&O::receive_buffer_size, 512, 0>},
    Option{"header-buffer-size", set_buffer_size<&O::header_buffer_size, 8192, 32768>},
    Option{"response-buffer-size",
           set_buffer_size<&O::response_buffer_size, 65536, 8 * 1024 * 1024>},
    Option{"response-flush-delay", set_int64<&O::response_flush_delay_ms, 0, 3600000>},
    Option{"stack-size", set_stack_size},
    Option{"memory-limit", set_int64<&O::memory_limit, 0, kMaxInt64>},
    Option{"virtual-memory-limit", set_int64<&O::virtual_memory_limit, 0, kMaxInt64>},
    Option{"script-user", set_script_user},
    Option{"script-group", set_script_group},
    Option{"server-metrics", set_server_metrics},
    Option{"newrelic-config-file", ignore},
    Option{"newrelic-environment", ignore},
};

const Option* find_option(std::string_view name) {
    for (const auto& option : kOptions) {
        if (option.name == name) {
            return &option;
        }
    }
    return nullptr;
}

}  // namespace

// Seconds as mod_wsgi writes them ("15"), fractions allowed ("0.5"): digits with at most one
// '.', no sign, no exponent, so "inf", "nan" and "-1" are refused before from_chars sees them.
std::optional<double> parse_seconds(std::string_view text) {
    if (text.empty() || text.find_first_not_of("0123456789.") != std::string_view::npos ||
        std::count(text.begin(), text.end(), '.') > 1 ||
        text.find_first_of("0123456789") == std::string_view::npos) {
        return std::nullopt;
    }
    double value = 0;
    const char* end = text.data() + text.size();
    auto [stop, ec] = std::from_chars(text.data(), end, value, std::chars_format::fixed);
    if (ec != std::errc() || stop != end || !std::isfinite(value) || value > kMaxSeconds) {
        return std::nullopt;
    }
    return value;
}

std::optional<std::string> parse_daemon_options(const std::vector<std::string_view>& words,
                                                DaemonOptions& options) {
    std::set<std::string_view> seen;
    for (std::string_view word : words) {
        auto equals = word.find('=');
        if (equals == std::string_view::npos || equals == 0) {
            return std::string(kInvalidOption) + ": " + quote(word) +
                   " is not of the form name=value";
        }
        auto name = word.substr(0, equals);
        auto value = word.substr(equals + 1);
        const Option* option = find_option(name);
        if (option == nullptr) {
            return std::string(kInvalidOption) + ": " + std::string(name);
        }
        if (!seen.insert(option->name).second) {
            return "Option '" + std::string(name) + "' given more than once";
        }
        if (value.empty()) {
            return "Option '" + std::string(name) + "' has an empty value";
        }
        if (auto error = option->handler(name, value, options)) {
            return error;
        }
    }
    if (options.script_user && options.script_group) {
        return std::string(
            "Only one of the options 'script-user' and 'script-group' may be "
            "given");
    }
    return std::nullopt;
}

std::string daemon_display_name(const DaemonOptions& options) {
    if (!options.display_name) {
        return {};
    }
    if (*options.display_name == "%{GROUP}") {
        return "(wsgi:" + options.name + ")";
    }
    return *options.display_name;
}

}  // namespace wsgi::config

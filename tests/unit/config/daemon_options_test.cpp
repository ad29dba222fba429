#include "config/daemon_options.hpp"

#include <grp.h>
#include <gtest/gtest.h>
#include <pwd.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "config/daemon_identity.hpp"

namespace wsgi::config {
namespace {

// Parses `words` into a fresh DaemonOptions named "site"; returns the error, if any.
std::optional<std::string> parse(std::vector<std::string_view> words, DaemonOptions& options) {
    options = DaemonOptions{};
    options.name = "site";
    return parse_daemon_options(words, options);
}

DaemonOptions parsed(std::vector<std::string_view> words) {
    DaemonOptions options;
    auto error = parse(words, options);
    EXPECT_EQ(error, std::nullopt) << (error ? *error : "");
    return options;
}

// The error for `words`, failing the test when there is none.
std::string error_of(std::vector<std::string_view> words) {
    DaemonOptions options;
    auto error = parse(words, options);
    EXPECT_TRUE(error.has_value()) << "accepted: " << (words.empty() ? "" : words[0]);
    return error.value_or("");
}

bool mentions(const std::string& text, std::string_view what) {
    return text.find(what) != std::string::npos;
}

TEST(DaemonOptions, DefaultsAreModWsgis) {
    DaemonOptions o = parsed({});
    EXPECT_EQ(o.processes, 1);
    EXPECT_FALSE(o.processes_given);
    EXPECT_EQ(o.threads, 15);
    EXPECT_FALSE(o.display_name);
    EXPECT_FALSE(o.user);
    EXPECT_FALSE(o.group);
    EXPECT_FALSE(o.supplementary_groups);
    EXPECT_FALSE(o.umask);
    EXPECT_FALSE(o.home);
    EXPECT_FALSE(o.chroot);
    EXPECT_FALSE(o.lang);
    EXPECT_FALSE(o.locale);
    EXPECT_FALSE(o.python_home);
    EXPECT_TRUE(o.python_path.empty());
    EXPECT_FALSE(o.python_eggs);
    EXPECT_FALSE(o.switch_interval);
    EXPECT_EQ(o.cpu_priority, 0);
    EXPECT_EQ(o.maximum_requests, 0);
    EXPECT_EQ(o.restart_interval.count(), 0);
    EXPECT_EQ(o.cpu_time_limit.count(), 0);
    EXPECT_EQ(o.inactivity_timeout.count(), 0);
    EXPECT_EQ(o.request_timeout.count(), 0);
    EXPECT_EQ(o.interrupt_timeout.count(), 0);
    EXPECT_EQ(o.deadlock_timeout.count(), 300);
    EXPECT_EQ(o.startup_timeout.count(), 0);
    EXPECT_EQ(o.graceful_timeout.count(), 15);
    EXPECT_EQ(o.eviction_timeout.count(), 0);
    EXPECT_EQ(o.shutdown_timeout.count(), 5);
    EXPECT_EQ(o.connect_timeout.count(), 15);
    EXPECT_FALSE(o.socket_timeout);
    EXPECT_EQ(o.queue_timeout.count(), 0);
    EXPECT_FALSE(o.response_socket_timeout);
    EXPECT_EQ(o.listen_backlog, 100);
    EXPECT_FALSE(o.socket_user);
    EXPECT_EQ(o.send_buffer_size, 0);
    EXPECT_EQ(o.receive_buffer_size, 0);
    EXPECT_EQ(o.header_buffer_size, 32768);
    EXPECT_EQ(o.response_buffer_size, 8 * 1024 * 1024);
    EXPECT_EQ(o.response_flush_delay_ms, 5);
    EXPECT_EQ(o.stack_size, 0);
    EXPECT_EQ(o.memory_limit, 0);
    EXPECT_EQ(o.virtual_memory_limit, 0);
    EXPECT_FALSE(o.script_user);
    EXPECT_FALSE(o.script_group);
    EXPECT_FALSE(o.server_metrics);
}

TEST(DaemonOptions, ProcessesAndThreads) {
    DaemonOptions o = parsed({"processes=1", "threads=0"});
    EXPECT_EQ(o.processes, 1);
    EXPECT_TRUE(o.processes_given);  // wsgi.multiprocess even for processes=1
    EXPECT_EQ(o.threads, 0);         // a managed "service script" process
    o = parsed({"processes=4", "threads=25"});
    EXPECT_EQ(o.processes, 4);
    EXPECT_EQ(o.threads, 25);
}

TEST(DaemonOptions, IdentityOptionsAreKeptUnresolved) {
    DaemonOptions o = parsed({"user=www-data", "group=#33", "supplementary-groups=adm,#4",
                              "socket-user=#1000", "script-user=alice"});
    EXPECT_EQ(o.user, "www-data");
    EXPECT_EQ(o.group, "#33");
    ASSERT_TRUE(o.supplementary_groups);
    EXPECT_EQ(*o.supplementary_groups, (std::vector<std::string>{"adm", "#4"}));
    EXPECT_EQ(o.socket_user, "#1000");
    EXPECT_EQ(o.script_user, "alice");
    o = parsed({"script-group=staff", "group=root"});
    EXPECT_EQ(o.script_group, "staff");
    EXPECT_EQ(o.group, "root");  // only the user may not be root
}

TEST(DaemonOptions, EnvironmentOptions) {
    DaemonOptions o =
        parsed({"umask=0027", "home=/srv/app", "chroot=/jail", "lang=en_US.UTF-8", "locale=C.UTF-8",
                "python-home=/srv/venv", "python-path=/srv/app:/srv/lib:", "python-eggs=/tmp/eggs",
                "switch-interval=0.002", "cpu-priority=-5", "display-name=%{GROUP}"});
    EXPECT_EQ(o.umask, 027u);
    EXPECT_EQ(o.home, "/srv/app");
    EXPECT_EQ(o.chroot, "/jail");
    EXPECT_EQ(o.lang, "en_US.UTF-8");
    EXPECT_EQ(o.locale, "C.UTF-8");
    EXPECT_EQ(o.python_home, "/srv/venv");
    EXPECT_EQ(o.python_path, (std::vector<std::string>{"/srv/app", "/srv/lib"}));
    EXPECT_EQ(o.python_eggs, "/tmp/eggs");
    EXPECT_DOUBLE_EQ(o.switch_interval.value_or(0), 0.002);
    EXPECT_EQ(o.cpu_priority, -5);
    EXPECT_EQ(o.display_name, "%{GROUP}");
    EXPECT_EQ(parsed({"umask=0"}).umask, 0u);
    EXPECT_EQ(parsed({"umask=777"}).umask, 0777u);
    EXPECT_EQ(parsed({"cpu-priority=20"}).cpu_priority, 20);
    EXPECT_EQ(parsed({"cpu-priority=-20"}).cpu_priority, -20);
}

TEST(DaemonOptions, EveryDurationTakesSecondsWithFractions) {
    DaemonOptions o = parsed(
        {"restart-interval=3600", "cpu-time-limit=60", "inactivity-timeout=300",
         "request-timeout=60", "interrupt-timeout=10", "deadlock-timeout=60", "startup-timeout=15",
         "graceful-timeout=0.5", "eviction-timeout=2", "shutdown-timeout=7", "connect-timeout=1.25",
         "socket-timeout=60", "queue-timeout=45", "response-socket-timeout=30"});
    EXPECT_EQ(o.restart_interval.count(), 3600);
    EXPECT_EQ(o.cpu_time_limit.count(), 60);
    EXPECT_EQ(o.inactivity_timeout.count(), 300);
    EXPECT_EQ(o.request_timeout.count(), 60);
    EXPECT_EQ(o.interrupt_timeout.count(), 10);
    EXPECT_EQ(o.deadlock_timeout.count(), 60);
    EXPECT_EQ(o.startup_timeout.count(), 15);
    EXPECT_DOUBLE_EQ(o.graceful_timeout.count(), 0.5);
    EXPECT_EQ(o.eviction_timeout.count(), 2);
    EXPECT_EQ(o.shutdown_timeout.count(), 7);
    EXPECT_DOUBLE_EQ(o.connect_timeout.count(), 1.25);
    EXPECT_EQ(o.socket_timeout.value_or(Seconds(-1)).count(), 60);
    EXPECT_EQ(o.queue_timeout.count(), 45);
    EXPECT_EQ(o.response_socket_timeout.value_or(Seconds(-1)).count(), 30);
    EXPECT_EQ(parsed({"socket-timeout=0"}).socket_timeout, Seconds(0));
    EXPECT_EQ(parsed({"deadlock-timeout=.5"}).deadlock_timeout, Seconds(0.5));
}

TEST(DaemonOptions, CountsSizesAndLimits) {
    DaemonOptions o =
        parsed({"maximum-requests=10000", "listen-backlog=1", "send-buffer-size=512",
                "receive-buffer-size=1048576", "header-buffer-size=8192",
                "response-buffer-size=65536", "response-flush-delay=0", "stack-size=524288",
                "memory-limit=1073741824", "virtual-memory-limit=8589934592", "server-metrics=On"});
    EXPECT_EQ(o.maximum_requests, 10000);
    EXPECT_EQ(o.listen_backlog, 1);
    EXPECT_EQ(o.send_buffer_size, 512);
    EXPECT_EQ(o.receive_buffer_size, 1048576);
    EXPECT_EQ(o.header_buffer_size, 8192);
    EXPECT_EQ(o.response_buffer_size, 65536);
    EXPECT_EQ(o.response_flush_delay_ms, 0);
    EXPECT_EQ(o.stack_size, 524288);
    EXPECT_EQ(o.memory_limit, 1073741824);
    EXPECT_EQ(o.virtual_memory_limit, 8589934592);
    EXPECT_TRUE(o.server_metrics);
    EXPECT_FALSE(parsed({"server-metrics=off"}).server_metrics);
}

TEST(DaemonOptions, ZeroBufferSizesMeanTheDefaults) {
    DaemonOptions o = parsed({"send-buffer-size=0", "receive-buffer-size=0", "header-buffer-size=0",
                              "response-buffer-size=0", "stack-size=0"});
    EXPECT_EQ(o.send_buffer_size, 0);
    EXPECT_EQ(o.receive_buffer_size, 0);
    EXPECT_EQ(o.header_buffer_size, 32768);
    EXPECT_EQ(o.response_buffer_size, 8 * 1024 * 1024);
    EXPECT_EQ(o.stack_size, 0);
}

TEST(DaemonOptions, RemovedNewRelicOptionsAreAcceptedAndIgnored) {
    DaemonOptions o = parsed(
        {"newrelic-config-file=/etc/newrelic.ini", "newrelic-environment=production", "threads=2"});
    EXPECT_EQ(o.threads, 2);
}

TEST(DaemonOptions, ValuesMayHoldEqualsSigns) {
    EXPECT_EQ(parsed({"display-name=a=b"}).display_name, "a=b");
}

TEST(DaemonOptions, UnknownOptionIsNamed) {
    std::string error = error_of({"threads=2", "bogus-option=1"});
    EXPECT_TRUE(mentions(error, "Invalid option to WSGI daemon process definition")) << error;
    EXPECT_TRUE(mentions(error, "bogus-option")) << error;
    // Option names are case-sensitive, as in mod_wsgi.
    EXPECT_TRUE(mentions(error_of({"Threads=2"}), "Threads"));
    // Renamed before 4.5 and never in Debian's 4.9.4.
    EXPECT_TRUE(mentions(error_of({"proxy-buffer-size=65536"}), "proxy-buffer-size"));
}

TEST(DaemonOptions, MissingEqualsOrEmptyValueIsAnError) {
    std::string error = error_of({"threads"});
    EXPECT_TRUE(mentions(error, "'threads'")) << error;
    EXPECT_TRUE(mentions(error, "name=value")) << error;
    error = error_of({"=4"});
    EXPECT_TRUE(mentions(error, "'=4'")) << error;
    error = error_of({"user="});
    EXPECT_TRUE(mentions(error, "'user'")) << error;
    EXPECT_TRUE(mentions(error, "empty")) << error;
}

TEST(DaemonOptions, DuplicateOptionIsAnError) {
    std::string error = error_of({"threads=2", "processes=2", "threads=3"});
    EXPECT_TRUE(mentions(error, "'threads'")) << error;
    EXPECT_TRUE(mentions(error, "more than once")) << error;
    EXPECT_TRUE(
        mentions(error_of({"newrelic-environment=a", "newrelic-environment=b"}), "more than once"));
}

struct BadValue {
    std::string_view word;
    std::string_view option;
};

void PrintTo(const BadValue& bad, std::ostream* os) { *os << bad.word; }

class DaemonOptionsBadValue : public testing::TestWithParam<BadValue> {};

TEST_P(DaemonOptionsBadValue, IsRefusedNamingOptionAndValue) {
    const BadValue& bad = GetParam();
    std::string error = error_of({bad.word});
    EXPECT_TRUE(mentions(error, "'" + std::string(bad.option) + "'")) << error;
    auto value = bad.word.substr(bad.word.find('=') + 1);
    EXPECT_TRUE(mentions(error, "'" + std::string(value) + "'")) << error;
}

INSTANTIATE_TEST_SUITE_P(
    AllOptions, DaemonOptionsBadValue,
    testing::Values(
        BadValue{"processes=0", "processes"}, BadValue{"processes=-1", "processes"},
        BadValue{"processes=two", "processes"}, BadValue{"processes=2x", "processes"},
        BadValue{"processes=1.5", "processes"},
        BadValue{"processes=99999999999999999999", "processes"}, BadValue{"threads=-1", "threads"},
        BadValue{"threads=65536", "threads"}, BadValue{"threads= 5", "threads"},
        BadValue{"user=root", "user"}, BadValue{"user=#0", "user"}, BadValue{"user=#00", "user"},
        BadValue{"user=#abc", "user"}, BadValue{"user=#", "user"}, BadValue{"user=a b", "user"},
        BadValue{"group=#-1", "group"}, BadValue{"group=#4294967295", "group"},
        BadValue{"supplementary-groups=adm,,staff", "supplementary-groups"},
        BadValue{"supplementary-groups=adm,", "supplementary-groups"},
        BadValue{"supplementary-groups=#x", "supplementary-groups"},
        BadValue{"umask=0800", "umask"}, BadValue{"umask=01000", "umask"},
        BadValue{"umask=-022", "umask"}, BadValue{"umask=u=rwx", "umask"},
        BadValue{"home=relative/dir", "home"}, BadValue{"chroot=jail", "chroot"},
        BadValue{"python-path=:", "python-path"}, BadValue{"switch-interval=0", "switch-interval"},
        BadValue{"switch-interval=-0.1", "switch-interval"},
        BadValue{"switch-interval=fast", "switch-interval"},
        BadValue{"cpu-priority=21", "cpu-priority"}, BadValue{"cpu-priority=-21", "cpu-priority"},
        BadValue{"maximum-requests=-1", "maximum-requests"},
        BadValue{"maximum-requests=1e3", "maximum-requests"},
        BadValue{"restart-interval=-1", "restart-interval"},
        BadValue{"cpu-time-limit=soon", "cpu-time-limit"},
        BadValue{"inactivity-timeout=1.2.3", "inactivity-timeout"},
        BadValue{"request-timeout=inf", "request-timeout"},
        BadValue{"interrupt-timeout=nan", "interrupt-timeout"},
        BadValue{"deadlock-timeout=1e3", "deadlock-timeout"},
        BadValue{"startup-timeout=+5", "startup-timeout"},
        BadValue{"graceful-timeout=.", "graceful-timeout"},
        BadValue{"eviction-timeout=-0", "eviction-timeout"},
        BadValue{"shutdown-timeout=5s", "shutdown-timeout"},
        BadValue{"connect-timeout=99999999999", "connect-timeout"},
        BadValue{"socket-timeout=-60", "socket-timeout"},
        BadValue{"queue-timeout=x", "queue-timeout"},
        BadValue{"response-socket-timeout=-1", "response-socket-timeout"},
        BadValue{"listen-backlog=0", "listen-backlog"},
        BadValue{"listen-backlog=-5", "listen-backlog"}, BadValue{"socket-user=#x", "socket-user"},
        BadValue{"send-buffer-size=511", "send-buffer-size"},
        BadValue{"send-buffer-size=-1", "send-buffer-size"},
        BadValue{"receive-buffer-size=100", "receive-buffer-size"},
        BadValue{"receive-buffer-size=4294967296", "receive-buffer-size"},
        BadValue{"header-buffer-size=8191", "header-buffer-size"},
        BadValue{"response-buffer-size=65535", "response-buffer-size"},
        BadValue{"response-flush-delay=-1", "response-flush-delay"},
        BadValue{"response-flush-delay=0.5", "response-flush-delay"},
        BadValue{"stack-size=-1", "stack-size"}, BadValue{"stack-size=1024", "stack-size"},
        BadValue{"memory-limit=-1", "memory-limit"}, BadValue{"memory-limit=1G", "memory-limit"},
        BadValue{"virtual-memory-limit=-1", "virtual-memory-limit"},
        BadValue{"script-user=#", "script-user"}, BadValue{"script-group=#g", "script-group"},
        BadValue{"server-metrics=yes", "server-metrics"}));

TEST(DaemonOptions, ScriptUserAndScriptGroupExcludeEachOther) {
    std::string error = error_of({"script-user=alice", "script-group=staff"});
    EXPECT_TRUE(mentions(error, "script-user")) << error;
    EXPECT_TRUE(mentions(error, "script-group")) << error;
}

TEST(DaemonOptions, SupplementaryGroupsAreBoundedByNgroupsMax) {
    long maximum = sysconf(_SC_NGROUPS_MAX);
    ASSERT_GT(maximum, 1);
    auto list_of = [](long count) {
        std::string list;
        for (long i = 0; i < count; ++i) {
            list += (i ? ",#" : "#") + std::to_string(1000 + i);
        }
        return "supplementary-groups=" + list;
    };
    // The primary group takes one of the NGROUPS_MAX slots.
    std::string fits = list_of(maximum - 1);
    EXPECT_EQ(parsed({fits}).supplementary_groups->size(), static_cast<size_t>(maximum - 1));
    std::string too_many = list_of(maximum);
    std::string error = error_of({too_many});
    EXPECT_TRUE(mentions(error, "too many groups")) << error.substr(0, 200);
}

TEST(DaemonOptions, ErrorLeavesEarlierOptionsButReportsFirstProblem) {
    DaemonOptions options;
    auto error = parse({"threads=x", "bogus=1"}, options);
    ASSERT_TRUE(error);
    EXPECT_TRUE(mentions(*error, "threads")) << *error;
}

TEST(DaemonDisplayName, GroupExpansionAndLiteral) {
    DaemonOptions o;
    o.name = "example.com";
    EXPECT_EQ(daemon_display_name(o), "");
    o.display_name = "%{GROUP}";
    EXPECT_EQ(daemon_display_name(o), "(wsgi:example.com)");
    o.display_name = "my-app";
    EXPECT_EQ(daemon_display_name(o), "my-app");
}

// ---- resolve_daemon_identity: uses the real user database; root and its group 0 and
// "nobody"/"nogroup" exist on Debian.

constexpr uid_t kApacheUid = 33;
constexpr gid_t kApacheGid = 33;

TEST(DaemonIdentity, DefaultsToApachesAccounts) {
    DaemonOptions o = parsed({});
    DaemonIdentity identity;
    ASSERT_EQ(resolve_daemon_identity(o, kApacheUid, kApacheGid, identity), std::nullopt);
    EXPECT_EQ(identity.uid, kApacheUid);
    EXPECT_EQ(identity.gid, kApacheGid);
    EXPECT_EQ(identity.socket_uid, kApacheUid);
    EXPECT_FALSE(identity.supplementary_groups);
    EXPECT_FALSE(identity.script_uid);
    EXPECT_FALSE(identity.script_gid);
    EXPECT_FALSE(identity.user.empty());
}

TEST(DaemonIdentity, ResolvesNamesAndNumericIds) {
    passwd* nobody = getpwnam("nobody");
    group* nogroup = getgrnam("nogroup");
    ASSERT_NE(nobody, nullptr);
    ASSERT_NE(nogroup, nullptr);
    const uid_t nobody_uid = nobody->pw_uid;
    const gid_t nogroup_gid = nogroup->gr_gid;
    const std::string nobody_home = nobody->pw_dir;

    DaemonOptions o = parsed({"user=nobody", "group=nogroup", "supplementary-groups=root,#4242",
                              "socket-user=#1234", "script-group=#77"});
    DaemonIdentity identity;
    ASSERT_EQ(resolve_daemon_identity(o, kApacheUid, kApacheGid, identity), std::nullopt);
    EXPECT_EQ(identity.uid, nobody_uid);
    EXPECT_EQ(identity.user, "nobody");
    EXPECT_EQ(identity.user_home, nobody_home);
    EXPECT_EQ(identity.gid, nogroup_gid);
    ASSERT_TRUE(identity.supplementary_groups);
    EXPECT_EQ(*identity.supplementary_groups, (std::vector<gid_t>{0, 4242}));
    EXPECT_EQ(identity.socket_uid, 1234u);
    EXPECT_EQ(identity.script_gid, 77u);

    o = parsed({"script-user=nobody"});
    ASSERT_EQ(resolve_daemon_identity(o, kApacheUid, kApacheGid, identity), std::nullopt);
    EXPECT_EQ(identity.script_uid, nobody_uid);
}

TEST(DaemonIdentity, UserByUidNeedsAPasswdEntry) {
    passwd* nobody = getpwnam("nobody");
    ASSERT_NE(nobody, nullptr);
    std::string word = "user=#" + std::to_string(nobody->pw_uid);
    DaemonOptions o = parsed({word});
    DaemonIdentity identity;
    ASSERT_EQ(resolve_daemon_identity(o, kApacheUid, kApacheGid, identity), std::nullopt);
    EXPECT_EQ(identity.user, "nobody");

    o = parsed({"user=#3999999"});
    auto error = resolve_daemon_identity(o, kApacheUid, kApacheGid, identity);
    ASSERT_TRUE(error);
    EXPECT_TRUE(mentions(*error, "'user'")) << *error;
    EXPECT_TRUE(mentions(*error, "'#3999999'")) << *error;
}

struct UnknownAccount {
    std::string_view word;
    std::string_view option;
};

void PrintTo(const UnknownAccount& unknown, std::ostream* os) { *os << unknown.word; }

class DaemonIdentityUnknown : public testing::TestWithParam<UnknownAccount> {};

TEST_P(DaemonIdentityUnknown, IsAnErrorNamingOptionAndValue) {
    DaemonOptions o = parsed({GetParam().word});
    DaemonIdentity identity;
    auto error = resolve_daemon_identity(o, kApacheUid, kApacheGid, identity);
    ASSERT_TRUE(error);
    EXPECT_TRUE(mentions(*error, "'" + std::string(GetParam().option) + "'")) << *error;
    EXPECT_TRUE(mentions(*error, "no-such-account-x")) << *error;
}

INSTANTIATE_TEST_SUITE_P(
    EveryAccountOption, DaemonIdentityUnknown,
    testing::Values(UnknownAccount{"user=no-such-account-x", "user"},
                    UnknownAccount{"group=no-such-account-x", "group"},
                    UnknownAccount{"supplementary-groups=root,no-such-account-x",
                                   "supplementary-groups"},
                    UnknownAccount{"socket-user=no-such-account-x", "socket-user"},
                    UnknownAccount{"script-user=no-such-account-x", "script-user"},
                    UnknownAccount{"script-group=no-such-account-x", "script-group"}));

TEST(DaemonIdentity, ANameThatIsUidZeroIsRefused) {
    // Parsing refuses "root" and "#0" by name; another name for uid 0 is refused here.
    DaemonOptions o = parsed({});
    o.user = "root";
    DaemonIdentity identity;
    auto error = resolve_daemon_identity(o, kApacheUid, kApacheGid, identity);
    ASSERT_TRUE(error);
    EXPECT_TRUE(mentions(*error, "root")) << *error;
    EXPECT_TRUE(mentions(*error, "'user'")) << *error;
}

}  // namespace
}  // namespace wsgi::config

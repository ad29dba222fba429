#include "daemon/process_group.hpp"

#include <ap_mpm.h>
#include <apr_strings.h>
#include <apr_thread_proc.h>
#include <http_core.h>
#include <http_log.h>
#include <mpm_common.h>
#include <grp.h>
#include <pwd.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <unixd.h>

#include <algorithm>
#include <atomic>
#include <new>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <chrono>
#include <deque>
#include <map>
#include <thread>
#include <sys/wait.h>

#include "apache/log.hpp"
#include "daemon/daemon_process.hpp"
#include "daemon/death_record.hpp"

namespace wsgi::daemon {
namespace {

// One daemon process slot: which group, which of its processes, the current pid.
struct Slot {
    std::size_t group = 0;
    int number = 0;
    apr_proc_t process{};
    bool running = false;
    bool terminated = false;  // sent SIGTERM because Apache stops or restarts hard
    apr_pool_t* pool = nullptr;
    server_rec* server = nullptr;
    std::chrono::steady_clock::time_point started;
    int quick_deaths = 0;  // deaths in a row soon after starting (crash loop)
    // Raised by the slot's process once it served a request (note_served()); in memory shared
    // with it. Null if that memory could not be had: every early failure then counts.
    std::atomic<int>* served = nullptr;
};

// The served flags of the current generation's slots: an anonymous shared mapping made by
// the parent before it forks them (each process writes only its own slot's flag).
struct ServedFlags {
    std::atomic<int>* flags = nullptr;
    std::size_t bytes = 0;
    pid_t owner = 0;  // the parent, which alone unmaps it
};
ServedFlags g_served;

// In a daemon process: its slot's flag.
std::atomic<int>* g_own_served = nullptr;

void map_served_flags(std::size_t count) {
    g_served.bytes = std::max<std::size_t>(count, 1) * sizeof(std::atomic<int>);
    void* memory = mmap(nullptr, g_served.bytes, PROT_READ | PROT_WRITE,
                        MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (memory == MAP_FAILED) {
        g_served = {};
        return;
    }
    g_served.flags = static_cast<std::atomic<int>*>(memory);
    for (std::size_t i = 0; i < count; ++i) {
        new (&g_served.flags[i]) std::atomic<int>(0);
    }
    g_served.owner = getpid();
}

void unmap_served_flags() {
    if (g_served.flags != nullptr && g_served.owner == getpid()) {
        munmap(g_served.flags, g_served.bytes);
    }
    g_served = {};
}

// A process that fails sooner than this after starting, before it served a request, counts
// as crash looping.
constexpr auto kQuickDeath = std::chrono::seconds(10);
// The longest a crash-looping daemon process waits before starting again.
constexpr int kMaxBackoffSeconds = 30;

// Seconds a slot's next process waits before starting: 0, then 1, 2, 4... up to the cap.
int backoff_seconds(const Slot& slot) {
    if (slot.quick_deaths == 0) {
        return 0;
    }
    int shift = std::min(slot.quick_deaths - 1, 5);
    return std::min(1 << shift, kMaxBackoffSeconds);
}

// The running configuration's groups and slots. Rebuilt at each generation; the slots live
// in a deque so their addresses (given to httpd as callback data) stay put.
std::vector<GroupRuntime> g_groups;
uid_t g_listener_uid = 0;  // set in the parent when it makes the sockets; children inherit it

// Listening sockets kept across a graceful restart, by group name.
struct CarriedSocket {
    std::string path;
    int fd = -1;
};
std::map<std::string, CarriedSocket> g_carried;
std::deque<Slot> g_slots;

void spawn(Slot& slot);

bool mpm_is_stopping() {
    int state = AP_MPMQ_RUNNING;
    return ap_mpm_query(AP_MPMQ_MPM_STATE, &state) == APR_SUCCESS && state == AP_MPMQ_STOPPING;
}

// httpd's other-child callback: the parent's view of one daemon process.
void maintenance(int reason, void* data, apr_wait_t status) noexcept {
    auto& slot = *static_cast<Slot*>(data);
    const GroupRuntime& runtime = g_groups[slot.group];
    const char* name = runtime.group->options.name.c_str();
    switch (reason) {
        case APR_OC_REASON_DEATH:
        case APR_OC_REASON_LOST: {
            apr_proc_other_child_unregister(data);
            slot.running = false;
            // `status` is the exit status or the signal number (see death_record.hpp).
            Ending ending = record_death(runtime.group->index, slot.process.pid, status);
            const char* how = ending.how.c_str();
            if (mpm_is_stopping()) {
                ap_log_error(APLOG_MARK, APLOG_INFO, 0, slot.server,
                             "Daemon process '%s' (pid=%" APR_PID_T_FMT ") %s.", name,
                             slot.process.pid, how);
                return;
            }
            // Only failures before a first request count: a process that ends normally (exit
            // 0: maximum-requests, a changed script, restart-interval...), or that crashed on a
            // request after serving others, is replaced at once however young (as mod_wsgi
            // does); one that cannot get as far as serving backs off.
            bool served = slot.served != nullptr && slot.served->load() == 1;
            bool quick = ending.failed() && !served &&
                         std::chrono::steady_clock::now() - slot.started < kQuickDeath;
            slot.quick_deaths = quick ? slot.quick_deaths + 1 : 0;
            int delay = backoff_seconds(slot);
            ap_log_error(APLOG_MARK, delay > 0 ? APLOG_WARNING : APLOG_INFO, 0, slot.server,
                         "%sDaemon process '%s' (pid=%" APR_PID_T_FMT ") %s; restarting it%s.",
                         delay > 0 ? "WSGI0165: " : "", name, slot.process.pid, how,
                         delay > 0 ? apr_psprintf(slot.pool, " in %d seconds (it keeps dying "
                                                             "soon after starting)",
                                                  delay)
                                   : "");
            spawn(slot);
            return;
        }
        case APR_OC_REASON_RESTART:
            // Apache is stopping or restarting: end the process; the next generation forks
            // its own.
            apr_proc_other_child_unregister(data);
            if (slot.running) {
                // SIGINT, not SIGTERM: the daemon process then drains only as long as the
                // parent waits (kReapTimeout), whatever its shutdown-timeout.
                kill(slot.process.pid, SIGINT);
                slot.terminated = true;
            }
            return;
        case APR_OC_REASON_UNREGISTER:
            return;
        default:
            return;
    }
}

void spawn(Slot& slot) {
    if (slot.served != nullptr) {
        slot.served->store(0);
    }
    apr_proc_t process{};
    apr_status_t status = apr_proc_fork(&process, slot.pool);
    int delay = backoff_seconds(slot);
    if (status == APR_INCHILD) {
        g_own_served = slot.served;
        // never returns
        run_daemon_process(g_groups, slot.group, slot.number, slot.server, delay);
    }
    if (status != APR_INPARENT) {
        ap_log_error(APLOG_MARK, APLOG_ALERT, status, slot.server,
                     "WSGI0160: Could not fork daemon process '%s'.",
                     g_groups[slot.group].group->options.name.c_str());
        return;
    }
    slot.process = process;
    slot.running = true;
    slot.terminated = false;
    slot.started = std::chrono::steady_clock::now() + std::chrono::seconds(delay);
    apr_proc_other_child_register(&slot.process, maintenance, &slot, nullptr, slot.pool);
}

// A daemon process of an earlier generation, draining after a graceful restart. Its
// registration with httpd went with that generation's pool; without a new one the MPM, when it
// reaps the process, logs "long lost child came home!" (AH00488). So it is registered again
// with a pool of its own, made from the process pool, which outlives the generations and is
// destroyed once the process is gone.
struct DrainingProcess {
    apr_proc_t process{};
    apr_pool_t* pool = nullptr;
    std::size_t group_index = 0;
    char name[128];
};

void drained(int reason, void* data, apr_wait_t status) noexcept {
    auto* draining = static_cast<DrainingProcess*>(data);
    switch (reason) {
        case APR_OC_REASON_DEATH:
        case APR_OC_REASON_LOST: {
            apr_proc_other_child_unregister(data);
            Ending ending = record_death(draining->group_index, draining->process.pid, status);
            ap_log_error(APLOG_MARK, APLOG_INFO, 0, apache::main_server(),
                         "Daemon process '%s' (pid=%" APR_PID_T_FMT ") of an earlier "
                         "generation finished draining and %s.",
                         draining->name, draining->process.pid, ending.how.c_str());
            apr_pool_destroy(draining->pool);
            return;
        }
        case APR_OC_REASON_RESTART:
            // Apache stops or restarts hard while it still drains: it ends now.
            kill(draining->process.pid, SIGINT);
            return;
        default:
            return;
    }
}

void watch_draining(const Slot& slot, apr_pool_t* process_pool) {
    apr_pool_t* pool = nullptr;
    if (apr_pool_create(&pool, process_pool) != APR_SUCCESS) {
        return;
    }
    auto* draining = new (apr_pcalloc(pool, sizeof(DrainingProcess))) DrainingProcess();
    draining->process = slot.process;
    draining->pool = pool;
    draining->group_index = g_groups[slot.group].group->index;
    std::snprintf(draining->name, sizeof(draining->name), "%s",
                  g_groups[slot.group].group->options.name.c_str());
    apr_proc_other_child_register(&draining->process, drained, draining, nullptr, pool);
}

// How long the parent waits for its daemon processes to exit when a generation ends, before
// it kills them.
constexpr auto kReapTimeout = std::chrono::seconds(4);

// End of a generation. On a stop or hard restart httpd first asked every daemon process to
// end (APR_OC_REASON_RESTART: SIGTERM); wait for those, so that none outlives Apache. On a
// graceful restart the processes are still running requests: SIGUSR1 makes them stop
// accepting and finish what they serve (within graceful-timeout) while the next generation's
// processes take the new requests (`apachectl graceful` must not cut requests in flight).
apr_status_t end_generation(void*) noexcept {
    std::vector<pid_t> pids;
    // httpd told every daemon process to end first (APR_OC_REASON_RESTART) on a stop or a
    // hard restart; on a graceful restart it did not.
    bool graceful = true;
    for (const Slot& slot : g_slots) {
        if (slot.terminated) {
            graceful = false;
        }
    }
    for (Slot& slot : g_slots) {
        if (!slot.running) {
            continue;
        }
        if (slot.terminated) {
            pids.push_back(slot.process.pid);
        } else {
            // (The registration with httpd went with the pool's own cleanups already.)
            kill(slot.process.pid, SIGUSR1);
            watch_draining(slot, slot.server->process->pool);
        }
        slot.running = false;
    }
    auto deadline = std::chrono::steady_clock::now() + kReapTimeout;
    for (pid_t pid : pids) {
        while (waitpid(pid, nullptr, WNOHANG) == 0) {
            if (std::chrono::steady_clock::now() >= deadline) {
                ap_log_error(APLOG_MARK, APLOG_WARNING, 0, apache::main_server(),
                             "WSGI0164: Daemon process (pid=%" APR_PID_T_FMT ") did not exit "
                             "in time; killing it.",
                             pid);
                kill(pid, SIGKILL);
                waitpid(pid, nullptr, 0);
                break;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
    }
    // A graceful restart keeps each group's listening socket for the next generation: the
    // connections queued in its backlog, and old Apache children finishing their requests,
    // then reach the new daemon processes instead of a closed or missing socket.
    for (GroupRuntime& runtime : g_groups) {
        if (runtime.listen_fd < 0) {
            continue;
        }
        if (graceful) {
            g_carried[runtime.group->options.name] = {runtime.socket_path, runtime.listen_fd};
        } else {
            close(runtime.listen_fd);
            unlink(runtime.socket_path.c_str());
        }
    }
    g_slots.clear();
    g_groups.clear();
    unmap_served_flags();  // the draining processes keep their own mapping
    return APR_SUCCESS;
}

// Closes the sockets carried over from the previous generation that no group took.
void close_carried_sockets() {
    for (auto& [name, socket] : g_carried) {
        close(socket.fd);
        unlink(socket.path.c_str());
    }
    g_carried.clear();
}

// Checks that `uid`/`gid` (Apache's child user) can search every directory on the way to
// `directory`, where the sockets live: mod_wsgi's most reported failure is a 503 from a socket
// its users cannot reach (issues #154, #929). Returns the first blocking directory, or "".
std::string unreachable_directory(const std::string& directory, uid_t uid, gid_t gid) {
    if (uid == 0) {
        return "";
    }
    int count = 64;
    std::vector<gid_t> groups(static_cast<std::size_t>(count));
    const passwd* account = getpwuid(uid);
    if (account == nullptr ||
        getgrouplist(account->pw_name, gid, groups.data(), &count) < 0) {
        groups.assign(1, gid);
    } else {
        groups.resize(static_cast<std::size_t>(count));
    }
    std::string path;
    std::size_t position = 0;
    while (position != std::string::npos) {
        position = directory.find('/', position + 1);
        path = directory.substr(0, position);
        if (path.empty()) {
            path = "/";
        }
        struct stat info;
        if (stat(path.c_str(), &info) != 0) {
            // Not made yet (Debian's apache2ctl makes the run directory just before it starts
            // Apache): the bind at start tells then (WSGI0163).
            return errno == ENOENT ? "" : path;
        }
        bool searchable;
        if (info.st_uid == uid) {
            searchable = (info.st_mode & S_IXUSR) != 0;
        } else if (std::find(groups.begin(), groups.end(), info.st_gid) != groups.end()) {
            searchable = (info.st_mode & S_IXGRP) != 0;
        } else {
            searchable = (info.st_mode & S_IXOTH) != 0;
        }
        if (!searchable) {
            return path;
        }
    }
    return "";
}

// 32 random bytes from the kernel's CSPRNG, as hex; "" on failure.
std::string make_secret() {
    unsigned char bytes[32];
    std::size_t have = 0;
    while (have < sizeof(bytes)) {
        ssize_t got = getrandom(bytes + have, sizeof(bytes) - have, 0);
        if (got < 0 && errno == EINTR) {
            continue;
        }
        if (got <= 0) {
            return "";
        }
        have += static_cast<std::size_t>(got);
    }
    static constexpr char kHex[] = "0123456789abcdef";
    std::string text;
    for (unsigned char byte : bytes) {
        text.push_back(kHex[byte >> 4]);
        text.push_back(kHex[byte & 0xf]);
    }
    return text;
}

// Makes the listening socket of a group. Returns an error message or "".
std::string make_socket(GroupRuntime& runtime, int backlog) {
    sockaddr_un address{};
    if (runtime.socket_path.size() >= sizeof(address.sun_path)) {
        return "socket path '" + runtime.socket_path + "' is longer than " +
               std::to_string(sizeof(address.sun_path) - 1) + " bytes (WSGISocketPrefix)";
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        return std::string("socket(): ") + std::strerror(errno);
    }
    address.sun_family = AF_UNIX;
    std::strcpy(address.sun_path, runtime.socket_path.c_str());
    unlink(runtime.socket_path.c_str());
    mode_t old_mask = umask(0077);  // only the owner (Apache's child user) may connect
    int bound = bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address));
    int bind_errno = errno;
    umask(old_mask);
    if (bound != 0) {
        close(fd);
        return "bind('" + runtime.socket_path + "'): " + std::strerror(bind_errno) +
               " (check WSGISocketPrefix)";
    }
    // lchown: were the path replaced by a symbolic link meanwhile (a directory others can
    // write), chown() would give its target to the socket's user.
    if (geteuid() == 0 && lchown(runtime.socket_path.c_str(), runtime.identity.socket_uid,
                                 static_cast<gid_t>(-1)) != 0) {
        int chown_errno = errno;
        close(fd);
        return "lchown('" + runtime.socket_path + "'): " + std::strerror(chown_errno);
    }
    if (listen(fd, backlog) != 0) {
        int listen_errno = errno;
        close(fd);
        return std::string("listen(): ") + std::strerror(listen_errno);
    }
    runtime.listen_fd = fd;
    return "";
}

// A socket directory other users can write (without the sticky bit) lets them put their own
// socket in place of a group's. The Apache children would refuse to use it (SO_PEERCRED), so
// the group's requests would fail: worth a warning, not a refusal (WSGISocketPrefix in /tmp
// works as before).
void warn_if_others_can_write(server_rec* s, const char* prefix, const std::string& directory) {
    struct stat info {};
    if (stat(directory.c_str(), &info) != 0 || (info.st_mode & S_ISVTX) != 0) {
        return;
    }
    const bool others = (info.st_mode & S_IWOTH) != 0;
    const bool group = (info.st_mode & S_IWGRP) != 0 && info.st_gid != 0 &&
                       info.st_gid != ap_unixd_config.group_id;
    if (others || group) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                     "WSGI0173: WSGISocketPrefix '%s': the directory '%s' (mode %04o) can be "
                     "written by other users, who could replace the daemon sockets there (the "
                     "Apache children would then refuse them, WSGI0155); use a directory only "
                     "root can write, such as Debian's /var/run/apache2.",
                     prefix, directory.c_str(), static_cast<unsigned>(info.st_mode & 07777));
    }
}

}  // namespace

uid_t socket_listener_uid() { return g_listener_uid; }

int check_process_groups(apr_pool_t* pconf, server_rec* s) noexcept {
    try {
        if (config::server_config(s).daemon_groups.empty()) {
            return OK;
        }
        const char* prefix = config::socket_prefix(pconf, s);
        if (prefix == nullptr) {
            return OK;  // start_process_groups() reports it (WSGI0161)
        }
        std::string directory(prefix);
        directory = directory.substr(0, directory.rfind('/'));
        if (directory.empty()) {
            directory = "/";
        }
        warn_if_others_can_write(s, prefix, directory);
        std::string blocked = unreachable_directory(directory, ap_unixd_config.user_id,
                                                    ap_unixd_config.group_id);
        if (blocked.empty()) {
            return OK;
        }
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s,
                     "WSGI0166: WSGISocketPrefix '%s': Apache's child user (uid %ld) cannot "
                     "reach the daemon sockets there because it cannot search '%s'; give "
                     "that user search permission or set WSGISocketPrefix to a directory "
                     "it can reach.",
                     prefix, static_cast<long>(ap_unixd_config.user_id), blocked.c_str());
        return HTTP_INTERNAL_SERVER_ERROR;
    } catch (const std::exception& e) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, "WSGI0009: Checking daemon process groups: %s",
                     e.what());
        return HTTP_INTERNAL_SERVER_ERROR;
    }
}

int start_process_groups(apr_pool_t* pconf, server_rec* s) noexcept {
    try {
        if (ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG ||
            ap_state_query(AP_SQ_RUN_MODE) != AP_SQ_RM_NORMAL) {
            return OK;
        }
        const config::ServerConfig& server = config::server_config(s);
        if (server.daemon_groups.empty()) {
            close_carried_sockets();
            return OK;
        }
        apr_pool_cleanup_register(pconf, nullptr, end_generation, apr_pool_cleanup_null);
        g_listener_uid = geteuid();
        open_death_records(s);
        const char* prefix = config::socket_prefix(pconf, s);
        if (prefix == nullptr) {
            ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s,
                         "WSGI0161: WSGISocketPrefix does not give a valid path.");
            return HTTP_INTERNAL_SERVER_ERROR;
        }
        int generation = ap_state_query(AP_SQ_CONFIG_GEN);
        // One secret per server start, kept across graceful restarts: Apache children of the
        // old generation still finishing requests send the one they were born with.
        static std::string secret;
        if (secret.empty()) {
            secret = make_secret();
        }
        if (secret.empty()) {
            ap_log_error(APLOG_MARK, APLOG_CRIT, errno, s,
                         "WSGI0167: Cannot read random bytes for the daemon process secret.");
            return HTTP_INTERNAL_SERVER_ERROR;
        }
        g_groups.clear();
        g_groups.reserve(server.daemon_groups.size());
        for (const config::DaemonGroup& group : server.daemon_groups) {
            GroupRuntime runtime;
            runtime.group = &group;
            runtime.secret = secret;
            runtime.peer_uid = geteuid() == 0 ? ap_unixd_config.user_id : geteuid();
            if (auto error = config::resolve_daemon_identity(
                    group.options, ap_unixd_config.user_id, ap_unixd_config.group_id,
                    runtime.identity)) {
                ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s,
                             "WSGI0162: WSGIDaemonProcess '%s': %s", group.options.name.c_str(),
                             error->c_str());
                return HTTP_INTERNAL_SERVER_ERROR;
            }
            std::string error;
            if (auto carried = g_carried.find(group.options.name); carried != g_carried.end()) {
                runtime.socket_path = carried->second.path;
                runtime.listen_fd = carried->second.fd;
                g_carried.erase(carried);
                // The options may have changed with the configuration.
                listen(runtime.listen_fd, group.options.listen_backlog);
                if (geteuid() == 0 && chown(runtime.socket_path.c_str(),
                                            runtime.identity.socket_uid,
                                            static_cast<gid_t>(-1)) != 0) {
                    error = "chown('" + runtime.socket_path + "'): " + std::strerror(errno);
                }
            } else {
                runtime.socket_path = std::string(prefix) + "." + std::to_string(getpid()) +
                                      "." + std::to_string(generation) + "." +
                                      std::to_string(group.index) + ".sock";
                error = make_socket(runtime, group.options.listen_backlog);
            }
            if (!error.empty()) {
                // As with mod_wsgi, Apache carries on: embedded mode and the other groups
                // serve, this group's requests get 503 (WSGI0117).
                ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s,
                             "WSGI0163: Cannot create the socket of daemon process group '%s': "
                             "%s; the group does not start.",
                             group.options.name.c_str(), error.c_str());
                if (runtime.listen_fd >= 0) {
                    close(runtime.listen_fd);
                }
                unlink(runtime.socket_path.c_str());  // bound before chown() or listen() failed
                continue;
            }
            g_groups.push_back(std::move(runtime));
        }
        close_carried_sockets();  // groups no longer configured
        std::size_t slots = 0;
        for (const GroupRuntime& runtime : g_groups) {
            slots += static_cast<std::size_t>(std::max(runtime.group->options.processes, 0));
        }
        map_served_flags(slots);
        std::size_t flag = 0;
        for (std::size_t index = 0; index < g_groups.size(); ++index) {
            const auto& options = g_groups[index].group->options;
            for (int number = 0; number < options.processes; ++number) {
                Slot& slot = g_slots.emplace_back();
                slot.group = index;
                slot.number = number;
                slot.served = g_served.flags != nullptr ? &g_served.flags[flag++] : nullptr;
                slot.pool = pconf;
                slot.server = g_groups[index].group->server != nullptr
                                  ? g_groups[index].group->server
                                  : s;
                spawn(slot);
            }
        }
        return OK;
    } catch (const std::exception& e) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, "WSGI0009: Starting daemon processes: %s",
                     e.what());
        return HTTP_INTERNAL_SERVER_ERROR;
    }
}

void note_served() noexcept {
    if (g_own_served != nullptr && g_own_served->load(std::memory_order_relaxed) == 0) {
        g_own_served->store(1);
    }
}

const GroupRuntime* group_runtime(std::size_t index) {
    for (const GroupRuntime& runtime : g_groups) {
        if (runtime.group->index == index) {
            return &runtime;
        }
    }
    return nullptr;
}

void close_group_listeners() noexcept {
    for (GroupRuntime& runtime : g_groups) {
        if (runtime.listen_fd >= 0) {
            close(runtime.listen_fd);
            runtime.listen_fd = -1;
        }
    }
}

}  // namespace wsgi::daemon

#include "daemon/process_group.hpp"

#include <ap_mpm.h>
#include <apr_thread_proc.h>
#include <http_core.h>
#include <http_log.h>
#include <mpm_common.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <unixd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <chrono>
#include <deque>
#include <thread>
#include <sys/wait.h>

#include "apache/log.hpp"
#include "daemon/daemon_process.hpp"

namespace wsgi::daemon {
namespace {

// One daemon process slot: which group, which of its processes, the current pid.
struct Slot {
    std::size_t group = 0;
    int number = 0;
    apr_proc_t process{};
    bool running = false;
    apr_pool_t* pool = nullptr;
    server_rec* server = nullptr;
};

// The running configuration's groups and slots. Rebuilt at each generation; the slots live
// in a deque so their addresses (given to httpd as callback data) stay put.
std::vector<GroupRuntime> g_groups;
std::deque<Slot> g_slots;

void spawn(Slot& slot);

bool mpm_is_stopping() {
    int state = AP_MPMQ_RUNNING;
    return ap_mpm_query(AP_MPMQ_MPM_STATE, &state) == APR_SUCCESS && state == AP_MPMQ_STOPPING;
}

void describe_exit(apr_wait_t status, char* buffer, std::size_t size) {
    if (WIFSIGNALED(status)) {
        snprintf(buffer, size, "terminated by signal %d (%s)", WTERMSIG(status),
                 strsignal(WTERMSIG(status)));
    } else if (WIFEXITED(status)) {
        snprintf(buffer, size, "exited with status %d", WEXITSTATUS(status));
    } else {
        snprintf(buffer, size, "ended (status %d)", status);
    }
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
            char how[128];
            describe_exit(status, how, sizeof(how));
            if (mpm_is_stopping()) {
                ap_log_error(APLOG_MARK, APLOG_INFO, 0, slot.server,
                             "Daemon process '%s' (pid=%" APR_PID_T_FMT ") %s.", name,
                             slot.process.pid, how);
                return;
            }
            ap_log_error(APLOG_MARK, APLOG_INFO, 0, slot.server,
                         "Daemon process '%s' (pid=%" APR_PID_T_FMT ") %s; restarting it.", name,
                         slot.process.pid, how);
            spawn(slot);
            return;
        }
        case APR_OC_REASON_RESTART:
            // Apache is stopping or restarting: end the process; the next generation forks
            // its own.
            apr_proc_other_child_unregister(data);
            if (slot.running) {
                kill(slot.process.pid, SIGTERM);
            }
            return;
        case APR_OC_REASON_UNREGISTER:
            return;
        default:
            return;
    }
}

void spawn(Slot& slot) {
    apr_proc_t process{};
    apr_status_t status = apr_proc_fork(&process, slot.pool);
    if (status == APR_INCHILD) {
        run_daemon_process(g_groups, slot.group, slot.number, slot.server);  // never returns
    }
    if (status != APR_INPARENT) {
        ap_log_error(APLOG_MARK, APLOG_ALERT, status, slot.server,
                     "WSGI0160: Could not fork daemon process '%s'.",
                     g_groups[slot.group].group->options.name.c_str());
        return;
    }
    slot.process = process;
    slot.running = true;
    apr_proc_other_child_register(&slot.process, maintenance, &slot, nullptr, slot.pool);
}

// How long the parent waits for its daemon processes to exit when a generation ends, before
// it kills them.
constexpr auto kReapTimeout = std::chrono::seconds(4);

// End of a generation (graceful restart, stop): end the daemon processes still running and
// wait for them, so that none outlives Apache.
apr_status_t end_generation(void*) noexcept {
    std::vector<pid_t> pids;
    for (Slot& slot : g_slots) {
        if (slot.running && kill(slot.process.pid, SIGTERM) == 0) {
            pids.push_back(slot.process.pid);
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
    for (GroupRuntime& runtime : g_groups) {
        if (runtime.listen_fd >= 0) {
            close(runtime.listen_fd);
            unlink(runtime.socket_path.c_str());
        }
    }
    g_slots.clear();
    g_groups.clear();
    return APR_SUCCESS;
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
    if (geteuid() == 0 && chown(runtime.socket_path.c_str(), runtime.identity.socket_uid,
                                static_cast<gid_t>(-1)) != 0) {
        int chown_errno = errno;
        close(fd);
        return "chown('" + runtime.socket_path + "'): " + std::strerror(chown_errno);
    }
    if (listen(fd, backlog) != 0) {
        int listen_errno = errno;
        close(fd);
        return std::string("listen(): ") + std::strerror(listen_errno);
    }
    runtime.listen_fd = fd;
    return "";
}

}  // namespace

int start_process_groups(apr_pool_t* pconf, server_rec* s) noexcept {
    try {
        if (ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG ||
            ap_state_query(AP_SQ_RUN_MODE) != AP_SQ_RM_NORMAL) {
            return OK;
        }
        const config::ServerConfig& server = config::server_config(s);
        if (server.daemon_groups.empty()) {
            return OK;
        }
        apr_pool_cleanup_register(pconf, nullptr, end_generation, apr_pool_cleanup_null);
        const char* prefix = config::socket_prefix(pconf, s);
        if (prefix == nullptr) {
            ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s,
                         "WSGI0161: WSGISocketPrefix does not give a valid path.");
            return HTTP_INTERNAL_SERVER_ERROR;
        }
        int generation = ap_state_query(AP_SQ_CONFIG_GEN);
        g_groups.clear();
        g_groups.reserve(server.daemon_groups.size());
        for (const config::DaemonGroup& group : server.daemon_groups) {
            GroupRuntime runtime;
            runtime.group = &group;
            if (auto error = config::resolve_daemon_identity(
                    group.options, ap_unixd_config.user_id, ap_unixd_config.group_id,
                    runtime.identity)) {
                ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s,
                             "WSGI0162: WSGIDaemonProcess '%s': %s", group.options.name.c_str(),
                             error->c_str());
                return HTTP_INTERNAL_SERVER_ERROR;
            }
            runtime.socket_path = std::string(prefix) + "." + std::to_string(getpid()) + "." +
                                  std::to_string(generation) + "." +
                                  std::to_string(group.index) + ".sock";
            std::string error = make_socket(runtime, group.options.listen_backlog);
            if (!error.empty()) {
                ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s,
                             "WSGI0163: Cannot create the socket of daemon process group '%s': %s",
                             group.options.name.c_str(), error.c_str());
                return HTTP_INTERNAL_SERVER_ERROR;
            }
            g_groups.push_back(std::move(runtime));
        }
        for (std::size_t index = 0; index < g_groups.size(); ++index) {
            const auto& options = g_groups[index].group->options;
            for (int number = 0; number < options.processes; ++number) {
                Slot& slot = g_slots.emplace_back();
                slot.group = index;
                slot.number = number;
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

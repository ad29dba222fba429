#include "daemon/daemon_process.hpp"

#include <ap_listen.h>
#include <grp.h>
#include <malloc.h>
#include <http_core.h>
#include <http_log.h>
#include <poll.h>
#include <pwd.h>
#include <pthread.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <clocale>
#include <cmath>
#include <condition_variable>
#include <csignal>
#include <cstring>
#include <ctime>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "apache/log.hpp"
#include "daemon/daemon_channel.hpp"
#include "daemon/daemon_listener.hpp"
#include "daemon/request_meta.hpp"
#include "python/gil.hpp"
#include "python/interpreter.hpp"
#include "python/runtime.hpp"
#include "wsgi/environ.hpp"
#include "wsgi/errors.hpp"
#include "wsgi/events.hpp"
#include "wsgi/handler.hpp"
#include "wsgi/interpreter_setup.hpp"
#include "wsgi/script.hpp"

namespace wsgi::daemon {
namespace {

using Clock = std::chrono::steady_clock;
using python::Ref;

// A configured duration (seconds) in the steady clock's ticks.
Clock::duration ticks(config::Seconds seconds) {
    return std::chrono::duration_cast<Clock::duration>(seconds);
}

struct DaemonState {
    const GroupRuntime* runtime = nullptr;
    server_rec* server = nullptr;
    std::atomic<bool> stopping{false};         // a restart was asked for: the supervisor ends
    std::atomic<bool> accepting{true};         // request threads still take new requests
    std::atomic<int> active{0};                // requests being served
    std::atomic<std::int64_t> requests{0};
    std::atomic<Clock::rep> last_activity{0};
    std::mutex mutex;
    const char* restart_reason = nullptr;      // set once a restart is asked for
    bool graceful = true;
    std::atomic<bool> apache_stopping{false};  // the parent is stopping: drain only briefly
    std::atomic<bool> evicted{false};          // SIGUSR1: eviction-timeout applies
};

DaemonState g_state;

// The signals that stop or recycle a daemon process. Their handler puts their number into a
// pipe that the supervising thread reads: no thread has them blocked, because a process the
// application starts (subprocess, multiprocessing) inherits the blocked set of the thread that
// started it, and could then not be stopped by them.
// (SIGUSR2, and SIGHUP once the application subscribed, go to mod_wsgi.subscribe_signals()
// callbacks. SIGWINCH, which Apache sends its children for a graceful stop, keeps its
// default, ignored.)
constexpr int kHandledSignals[] = {SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGUSR2, SIGXCPU};
int g_signal_pipe[2] = {-1, -1};
pid_t g_daemon_pid = 0;

pid_t g_apache_parent_pid = 0;

// What note_signal() writes for a SIGUSR1 from the Apache parent: its graceful restart, after
// which the next generation's processes take the new requests (not a signal number).
constexpr int kGenerationEnd = 0xF0;
// What request_restart() writes for the supervisor to look at the process's state at once.
constexpr int kWake = 0xF1;

extern "C" void note_signal(int signal_number, siginfo_t* info, void*) {
    const int saved = errno;
    if (getpid() != g_daemon_pid) {
        // A child the application forked without exec: the signal does what it would do
        // without this handler (raised again once the handler returns, unblocked).
        signal(signal_number, SIG_DFL);
        raise(signal_number);
        errno = saved;
        return;
    }
    // The Apache parent's SIGHUP (prefork signals its whole process group when it restarts)
    // is a stop, whatever the application subscribed to.
    if (signal_number == SIGHUP && info != nullptr && info->si_pid == g_apache_parent_pid) {
        signal_number = SIGTERM;
    }
    if (signal_number == SIGUSR1 && info != nullptr && info->si_pid == g_apache_parent_pid) {
        signal_number = kGenerationEnd;
    }
    const auto byte = static_cast<unsigned char>(signal_number);
    [[maybe_unused]] ssize_t written = write(g_signal_pipe[1], &byte, 1);  // full: one pending
    errno = saved;
}

// Installs note_signal() for kHandledSignals and unblocks them in the calling thread (and so
// in the threads it starts). False when the pipe cannot be made.
bool take_signals(const sigset_t& signals) {
    if (pipe2(g_signal_pipe, O_CLOEXEC | O_NONBLOCK) != 0) {
        return false;
    }
    g_daemon_pid = getpid();
    g_apache_parent_pid = getppid();
    struct sigaction action {};
    action.sa_sigaction = note_signal;
    action.sa_flags = SA_RESTART | SA_SIGINFO;
    sigemptyset(&action.sa_mask);
    for (int signal_number : kHandledSignals) {
        sigaction(signal_number, &action, nullptr);
    }
    pthread_sigmask(SIG_UNBLOCK, &signals, nullptr);
    return true;
}

// The next signal noted by note_signal(), waiting up to `limit`; 0 when none came.
int next_signal(std::chrono::milliseconds limit) {
    pollfd ready{g_signal_pipe[0], POLLIN, 0};
    if (poll(&ready, 1, static_cast<int>(limit.count())) <= 0) {
        return 0;
    }
    unsigned char byte = 0;
    return read(g_signal_pipe[0], &byte, 1) == 1 ? byte : 0;
}

// The listening socket and the connections Apache children keep to this process.
DaemonListener g_listener;

// Last time the GIL could be taken (steady clock ticks), for deadlock-timeout.
std::atomic<Clock::rep> g_gil_heartbeat{0};

// Takes and releases the main interpreter's GIL every second: if that blocks (a thread holds
// the GIL forever, e.g. in a C extension), the heartbeat goes stale and the supervisor
// restarts the process (mod_wsgi docs, deadlock-timeout).
void* gil_heartbeat(void*) {
    while (!g_state.stopping) {
        {
            python::InterpreterLock lock(python::interpreters().main());
        }
        g_gil_heartbeat = Clock::now().time_since_epoch().count();
        std::this_thread::sleep_for(std::chrono::seconds(1));
    }
    return nullptr;
}

// Each request thread's current request, for request-timeout: when it started (steady clock
// ticks; 0: idle) and its channel (guarded by `mutex`, so the supervisor never uses a channel
// that is gone).
struct RequestSlot {
    std::atomic<Clock::rep> started{0};
    std::mutex mutex;
    DaemonChannel* channel = nullptr;
    bool abandoned = false;
    bool ignore_activity = false;  // the request's WSGIIgnoreActivity; this thread's only
    // interrupt-timeout: the interpreter the request runs in (interpreters last as long as
    // the process), and, read and written with the GIL held only, the thread's Python ident
    // and whether it is running the application.
    std::atomic<python::Interpreter*> interpreter{nullptr};
    unsigned long thread_ident = 0;
    bool in_application = false;
    // The supervisor's own: the `started` of the request it interrupted, and until when that
    // request may unwind before the process restarts.
    Clock::rep interrupted = 0;
    Clock::time_point interrupt_deadline;
};
std::unique_ptr<RequestSlot[]> g_request_slots;
std::atomic<int> g_abandoned{0};  // requests answered 504 whose threads are still stuck
std::atomic<int> g_live_threads{0};  // request threads that have not left their loop
int g_thread_count = 0;
thread_local RequestSlot* t_request_slot = nullptr;

// interrupt-timeout (mod_wsgi docs, "Request Pipeline And Timeouts"): requests past
// request-timeout to raise mod_wsgi.RequestTimeout in, as (slot, its `started`). One thread
// does it, because taking the GIL may wait (the supervisor must not) and each thread that
// takes it keeps a thread state in the interpreter.
std::mutex g_interrupt_mutex;
std::condition_variable g_interrupt_ready;
std::vector<std::pair<int, Clock::rep>> g_interrupts;

void* interrupter(void*) {
    while (true) {
        std::pair<int, Clock::rep> next;
        {
            std::unique_lock lock(g_interrupt_mutex);
            g_interrupt_ready.wait(lock, [] { return !g_interrupts.empty(); });
            next = g_interrupts.front();
            g_interrupts.erase(g_interrupts.begin());
        }
        RequestSlot& slot = g_request_slots[next.first];
        python::Interpreter* interpreter = slot.interpreter.load();
        if (interpreter == nullptr) {
            continue;
        }
        python::InterpreterLock lock(*interpreter);
        // Still that request, in the application: the GIL orders this with the request
        // thread, which clears a pending exception when it leaves the application.
        if (slot.in_application && slot.started.load() == next.second &&
            slot.interpreter.load() == interpreter) {
            PyThreadState_SetAsyncExc(slot.thread_ident,
                                      wsgi::wsgi_state().request_timeout.get());
        }
    }
    return nullptr;
}

const config::DaemonOptions& options() { return g_state.runtime->group->options; }

// startup-timeout (mod_wsgi docs, WSGIDaemonProcess): once a script fails to load, the
// process has that long to load one; if none has loaded by then it restarts, for packages
// (Django) that cannot run their set-up twice in a process. 0: no failure yet; kScriptLoaded:
// a script loaded, the timeout no longer applies; otherwise the deadline (steady clock).
constexpr Clock::rep kScriptLoaded = -1;
std::atomic<Clock::rep> g_startup_deadline{0};

void observe_script_load(bool imported) noexcept {
    Clock::rep current = g_startup_deadline.load();
    if (current == kScriptLoaded) {
        return;
    }
    if (imported) {
        g_startup_deadline = kScriptLoaded;
        return;
    }
    if (current == 0) {
        auto deadline = Clock::now() + ticks(options().startup_timeout);
        g_startup_deadline.compare_exchange_strong(current, deadline.time_since_epoch().count());
    }
}

// Ends the taking of new requests: the request threads leave once their request is done,
// and the connections Apache children keep to this process are handed back (kRestart).
void stop_accepting() {
    g_state.accepting = false;
    g_listener.stop();
}

// How a process that is asked to restart treats new requests meanwhile.
enum class Drain {
    kStop,         // takes none (a stop, a changed script, limits reached)
    kKeepServing,  // a graceful restart: serves them until it is idle or graceful-timeout
                   // (eviction-timeout) ends, as the mod_wsgi docs describe ("Drain semantics
                   // during shutdown"), so that a group of one process does not stall them
};

// How long a graceful restart goes on serving and waits to be idle: eviction-timeout after
// SIGUSR1 when set, else graceful-timeout.
config::Seconds graceful_window() {
    return g_state.evicted && options().eviction_timeout.count() > 0
               ? options().eviction_timeout
               : options().graceful_timeout;
}

// Asks the process to end: `reason` for the log, `shutdown_reason` the value the mod_wsgi
// docs give for process_stopping ("maximum_requests", ...). The first reason given stays;
// a later one that stops accepting still does.
void request_restart(const char* reason, const char* shutdown_reason, bool graceful,
                     Drain drain = Drain::kStop) {
    std::lock_guard lock(g_state.mutex);
    if (g_state.restart_reason == nullptr) {
        g_state.restart_reason = reason;
        g_state.graceful = graceful;
        wsgi::set_shutdown_reason(shutdown_reason);
    }
    g_state.stopping = true;
    // A graceful restart with no time to serve in (graceful-timeout=0) stops at once too.
    if (drain == Drain::kStop || !graceful || graceful_window().count() <= 0) {
        // At once, not at the supervisor's next tick: an Apache child must not send its next
        // request on a kept connection to a process that will not serve it.
        stop_accepting();
    }
    const auto byte = static_cast<unsigned char>(kWake);  // the supervisor: now, not in 200 ms
    [[maybe_unused]] ssize_t written = write(g_signal_pipe[1], &byte, 1);
}

Millis millis(config::Seconds seconds) {
    return std::chrono::duration_cast<Millis>(seconds);
}

[[noreturn]] void fail(const std::string& message) {
    ap_log_error(APLOG_MARK, APLOG_CRIT, 0, g_state.server,
                 "WSGI0170: Daemon process '%s' (pid=%" APR_PID_T_FMT ") cannot start: %s",
                 options().name.c_str(), getpid(), message.c_str());
    // Do not let the parent fork it again at once in a tight loop.
    sleep(5);
    end_daemon_process(1);
}

// Replaces the process title shown by ps (argv memory) and the thread name.
void set_title(const std::string& title) {
    process_rec* process = g_state.server->process;
    if (process == nullptr || process->argc < 1 || process->argv == nullptr) {
        return;
    }
    // argv[0]'s own bytes when the title fits, so the arguments after it stay visible (as
    // mod_wsgi does); else the whole argument area, so the title is not cut short.
    char* start = const_cast<char*>(process->argv[0]);
    std::size_t room = std::strlen(start);
    if (title.size() > room) {
        const char* last = process->argv[process->argc - 1];
        room = static_cast<std::size_t>(last + std::strlen(last) - start);
    }
    std::memset(start, 0, room);
    std::memcpy(start, title.data(), std::min(room, title.size()));
    prctl(PR_SET_NAME, title.substr(0, 15).c_str(), 0, 0, 0);
}

void drop_privileges() {
    const config::DaemonIdentity& identity = g_state.runtime->identity;
    if (options().chroot && (chroot(options().chroot->c_str()) != 0 || chdir("/") != 0)) {
        fail("chroot('" + *options().chroot + "'): " + std::strerror(errno));
    }
    if (geteuid() != 0) {
        return;  // Apache not started as root: run as its user
    }
    if (setgid(identity.gid) != 0) {
        fail("setgid(" + std::to_string(identity.gid) + "): " + std::strerror(errno));
    }
    if (identity.supplementary_groups) {
        std::vector<gid_t> groups{identity.gid};
        groups.insert(groups.end(), identity.supplementary_groups->begin(),
                      identity.supplementary_groups->end());
        if (setgroups(groups.size(), groups.data()) != 0) {
            fail(std::string("setgroups(): ") + std::strerror(errno));
        }
    } else if (initgroups(identity.user.c_str(), identity.gid) != 0) {
        fail("initgroups('" + identity.user + "'): " + std::strerror(errno));
    }
    if (setuid(identity.uid) != 0) {
        fail("setuid(" + std::to_string(identity.uid) + "): " + std::strerror(errno));
    }
    // Check the result rather than trust the calls (CVE-2014-0240, CVE-2014-8583).
    uid_t ruid, euid, suid;
    gid_t rgid, egid, sgid;
    if (getresuid(&ruid, &euid, &suid) != 0 || getresgid(&rgid, &egid, &sgid) != 0 ||
        ruid != identity.uid || euid != identity.uid || suid != identity.uid ||
        rgid != identity.gid || egid != identity.gid || sgid != identity.gid) {
        fail("the process did not end up with the configured user and group");
    }
}

// glibc returns the free memory at the top of a thread's malloc arena to the system as soon as
// it exceeds 128 KiB (M_TRIM_THRESHOLD). A request that holds a few 64 KiB buffers at once (a
// request body frame, the bytes wsgi.input returns, a response block) frees more than that
// when it ends, so every request gave its pages back and faulted them in again: measured, a
// 64 KiB POST cost 900 us of CPU instead of 240. Keep up to this much free per arena instead
// (touched pages only: what requests really used).
constexpr int kMallocTrimThreshold = 8 * 1024 * 1024;

void set_up_process() {
    const config::DaemonOptions& opts = options();
    mallopt(M_TRIM_THRESHOLD, kMallocTrimThreshold);
    const config::DaemonIdentity& identity = g_state.runtime->identity;
    if (opts.cpu_priority != 0) {
        setpriority(PRIO_PROCESS, 0, opts.cpu_priority);
    }
    drop_privileges();
    std::string home = opts.home ? *opts.home : (opts.user ? identity.user_home : "");
    if (!home.empty() && chdir(home.c_str()) != 0) {
        fail("chdir('" + home + "')" + (opts.home ? " for home=" : " to the home of user=") +
             ": " + std::strerror(errno));
    }
    // The account's variables, as a login would set them (mod_wsgi does): HOME is where
    // ~ and per-user caches go, and Apache's environment has root's. The account as the
    // parent resolved it (a chroot= may have no passwd file), else looked up here.
    std::string name = getuid() == identity.uid ? identity.user : std::string();
    std::string account_home = identity.user_home;
    if (name.empty() || name[0] == '#') {
        if (const passwd* account = getpwuid(getuid())) {  // still one thread: no _r needed
            name = account->pw_name;
            account_home = account->pw_dir;
        } else {
            name.clear();
        }
    }
    if (!name.empty()) {
        setenv("USER", name.c_str(), 1);
        setenv("USERNAME", name.c_str(), 1);
        setenv("LOGNAME", name.c_str(), 1);
        if (!account_home.empty()) {
            setenv("HOME", account_home.c_str(), 1);
        }
    }
    if (opts.umask) {
        umask(static_cast<mode_t>(*opts.umask));
    }
    auto limit = [](int resource, rlim_t value) {
        rlimit limit{value, value};
        setrlimit(resource, &limit);
    };
    if (opts.memory_limit > 0) {
        limit(RLIMIT_DATA, static_cast<rlim_t>(opts.memory_limit));
    }
    if (opts.virtual_memory_limit > 0) {
        limit(RLIMIT_AS, static_cast<rlim_t>(opts.virtual_memory_limit));
    }
    if (opts.cpu_time_limit.count() > 0) {
        // Soft limit: SIGXCPU asks for a graceful restart; the hard limit leaves room for it.
        rlimit cpu{static_cast<rlim_t>(opts.cpu_time_limit.count()),
                   static_cast<rlim_t>(opts.cpu_time_limit.count() + 60)};
        setrlimit(RLIMIT_CPU, &cpu);
    }
    if (opts.lang) {
        setenv("LANG", opts.lang->c_str(), 1);
    }
    if (opts.locale) {
        // Every category, as mod_wsgi does (Python then takes LC_CTYPE from LC_ALL).
        setenv("LC_ALL", opts.locale->c_str(), 1);
        if (setlocale(LC_ALL, opts.locale->c_str()) == nullptr) {
            ap_log_error(APLOG_MARK, APLOG_WARNING, 0, g_state.server,
                         "WSGI0171: Daemon process '%s' (pid=%" APR_PID_T_FMT "): locale '%s' "
                         "(locale=) is not installed here; the C locale applies. 'C.UTF-8' "
                         "is always available.",
                         opts.name.c_str(), getpid(), opts.locale->c_str());
        }
    }
}

double epoch_seconds() {
    timespec now{};
    clock_gettime(CLOCK_REALTIME, &now);
    return static_cast<double>(now.tv_sec) + static_cast<double>(now.tv_nsec) / 1e9;
}

// Whether the peer of `fd` is an Apache child (SO_PEERCRED). Logs a refusal.
bool peer_allowed(int fd) {
    ucred peer{};
    socklen_t size = sizeof(peer);
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &peer, &size) != 0 ||
        (peer.uid != g_state.runtime->peer_uid && peer.uid != 0)) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, g_state.server,
                     "WSGI0034: Daemon process '%s' refused a connection from pid %ld uid %ld: "
                     "only Apache's child processes (uid %ld) may send requests.",
                     options().name.c_str(), static_cast<long>(peer.pid),
                     static_cast<long>(peer.uid),
                     static_cast<long>(g_state.runtime->peer_uid));
        return false;
    }
    return true;
}

// Compares without an early exit, so that timing does not reveal the secret.
bool same_secret(const std::string& given, const std::string& expected) {
    if (given.size() != expected.size()) {
        return false;
    }
    unsigned char difference = 0;
    for (std::size_t i = 0; i < given.size(); ++i) {
        difference |= static_cast<unsigned char>(given[i] ^ expected[i]);
    }
    return difference == 0;
}

// What became of one request on a connection.
enum class Served {
    kNothing,  // the Apache child closed its kept connection: no request
    kIdle,     // nothing has arrived on the kept connection (its event was for older bytes)
    kKeep,     // answered; the connection can carry the next request
    kClose,    // answered or refused; close the connection
};

Served serve_request(const DaemonListener::Connection& connection, Millis timeout);

// Serves one request on the connection; a kept connection was checked when it was accepted.
Served serve_connection(const DaemonListener::Connection& connection) {
    if (!connection.kept && !peer_allowed(connection.fd)) {
        return Served::kClose;
    }
    Millis timeout = millis(options().socket_timeout.value_or(
        config::Seconds(apr_time_sec(g_state.server->timeout))));
    return serve_request(connection, timeout);
}

// The server a request's log lines go to: the (virtual) server the Apache child received it
// on, as with mod_wsgi 6.0.1 (its ErrorLog), else the one that defined the group. The index
// is taken only from a child of this process's configuration generation.
server_rec* request_server(const DaemonRequest& request) {
    if (request.server_index < 0 ||
        request.config_generation != static_cast<long>(ap_state_query(AP_SQ_CONFIG_GEN))) {
        return g_state.server;
    }
    server_rec* s = apache::main_server();
    for (int i = 0; s != nullptr && i < request.server_index; ++i) {
        s = s->next;
    }
    return s != nullptr ? s : g_state.server;
}

Served serve_request(const DaemonListener::Connection& connection, Millis timeout) {
    const int fd = connection.fd;
    const bool kept = connection.kept;
    const config::DaemonOptions& opts = options();
    // A new connection gets its receive timeout once; a kept one has it already (only a
    // connection that got it is kept, see the end).
    thread_local std::string read_storage;
    const bool timed = timeout.count() > 0 && (kept || set_receive_timeout(fd, timeout));
    const bool keepable = timed || timeout.count() <= 0;
    FrameReader reader(fd, read_storage, timed);
    // Before the thread waits for more of this request (its pieces, its body), no other
    // thread is to be woken for what arrives on the connection (daemon_listener.hpp).
    reader.before_waiting([&connection] { g_listener.quiet(connection); });
    auto bad_request = [&opts](const std::string& why) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, g_state.server,
                     "WSGI0033: Daemon process '%s' received a bad request from the Apache "
                     "child: %s",
                     opts.name.c_str(), why.c_str());
        return Served::kClose;
    };
    protocol::FrameHeader header{};
    std::string_view payload;
    std::string error;
    // A kept connection's event may be for bytes read by the thread that served it last
    // (daemon_listener.hpp): nothing may have arrived, and waiting would pin this thread.
    IoStatus io = kept ? reader.receive_now() : IoStatus::kOk;
    if (io == IoStatus::kTimeout) {
        return Served::kIdle;
    }
    if (io == IoStatus::kOk) {
        io = reader.next(header, payload, timeout, error);
    }
    if (kept && io == IoStatus::kClosed) {
        return Served::kNothing;
    }
    const double daemon_start = static_cast<double>(apr_time_now()) / 1e6;  // it has arrived
    protocol::RequestFrame frame;
    DaemonRequest request;
    if (io != IoStatus::kOk || header.type != protocol::FrameType::kRequest ||
        !protocol::decode_request(payload, frame, error) ||
        !decode_meta(frame.meta, request, error)) {
        return bad_request(error.empty() ? describe(io, errno) : error);
    }
    t_request_slot->ignore_activity = request.settings.ignore_activity;
    if (!same_secret(request.secret, g_state.runtime->secret)) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, g_state.server,
                     "WSGI0034: Daemon process '%s' refused a request without this server's "
                     "secret (script '%s').",
                     opts.name.c_str(), request.settings.script_filename.c_str());
        return Served::kClose;
    }
    DaemonChannel channel(fd, reader, request, request_server(request), timeout);
    // The connection carries the next request when this one ended cleanly and nothing came
    // past it (the Apache child sends nothing past its answer to a read).
    auto served = [&reader, keepable](const DaemonChannel& ended) {
        return keepable && ended.reusable() && reader.pending() == 0 ? Served::kKeep
                                                                     : Served::kClose;
    };
    if ((header.flags & protocol::kWithBody) != 0) {
        // The first body bytes follow the request (read after decoding it: the request's
        // payload is a view into the reader's buffer, and so is this one).
        protocol::FrameHeader body_header{};
        std::string_view body;
        io = reader.next(body_header, body, timeout, error);
        if (io != IoStatus::kOk || body_header.type != protocol::FrameType::kBodyData) {
            return bad_request(!error.empty()        ? error
                               : io != IoStatus::kOk ? describe(io, errno)
                                                     : "no body data after the request");
        }
        channel.set_early_body(body, (body_header.flags & protocol::kLast) != 0);
    }
    struct Registration {
        explicit Registration(DaemonChannel* channel) {
            std::lock_guard lock(t_request_slot->mutex);
            t_request_slot->channel = channel;
            t_request_slot->abandoned = false;
        }
        ~Registration() {
            std::lock_guard lock(t_request_slot->mutex);
            t_request_slot->channel = nullptr;
        }
    } registration(&channel);
    if (opts.queue_timeout.count() > 0 &&
        epoch_seconds() - request.request_start > opts.queue_timeout.count()) {
        channel.log(APLOG_ERR, "WSGI0125: Request waited longer than queue-timeout for daemon "
                               "process '" + opts.name + "'.");
        channel.send_error(504, "queue-timeout");
        return served(channel);
    }
    std::string group_error;
    python::Interpreter* interpreter = python::interpreters().for_application_group(
        request.settings.application_group, wsgi::kMaxSubInterpreters, group_error);
    if (interpreter == nullptr) {
        channel.log(APLOG_ERR, "WSGI0013: Cannot create the Python interpreter for application "
                               "group '" + request.settings.application_group + "': " +
                                   group_error + ".");
        channel.send_error(500, "interpreter");
        return served(channel);
    }
    int status = 0;
    bool restart = false;
    const bool interruptible = opts.interrupt_timeout.count() > 0;
    if (interruptible) {
        t_request_slot->interpreter = interpreter;
    }
    {
        wsgi::RequestStreamsScope streams(channel);
        python::InterpreterLock lock(*interpreter);
        if (interruptible) {
            t_request_slot->thread_ident = PyThread_get_thread_ident();
            t_request_slot->in_application = true;
        }
        wsgi::ScriptLoad script;
        script.path = request.settings.script_filename;
        script.module_name = request.module_name;
        script.mtime = request.script_mtime;
        script.reloading = request.settings.script_reloading;
        if (script.reloading && wsgi::script_changed(script)) {
            restart = true;
        } else if (Ref environ = wsgi::environ_from_variables(frame.environ)) {
            wsgi::EnvironFacts facts;
            facts.multithread = opts.threads > 1;
            facts.multiprocess = opts.processes > 1 || opts.processes_given;
            facts.https = request.https;
            facts.body_within_content_length = request.body_within_content_length;
            facts.request_start = request.request_start;
            facts.queue_start = request.queue_start;
            facts.daemon_start = daemon_start;
            facts.server_pid = request.server_pid;
            status = wsgi::run_script(*interpreter, script, request.settings, channel,
                                      environ.get(), facts);
        } else {
            PyErr_Clear();
            status = 500;
        }
        if (interruptible) {
            // A RequestTimeout raised too late for this request must not hit the next one.
            t_request_slot->in_application = false;
            PyThreadState_SetAsyncExc(t_request_slot->thread_ident, nullptr);
        }
    }
    channel.flush_deferred();  // the response's last block, now without the GIL
    if (!restart) {
        note_served();
    }
    if (restart) {
        // Other modules may have changed with the script: a fresh process serves it.
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, g_state.server,
                     "WSGI script '%s' changed; restarting daemon process '%s' (pid=%"
                     APR_PID_T_FMT ").",
                     request.settings.script_filename.c_str(), opts.name.c_str(), getpid());
        request_restart("script changed", "script_reload", true);
        channel.send_restart();
        return Served::kClose;
    }
    if (status != 0) {
        channel.send_error(status, "");
    }
    return served(channel);
}

void* request_thread(void* argument) {
    const auto slot = reinterpret_cast<std::intptr_t>(argument);
    t_request_slot = &g_request_slots[slot];
    struct Live {
        Live() { ++g_live_threads; }
        ~Live() { --g_live_threads; }
    } live;
    while (g_state.accepting) {
        std::optional<DaemonListener::Connection> connection = g_listener.next(Millis(250));
        if (!connection) {
            continue;
        }
        ++g_state.active;
        g_request_slots[slot].started = Clock::now().time_since_epoch().count();
        g_request_slots[slot].ignore_activity = false;
        Served served_as = Served::kClose;
        try {
            served_as = serve_connection(*connection);
        } catch (const std::exception& e) {
            ap_log_error(APLOG_MARK, APLOG_ERR, 0, g_state.server,
                         "WSGI0009: Internal error in daemon process '%s': %s",
                         options().name.c_str(), e.what());
        }
        g_request_slots[slot].started = 0;
        // An Apache child closing an idle kept connection is no activity (inactivity-timeout),
        // nor is a request under WSGIIgnoreActivity On.
        if (served_as != Served::kNothing && served_as != Served::kIdle &&
            !g_request_slots[slot].ignore_activity) {
            g_state.last_activity = Clock::now().time_since_epoch().count();
        }
        --g_state.active;
        if (served_as == Served::kNothing || served_as == Served::kIdle) {
            g_listener.release(*connection, served_as == Served::kIdle
                                                ? DaemonListener::After::kKeep
                                                : DaemonListener::After::kClose);
            continue;
        }
        std::int64_t served = ++g_state.requests;
        if (options().maximum_requests > 0 && served >= options().maximum_requests) {
            request_restart("maximum-requests reached", "maximum_requests", true,
                            Drain::kKeepServing);
        }
        // After request_restart: a process that stops accepting hands the connection back; one
        // that goes on serving (Drain::kKeepServing) keeps it.
        g_listener.release(*connection, served_as == Served::kKeep
                                            ? DaemonListener::After::kKeep
                                            : DaemonListener::After::kClose);
    }
    return nullptr;
}

// The listener could not accept a waiting connection (out of descriptors or memory); it tries
// again after DaemonListener::kAcceptRetry. Logged once a minute at most: every idle thread
// meets it ten times a second while it lasts.
void log_accept_error(int error) {
    static std::atomic<std::int64_t> last_logged{-1};
    std::int64_t now = std::chrono::duration_cast<std::chrono::minutes>(
                           std::chrono::steady_clock::now().time_since_epoch())
                           .count();
    if (last_logged.exchange(now) == now) {
        return;
    }
    ap_log_error(APLOG_MARK, APLOG_ERR, 0, g_state.server,
                 "WSGI0035: Daemon process '%s' cannot accept connections: %s; requests wait "
                 "in the listening socket's backlog (listen-backlog) until it can.",
                 options().name.c_str(), std::strerror(error));
}

std::vector<pthread_t> start_threads(int count) {
    pthread_attr_t attributes;
    pthread_attr_init(&attributes);
    if (options().stack_size > 0) {
        pthread_attr_setstacksize(&attributes, static_cast<std::size_t>(options().stack_size));
    }
    g_thread_count = count;
    std::string error;
    g_listener.on_accept_error(log_accept_error);
    g_listener.set_buffer_sizes(static_cast<int>(options().send_buffer_size),
                                static_cast<int>(options().receive_buffer_size));
    if (!g_listener.open(g_state.runtime->listen_fd, count,
                         options().processes > 1, error)) {
        fail(error);
    }
    g_request_slots = std::make_unique<RequestSlot[]>(static_cast<std::size_t>(count));
    std::vector<pthread_t> threads;
    bool default_stack = options().stack_size <= 0;
    for (int i = 0; i < count; ++i) {
        void* slot = reinterpret_cast<void*>(static_cast<std::intptr_t>(i));
        pthread_t thread;
        int created = pthread_create(&thread, &attributes, request_thread, slot);
        if (created != 0 && !default_stack) {
            // stack-size= more than the process may map (RLIMIT_AS, memory): the system's
            // default stack then, rather than a process without request threads.
            ap_log_error(APLOG_MARK, APLOG_WARNING, created, g_state.server,
                         "WSGI0172: Daemon process '%s' (pid=%" APR_PID_T_FMT "): no thread "
                         "with a stack of %" APR_INT64_T_FMT " bytes (stack-size=); using the "
                         "default size.",
                         options().name.c_str(), getpid(),
                         static_cast<apr_int64_t>(options().stack_size));
            pthread_attr_destroy(&attributes);
            pthread_attr_init(&attributes);
            default_stack = true;
            created = pthread_create(&thread, &attributes, request_thread, slot);
        }
        if (created == 0) {
            threads.push_back(thread);
        } else {
            ap_log_error(APLOG_MARK, APLOG_ERR, created, g_state.server,
                         "WSGI0172: Daemon process '%s' (pid=%" APR_PID_T_FMT "): request "
                         "thread %d could not be started.",
                         options().name.c_str(), getpid(), i);
        }
    }
    pthread_attr_destroy(&attributes);
    if (threads.empty()) {
        fail("no request thread could be started");
    }
    return threads;
}

// request-timeout (mod_wsgi docs, WSGIDaemonProcess): a request running longer means a stuck
// thread. Its client gets 504 at once, and the process restarts gracefully: the other
// requests finish (within graceful-timeout) while the stuck threads are left to the exit.
void check_request_timeouts(Clock::time_point now) {
    const config::DaemonOptions& opts = options();
    // The mod_wsgi docs ("Request Pipeline And Timeouts"): the limit grows with the threads,
    // request-timeout * (1 + ln(threads)), since one stuck thread of many costs less.
    const double scale = 1.0 + std::log(static_cast<double>(std::max(g_thread_count, 1)));
    auto limit = ticks(opts.request_timeout * scale);
    for (int i = 0; i < g_thread_count; ++i) {
        RequestSlot& slot = g_request_slots[i];
        Clock::rep began = slot.started.load();
        if (began == 0 || now - Clock::time_point(Clock::duration(began)) <= limit) {
            continue;
        }
        if (opts.interrupt_timeout.count() > 0) {
            if (slot.interrupted != began) {
                // First raise mod_wsgi.RequestTimeout in the request; the process restarts
                // only if it has not unwound within interrupt-timeout.
                slot.interrupted = began;
                slot.interrupt_deadline = now + ticks(opts.interrupt_timeout);
                ap_log_error(APLOG_MARK, APLOG_WARNING, 0, g_state.server,
                             "WSGI0126: Daemon process '%s' (pid=%" APR_PID_T_FMT "): a request "
                             "ran longer than %.1f s (request-timeout %.0f s, %d threads); "
                             "raising mod_wsgi.RequestTimeout in it (interrupt-timeout %.0f s).",
                             opts.name.c_str(), getpid(), opts.request_timeout.count() * scale,
                             opts.request_timeout.count(), g_thread_count,
                             opts.interrupt_timeout.count());
                {
                    std::lock_guard queue(g_interrupt_mutex);
                    g_interrupts.emplace_back(i, began);
                }
                g_interrupt_ready.notify_one();
                continue;
            }
            if (now < slot.interrupt_deadline) {
                continue;
            }
        }
        std::lock_guard lock(slot.mutex);
        if (slot.channel == nullptr || slot.abandoned) {
            continue;
        }
        slot.abandoned = true;
        ++g_abandoned;
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, g_state.server,
                     "WSGI0121: Daemon process '%s' (pid=%" APR_PID_T_FMT "): a request "
                     "ran longer than %.1f s (request-timeout %.0f s, %d threads); answering "
                     "504 and restarting the process.",
                     opts.name.c_str(), getpid(), opts.request_timeout.count() * scale,
                     opts.request_timeout.count(), g_thread_count);
        slot.channel->abandon_with_timeout();
        request_restart("request-timeout reached", "request_timeout", true, Drain::kKeepServing);
    }
}

// mod_wsgi.subscribe_signals() (mod_wsgi 6): SIGHUP and SIGUSR2 are published as
// process_signal on a thread of their own, so that a slow callback holds up neither the
// supervisor's timers nor the stopping of the process.
class SignalDispatcher {
public:
    // Queues `signal_number` for publishing; starts the thread on first use (when it cannot,
    // the signal is dropped with a log line).
    void post(int signal_number) {
        std::lock_guard lock(mutex_);
        if (stopping_) {
            return;
        }
        if (!thread_.joinable()) {
            try {
                thread_ = std::thread([this] { run(); });
            } catch (const std::system_error& e) {
                ap_log_error(APLOG_MARK, APLOG_ERR, 0, g_state.server,
                             "WSGI0027: Daemon process '%s' (pid=%" APR_PID_T_FMT "): no thread "
                             "to publish signal %d to mod_wsgi.subscribe_signals() callbacks: "
                             "%s.",
                             options().name.c_str(), getpid(), signal_number, e.what());
                return;
            }
        }
        pending_.push_back(signal_number);
        changed_.notify_all();
    }

    // Drops what is queued and waits up to `wait` for a callback being run. Returns false if
    // one still runs (the thread is then left to the process exit, and Python must not be
    // finalised under it).
    bool stop(Millis wait) {
        std::unique_lock lock(mutex_);
        stopping_ = true;
        pending_.clear();
        changed_.notify_all();
        if (!thread_.joinable()) {
            return true;
        }
        if (!changed_.wait_for(lock, wait, [this] { return ended_; })) {
            thread_.detach();
            return false;
        }
        lock.unlock();
        thread_.join();
        return true;
    }

private:
    void run() {
        std::unique_lock lock(mutex_);
        while (true) {
            changed_.wait(lock, [this] { return stopping_ || !pending_.empty(); });
            if (stopping_) {
                break;
            }
            int signal_number = pending_.front();
            pending_.pop_front();
            lock.unlock();
            wsgi::publish_process_signal(signal_number);
            lock.lock();
        }
        ended_ = true;
        changed_.notify_all();
    }

    std::mutex mutex_;
    std::condition_variable changed_;
    std::deque<int> pending_;
    bool stopping_ = false;
    bool ended_ = false;
    std::thread thread_;
};

SignalDispatcher g_signal_dispatcher;

// next_signal() for the supervisor and the drain: SIGUSR2, and SIGHUP once the application
// subscribed, go to the subscribe_signals() callbacks and are not returned (0 instead).
int next_process_signal(Millis limit) {
    int signal_number = next_signal(limit);
    if (signal_number == SIGUSR2 || (signal_number == SIGHUP && wsgi::has_signal_subscribers())) {
        g_signal_dispatcher.post(signal_number);
        return 0;
    }
    return signal_number;
}

// Waits for signals and timers until the process should end.
void supervise() {
    const config::DaemonOptions& opts = options();
    const auto started = Clock::now();
    while (!g_state.stopping) {
        switch (next_process_signal(Millis(200))) {
            case SIGINT:
                // From the Apache parent, which is stopping or restarting and waits only a
                // few seconds for its daemon processes.
                request_restart("Apache stopping", "shutdown_signal", false);
                g_state.apache_stopping = true;
                break;
            case SIGHUP:  // unless the application subscribed (next_process_signal())
            case SIGTERM:
                request_restart("shutdown signal", "shutdown_signal", false);
                break;
            case SIGUSR1:
                // With eviction-timeout set, SIGUSR1 is an eviction (mod_wsgi docs).
                g_state.evicted = true;
                request_restart("graceful signal",
                                opts.eviction_timeout.count() > 0 ? "eviction_signal"
                                                                  : "graceful_signal",
                                true, Drain::kKeepServing);
                break;
            case kGenerationEnd:
                // Finish the requests in flight; the new generation takes the others.
                request_restart("Apache graceful restart", "graceful_signal", true);
                break;
            case SIGXCPU:
                request_restart("cpu-time-limit reached", "cpu_time_limit", true);
                break;
            default:
                break;
        }
        auto now = Clock::now();
        if (opts.restart_interval.count() > 0 && now - started >= opts.restart_interval) {
            request_restart("restart-interval reached", "restart_interval", true,
                            Drain::kKeepServing);
        }
        if (opts.deadlock_timeout.count() > 0) {
            Clock::time_point beat{Clock::duration(g_gil_heartbeat.load())};
            if (now - beat > opts.deadlock_timeout) {
                ap_log_error(APLOG_MARK, APLOG_ERR, 0, g_state.server,
                             "WSGI0122: Daemon process '%s' (pid=%" APR_PID_T_FMT "): the "
                             "Python GIL has been held for more than deadlock-timeout (%.0f s); "
                             "restarting the process.",
                             opts.name.c_str(), getpid(), opts.deadlock_timeout.count());
                request_restart("deadlock-timeout reached", "deadlock_timeout", false);
            }
        }
        if (opts.request_timeout.count() > 0) {
            check_request_timeouts(now);
        }
        if (Clock::rep deadline = g_startup_deadline.load();
            deadline > 0 && now.time_since_epoch().count() >= deadline) {
            request_restart("startup-timeout reached without a WSGI script loaded",
                            "startup_timeout", true);
        }
        if (opts.inactivity_timeout.count() > 0 && g_state.active == 0) {
            Clock::time_point last{Clock::duration(g_state.last_activity.load())};
            if (now - std::max(last, started) >= opts.inactivity_timeout) {
                request_restart("inactivity-timeout reached", "inactivity_timeout", true,
                                Drain::kKeepServing);
            }
        }
    }
}

// How long a daemon process may take to end once the Apache parent itself stops (SIGINT):
// it waits little more for its daemon processes before it kills them.
constexpr config::Seconds kApacheStoppingWait{3};

// Waits up to `limit` for requests in flight to finish, taking the signals that still come:
// SIGINT (Apache stopping) cuts the wait to kApacheStoppingWait; SIGTERM or SIGHUP end a
// `graceful` wait. A process that still accepts (Drain::kKeepServing) stops accepting as soon
// as it is idle, or when the wait ends. Returns whether none is left.
bool drain(config::Seconds limit, bool graceful) {
    // Requests abandoned by request-timeout were answered already: do not wait for them.
    auto idle = [] { return g_state.active - g_abandoned <= 0; };
    auto deadline = Clock::now() + ticks(limit);
    while (Clock::now() < deadline) {
        if (g_state.accepting && idle()) {
            stop_accepting();
        }
        // Not accepting: done once every request thread has left its loop (a request taken
        // just before the stop is served first), the stuck ones apart.
        if (!g_state.accepting && g_live_threads - g_abandoned <= 0) {
            break;
        }
        switch (next_process_signal(Millis(20))) {
            case SIGINT:
                g_state.apache_stopping = true;
                stop_accepting();
                deadline = std::min(deadline, Clock::now() + ticks(kApacheStoppingWait));
                break;
            case SIGHUP:  // unless the application subscribed (next_process_signal())
            case SIGTERM:
                if (graceful) {
                    stop_accepting();
                    return g_live_threads == 0;
                }
                break;
            case kGenerationEnd:
                stop_accepting();
                break;
            default:
                break;
        }
        // A request still served while the process drains has its request-timeout too.
        if (options().request_timeout.count() > 0) {
            check_request_timeouts(Clock::now());
        }
    }
    stop_accepting();
    return g_live_threads == 0;
}

}  // namespace

void run_daemon_process(const std::vector<GroupRuntime>& groups, std::size_t index, int number,
                        server_rec* server, int delay_seconds) {
    g_state.runtime = &groups[index];
    g_state.server = server;
    const config::DaemonOptions& opts = options();
    watch_own_exit(static_cast<std::uint64_t>(std::max<std::int64_t>(opts.memory_limit, 0)),
                   static_cast<std::uint64_t>(std::max<std::int64_t>(opts.virtual_memory_limit, 0)));

    // Signals: blocked until take_signals() installs their handler, below.
    sigset_t signals;
    sigemptyset(&signals);
    for (int signal_number : kHandledSignals) {
        sigaddset(&signals, signal_number);
    }
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);
    signal(SIGCHLD, SIG_DFL);
    signal(SIGPIPE, SIG_IGN);

    // Only this group's socket stays open: no HTTP listener, no other group's socket.
    ap_close_listeners();
    for (const GroupRuntime& other : groups) {
        if (&other != g_state.runtime && other.listen_fd >= 0) {
            close(other.listen_fd);
        }
    }
    // Back-off of a crash loop: wait here, with signals blocked, so that Apache stopping
    // still ends this process at once (SIGTERM is taken below).
    if (delay_seconds > 0) {
        timespec wait{delay_seconds, 0};
        int signal_number = sigtimedwait(&signals, nullptr, &wait);
        if (signal_number == SIGTERM || signal_number == SIGINT || signal_number == SIGHUP ||
            signal_number == SIGUSR1) {
            end_daemon_process(0);
        }
    }
    if (!take_signals(signals)) {
        fail("no pipe for signals");
    }
    std::string title = config::daemon_display_name(opts);
    if (!title.empty()) {
        set_title(title);
    }
    set_up_process();
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, server,
                 "Starting daemon process '%s' (pid=%" APR_PID_T_FMT ", number %d) with uid=%ld, "
                 "gid=%ld and threads=%d.",
                 opts.name.c_str(), getpid(), number, static_cast<long>(getuid()),
                 static_cast<long>(getgid()), opts.threads);

    apr_pool_t* pool = nullptr;
    apr_pool_create(&pool, nullptr);
    if (opts.startup_timeout.count() > 0) {
        wsgi::set_load_observer(observe_script_load);
    }
    if (!wsgi::start_python(server, pool, g_state.runtime->group)) {
        fail("Python could not be initialised");
    }
    g_state.last_activity = Clock::now().time_since_epoch().count();
    g_gil_heartbeat = Clock::now().time_since_epoch().count();
    if (opts.deadlock_timeout.count() > 0) {
        pthread_t heartbeat;
        if (pthread_create(&heartbeat, nullptr, gil_heartbeat, nullptr) == 0) {
            pthread_detach(heartbeat);
        }
    }
    std::vector<pthread_t> threads = start_threads(std::max(opts.threads, 1));
    if (opts.interrupt_timeout.count() > 0 && opts.request_timeout.count() > 0) {
        pthread_t thread;
        if (pthread_create(&thread, nullptr, interrupter, nullptr) == 0) {
            pthread_detach(thread);
        }
    }
    supervise();

    bool drained = g_state.graceful ? drain(graceful_window(), true) : false;
    if (!drained) {
        // shutdown-timeout, but when Apache itself stops no more than the parent waits.
        drained = drain(g_state.apache_stopping
                            ? std::min(opts.shutdown_timeout, kApacheStoppingWait)
                            : opts.shutdown_timeout,
                        false);
    }
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, server,
                 "Daemon process '%s' (pid=%" APR_PID_T_FMT ") stopping: %s%s.",
                 opts.name.c_str(), getpid(), g_state.restart_reason,
                 drained ? "" : "; requests still running were cut");
    // A signal callback still running keeps Python from being finalised, as a request does.
    // When Apache stops it kills what is left soon after kApacheStoppingWait: wait little.
    drained = g_signal_dispatcher.stop(Millis(g_state.apache_stopping ? 100 : 1000)) && drained;
    if (drained) {
        for (pthread_t thread : threads) {
            pthread_join(thread, nullptr);
        }
        apr_pool_destroy(pool);  // finalises Python: atexit handlers, shutdown callbacks
    }
    end_daemon_process(0);
}

}  // namespace wsgi::daemon

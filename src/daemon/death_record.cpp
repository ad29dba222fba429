#include "daemon/death_record.hpp"

#include <apr_pools.h>
#include <apr_shm.h>
#include <apr_time.h>
#include <fcntl.h>
#include <httpd.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <iterator>
#include <new>
#include <thread>

namespace wsgi::daemon {
namespace {

// What a daemon process notes of its own end, just before it ends.
struct NoteFields {
    int signal_number = 0;         // 0: an exit with `status`
    int status = 0;
    std::uint64_t used_bytes = 0;   // memory in use at a fatal signal (see watch_own_exit)
    std::uint64_t limit_bytes = 0;  // the limit it is measured against; 0: none
    bool virtual_limit = false;     // limit_bytes is virtual-memory-limit, not memory-limit
};
struct ExitNote {
    std::atomic<pid_t> pid;  // 0: free; claimed with a compare-and-swap
    std::atomic<int> ready;  // 1 once `fields` are written
    NoteFields fields;
};

// One recorded death, for the Apache children.
struct DeathRecord {
    std::atomic<std::uint64_t> sequence;  // even: stable; odd: being written
    std::uint32_t group;
    pid_t pid;
    std::int64_t when_us;
    char how[160];
};

// Lives in anonymous shared memory made by the parent before any fork, for the whole life of
// the server. Lock-free atomics only: it is written from signal handlers.
struct SharedRecords {
    std::atomic<std::uint32_t> next_death;
    DeathRecord deaths[64];
    ExitNote notes[256];
};
static_assert(std::atomic<pid_t>::is_always_lock_free && std::atomic<int>::is_always_lock_free);

SharedRecords* g_shared = nullptr;
constexpr const char* kPoolKey = "wsgi.daemon.death_records";

// Set in a daemon process by watch_own_exit().
pid_t g_own_pid = 0;
std::uint64_t g_memory_limit = 0;
std::uint64_t g_virtual_memory_limit = 0;
struct sigaction g_previous[NSIG];

// Linux numbers signals 1..64 (SIGRTMAX): a larger number from httpd is an exit status.
constexpr int kHighestSignal = 64;

// The note slot for this process: its own if it noted before, else a free one, else one whose
// process is gone (notes the parent never took: a process it killed and reaped itself).
ExitNote* claim_note() noexcept {
    for (ExitNote& note : g_shared->notes) {
        if (note.pid.load() == g_own_pid) {
            return &note;
        }
    }
    for (ExitNote& note : g_shared->notes) {
        pid_t expected = 0;
        if (note.pid.compare_exchange_strong(expected, g_own_pid)) {
            return &note;
        }
    }
    for (ExitNote& note : g_shared->notes) {
        pid_t owner = note.pid.load();
        if (owner != 0 && kill(owner, 0) != 0 && errno == ESRCH &&
            note.pid.compare_exchange_strong(owner, g_own_pid)) {
            return &note;
        }
    }
    return nullptr;
}

void write_note(int signal_number, int status, std::uint64_t used, std::uint64_t limit,
                bool virtual_limit) noexcept {
    if (g_shared == nullptr || g_own_pid == 0 || getpid() != g_own_pid) {
        return;
    }
    ExitNote* note = claim_note();
    if (note == nullptr) {
        return;
    }
    note->ready.store(0);
    note->fields = NoteFields{signal_number, status, used, limit, virtual_limit};
    note->ready.store(1);
}

// Sizes from /proc/self/statm (pages): the whole address space, and data + stack, which is
// what RLIMIT_DATA limits. Async-signal-safe (open, read, close; no allocation).
bool memory_in_use(std::uint64_t& total_bytes, std::uint64_t& data_bytes) noexcept {
    int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return false;
    }
    char text[128];
    ssize_t size = read(fd, text, sizeof(text) - 1);
    close(fd);
    if (size <= 0) {
        return false;
    }
    std::uint64_t fields[6] = {};
    int field = 0;
    for (ssize_t i = 0; i < size && field < 6; ++i) {
        if (text[i] >= '0' && text[i] <= '9') {
            fields[field] = fields[field] * 10 + static_cast<std::uint64_t>(text[i] - '0');
        } else if (text[i] == ' ') {
            ++field;
        }
    }
    if (field < 5) {
        return false;
    }
    auto page = static_cast<std::uint64_t>(sysconf(_SC_PAGESIZE));
    total_bytes = fields[0] * page;
    data_bytes = fields[5] * page;
    return true;
}

// A fatal signal in a daemon process with a memory limit: note the memory in use, then let the
// handler installed before (Apache's core dump handler, or the default action) take the signal
// once this handler returns (it stays blocked until then).
void note_fatal_signal(int signal_number) noexcept {
    int saved_errno = errno;
    std::uint64_t total = 0;
    std::uint64_t data = 0;
    if (memory_in_use(total, data)) {
        // The limit that is closer to being reached.
        bool use_virtual = g_virtual_memory_limit > 0 &&
                           (g_memory_limit == 0 ||
                            total * 1.0 / g_virtual_memory_limit > data * 1.0 / g_memory_limit);
        write_note(signal_number, 0, use_virtual ? total : data,
                   use_virtual ? g_virtual_memory_limit : g_memory_limit, use_virtual);
    } else {
        write_note(signal_number, 0, 0, 0, false);
    }
    sigaction(signal_number, &g_previous[signal_number], nullptr);
    raise(signal_number);
    errno = saved_errno;
}

void note_exit_call(int status, void*) { note_exit(status); }

// "terminated by signal 6 (Aborted)", with the memory in use when the process noted it was
// within 10% of a limit (reaching a limit shows as a failed allocation, then a fault or abort).
std::string describe_signal(int signal_number, const NoteFields* note) {
    char text[160];
    int written = std::snprintf(text, sizeof(text), "terminated by signal %d (%s)",
                                signal_number, strsignal(signal_number));
    if (note != nullptr && note->limit_bytes > 0 &&
        note->used_bytes * 10 >= note->limit_bytes * 9 && written > 0) {
        constexpr std::uint64_t kMiB = 1024 * 1024;
        std::snprintf(text + written, sizeof(text) - static_cast<std::size_t>(written),
                      " at its %s (using %llu of %llu MiB)",
                      note->virtual_limit ? "virtual-memory-limit" : "memory-limit",
                      static_cast<unsigned long long>(note->used_bytes / kMiB),
                      static_cast<unsigned long long>(note->limit_bytes / kMiB));
    }
    return text;
}

// Takes (and frees) the note of `pid`, if it left a complete one.
std::optional<NoteFields> take_note(pid_t pid) {
    std::optional<NoteFields> taken;
    if (g_shared == nullptr) {
        return taken;
    }
    for (ExitNote& note : g_shared->notes) {
        if (note.pid.load() != pid) {
            continue;
        }
        if (note.ready.load() == 1) {
            taken = note.fields;
        }
        note.ready.store(0);
        note.pid.store(0);
    }
    return taken;
}

}  // namespace

bool open_death_records(server_rec* s) {
    apr_pool_t* pool = s->process->pool;
    void* found = nullptr;
    apr_pool_userdata_get(&found, kPoolKey, pool);
    if (found != nullptr) {
        g_shared = static_cast<SharedRecords*>(found);
        return true;
    }
    apr_shm_t* shm = nullptr;
    if (apr_shm_create(&shm, sizeof(SharedRecords), nullptr, pool) != APR_SUCCESS) {
        g_shared = nullptr;
        return false;
    }
    g_shared = new (apr_shm_baseaddr_get(shm)) SharedRecords();
    apr_pool_userdata_set(g_shared, kPoolKey, apr_pool_cleanup_null, pool);
    return true;
}

void watch_own_exit(std::uint64_t memory_limit, std::uint64_t virtual_memory_limit) {
    g_own_pid = getpid();
    g_memory_limit = memory_limit;
    g_virtual_memory_limit = virtual_memory_limit;
    if (g_shared != nullptr) {
        // A note left by an earlier process with this pid (pids are reused) is not ours.
        for (ExitNote& note : g_shared->notes) {
            pid_t mine = g_own_pid;
            if (note.pid.load() == mine) {
                note.ready.store(0);
                note.pid.compare_exchange_strong(mine, 0);
            }
        }
    }
    on_exit(note_exit_call, nullptr);
    if (memory_limit == 0 && virtual_memory_limit == 0) {
        return;  // a signal without a note is a signal: no need to note it
    }
    for (int signal_number : {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT}) {
        struct sigaction action {};
        action.sa_handler = note_fatal_signal;
        sigemptyset(&action.sa_mask);
        action.sa_flags = SA_RESETHAND;
        sigaction(signal_number, &action, &g_previous[signal_number]);
    }
}

void note_exit(int status) noexcept { write_note(0, status & 0xff, 0, 0, false); }

void end_daemon_process(int status) noexcept {
    note_exit(status);
    _exit(status);
}

Ending record_death(std::size_t group_index, pid_t pid, int value) {
    // A note counts only if it says what httpd says: a process that noted an exit and was then
    // killed ended by the signal.
    std::optional<NoteFields> note = take_note(pid);
    bool noted_exit = note && note->signal_number == 0 && note->status == value;
    bool noted_signal = note && note->signal_number != 0 && note->signal_number == value;
    Ending ending;
    ending.code = value;
    if (value < 0) {
        ending.how = "ended (its exit status was not reported)";
    } else if (noted_exit || (!noted_signal && (value == 0 || value > kHighestSignal))) {
        ending.exited = true;
        ending.how = "exited with status " + std::to_string(value);
    } else {
        ending.how = describe_signal(value, noted_signal ? &*note : nullptr);
    }
    if (g_shared != nullptr) {
        std::uint32_t index = g_shared->next_death.fetch_add(1) % std::size(g_shared->deaths);
        DeathRecord& record = g_shared->deaths[index];
        std::uint64_t sequence = record.sequence.load();
        record.sequence.store(sequence + 1);
        record.group = static_cast<std::uint32_t>(group_index);
        record.pid = pid;
        record.when_us = apr_time_now();
        std::snprintf(record.how, sizeof(record.how), "%s", ending.how.c_str());
        record.sequence.store(sequence + 2);
    }
    return ending;
}

std::optional<DaemonDeath> recent_death(std::size_t group_index, std::int64_t since,
                                        std::chrono::milliseconds wait) {
    if (g_shared == nullptr) {
        return std::nullopt;
    }
    auto deadline = std::chrono::steady_clock::now() + wait;
    while (true) {
        std::optional<DaemonDeath> found;
        std::int64_t found_when = 0;
        for (const DeathRecord& record : g_shared->deaths) {
            std::uint64_t before = record.sequence.load();
            if (before == 0 || (before & 1) != 0) {
                continue;
            }
            std::uint32_t group = record.group;
            pid_t pid = record.pid;
            std::int64_t when = record.when_us;
            char how[sizeof(record.how)];
            std::memcpy(how, record.how, sizeof(how));
            how[sizeof(how) - 1] = '\0';
            if (record.sequence.load() != before || group != group_index || when < since ||
                when < found_when) {
                continue;
            }
            found = DaemonDeath{pid, how};
            found_when = when;
        }
        if (found || std::chrono::steady_clock::now() >= deadline) {
            return found;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
}

}  // namespace wsgi::daemon

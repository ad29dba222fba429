#pragma once
// Process-wide request accounting behind mod_wsgi.process_metrics() and request_metrics()
// (mod_wsgi docs, "The Internal Metrics API"). One Recorder per process, shared by every
// interpreter: the counters describe the process, not an application group.
//
// The per-request cost is a few relaxed atomics; the locked per-interval accumulation runs
// only once start_recording_metrics() was called. No httpd, no Python: unit-tested.

#include <array>
#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

namespace wsgi::wsgi::metrics {

// Microseconds: instants are since the Unix epoch (as apr_time_t), else durations.
using Micros = std::int64_t;

// The histogram of a phase: 16 octaves from 1 ms to 65536 ms in 4 linear sub-buckets each,
// then one bucket for 65536 ms and more; durations under 1 ms fall into bucket 0.
constexpr int kHistogramBuckets = 65;
int histogram_bucket(Micros duration);

// The observations of one request phase during an interval.
struct Phase {
    std::uint64_t count = 0;
    Micros total = 0;
    Micros min = 0;  // valid when count > 0
    Micros max = 0;
    std::array<std::uint64_t, kHistogramBuckets> buckets{};

    void add(Micros duration);
};

// User and system CPU time.
struct CpuTimes {
    Micros user = 0;
    Micros system = 0;
};

// The calling process's CPU times (getrusage RUSAGE_SELF).
CpuTimes process_cpu_times();
// The calling thread's CPU times (getrusage RUSAGE_THREAD), or nullopt where unsupported.
std::optional<CpuTimes> thread_cpu_times();
// Resident set size now and at its peak, in bytes (0 when unknown).
std::int64_t memory_rss();
std::int64_t memory_max_rss();
// The wall clock, as an instant.
Micros now();

// Adds the wall time of its scope to `total`.
class ScopedTimer {
public:
    explicit ScopedTimer(Micros& total) : total_(total), start_(now()) {}
    ~ScopedTimer() { total_ += now() - start_; }
    ScopedTimer(const ScopedTimer&) = delete;
    ScopedTimer& operator=(const ScopedTimer&) = delete;

private:
    Micros& total_;
    Micros start_;
};

// One thread that serves requests ("worker slot"), numbered from 1 in order of first use.
struct ThreadSlot {
    explicit ThreadSlot(int id) : thread_id(id) {}
    const int thread_id;
    std::atomic<std::uint64_t> request_count{0};
    std::atomic<Micros> current_start{0};  // start of the request in progress, 0 when idle
};

// What the adapter measured for one request, handed over when it ends.
struct RequestRecord {
    Micros request_start = 0;       // Apache read the request line (r->request_time)
    Micros application_start = 0;   // about to call the application
    Micros application_finish = 0;  // response sent and closed
    std::int64_t input_bytes = 0;
    std::int64_t input_reads = 0;
    Micros input_time = 0;
    std::int64_t output_bytes = 0;
    std::int64_t output_writes = 0;
    Micros output_time = 0;
    int status = 0;                // the HTTP status Apache answered with (0: unknown)
    std::optional<Micros> cpu_time;  // the thread's CPU time for the request, when measured
    // Daemon mode: from the Apache child passing the request on to a daemon thread taking it
    // (queue_time), and from then to the response sent (daemon_time). Unset in embedded mode.
    std::optional<Micros> queue_time;
    std::optional<Micros> daemon_time;
    // Waits to take the GIL back where the module gave it away (python/gil.hpp): their total,
    // number, and the shortest and longest single one (valid when gil_wait_count > 0).
    Micros gil_wait_time = 0;
    std::int64_t gil_wait_count = 0;
    Micros gil_wait_shortest = 0;
    Micros gil_wait_longest = 0;
};

// process_metrics(): totals since the process started.
struct ProcessSnapshot {
    Micros restart_time = 0;
    Micros current_time = 0;
    std::uint64_t request_count = 0;
    Micros request_busy_time = 0;
    int request_threads = 0;  // threads that served at least one request
    int active_requests = 0;
    std::vector<std::pair<int, std::uint64_t>> threads;  // (thread_id, request_count)
};

// request_metrics(): one drained interval.
struct IntervalSnapshot {
    Micros start_time = 0;
    Micros stop_time = 0;
    std::uint64_t request_count = 0;
    int threads_maximum = 0;
    int threads_started = 0;
    int threads_active = 0;
    // Per worker slot (index thread_id - 1), threads_maximum entries (more if more threads
    // served requests than the MPM reported).
    std::vector<std::uint64_t> threads_completed;
    std::vector<Micros> threads_busy_time;
    std::vector<Micros> threads_cpu_time;
    std::vector<Micros> threads_current_elapsed;
    std::vector<Micros> threads_max_duration;
    Phase server_time;
    Phase application_time;
    Phase request_time;
    Phase input_read_time;
    Phase output_write_time;
    bool daemon_mode = false;  // queue_time and daemon_time are measured (else None)
    Phase queue_time;
    Phase daemon_time;
    Phase gil_wait_time;  // per request: its waits' total (min and max below are single waits)
    std::uint64_t gil_wait_count = 0;
    std::optional<Micros> gil_wait_shortest;  // the shortest single wait of the interval
    std::optional<Micros> gil_wait_longest;
    std::int64_t input_bytes = 0;
    std::int64_t input_reads = 0;
    std::int64_t output_bytes = 0;
    std::int64_t output_writes = 0;
    std::array<std::uint64_t, 5> status_classes{};  // 1xx..5xx; unknown counts as 5xx
    CpuTimes cpu;  // the process's CPU time used during the interval
};

// The accounting of one process. Thread-safe.
class Recorder {
public:
    explicit Recorder(Micros restart_time = now());
    ~Recorder();
    Recorder(const Recorder&) = delete;
    Recorder& operator=(const Recorder&) = delete;

    // A child process starts: its start time and the MPM's threads per process (a daemon
    // process: its threads=, and `daemon_mode`, which has queue_time and daemon_time).
    void reset(Micros restart_time, int threads_maximum, bool daemon_mode = false);

    // A new worker slot (kept for the life of the process).
    ThreadSlot& new_thread_slot();

    // A request starts on `slot`. Returns the process's request count including this one.
    std::uint64_t request_begun(ThreadSlot& slot, Micros start);
    // The request of `slot` ended at `end`.
    void request_ended(ThreadSlot& slot, const RequestRecord& record, Micros end);

    // start_recording_metrics(): opens the first interval (idempotent). Returns whether
    // recording had been off.
    bool start_recording(Micros at, CpuTimes cpu);
    bool recording() const { return recording_.load(std::memory_order_relaxed); }

    std::uint64_t request_count() const { return request_count_.load(); }
    int active_requests() const { return active_.load(); }

    ProcessSnapshot process_snapshot(Micros at) const;
    // The interval since the previous drain (or since recording started), starting a new
    // one; nullopt when not recording.
    std::optional<IntervalSnapshot> drain(Micros at, CpuTimes cpu);

private:
    struct Interval;
    void accumulate(ThreadSlot& slot, const RequestRecord& record, Micros begun, Micros end);

    std::atomic<Micros> restart_time_;
    std::atomic<int> threads_maximum_{1};
    std::atomic<std::uint64_t> request_count_{0};
    std::atomic<Micros> busy_time_{0};
    std::atomic<int> active_{0};
    std::atomic<bool> recording_{false};
    std::atomic<bool> daemon_mode_{false};

    mutable std::mutex slots_mutex_;
    std::deque<std::unique_ptr<ThreadSlot>> slots_;

    std::mutex interval_mutex_;
    std::unique_ptr<Interval> interval_;  // while recording
};

// The process's recorder.
Recorder& process();

// The calling thread's slot in process(), created on its first request.
ThreadSlot& this_thread_slot();

}  // namespace wsgi::wsgi::metrics

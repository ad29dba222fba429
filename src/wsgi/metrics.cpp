#include "wsgi/metrics.hpp"

#include <sys/resource.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>

namespace wsgi::wsgi::metrics {
namespace {

Micros micros(const timeval& tv) {
    return static_cast<Micros>(tv.tv_sec) * 1000000 + static_cast<Micros>(tv.tv_usec);
}

// The histogram's first octave starts at 1 ms; its last ends at 65536 ms.
constexpr Micros kFirstOctave = 1000;
constexpr Micros kHistogramEnd = kFirstOctave << 16;

}  // namespace

int histogram_bucket(Micros duration) {
    if (duration < kFirstOctave) {
        return 0;
    }
    if (duration >= kHistogramEnd) {
        return kHistogramBuckets - 1;
    }
    int octave = 0;
    Micros base = kFirstOctave;
    while (base * 2 <= duration) {
        base *= 2;
        ++octave;
    }
    return octave * 4 + static_cast<int>((duration - base) * 4 / base);
}

void Phase::add(Micros duration) {
    duration = std::max<Micros>(duration, 0);
    if (count == 0) {
        min = max = duration;
    } else {
        min = std::min(min, duration);
        max = std::max(max, duration);
    }
    ++count;
    total += duration;
    ++buckets[static_cast<std::size_t>(histogram_bucket(duration))];
}

CpuTimes process_cpu_times() {
    rusage usage{};
    if (getrusage(RUSAGE_SELF, &usage) != 0) {
        return {};
    }
    return {micros(usage.ru_utime), micros(usage.ru_stime)};
}

std::optional<CpuTimes> thread_cpu_times() {
#ifdef RUSAGE_THREAD
    rusage usage{};
    if (getrusage(RUSAGE_THREAD, &usage) == 0) {
        return CpuTimes{micros(usage.ru_utime), micros(usage.ru_stime)};
    }
#endif
    return std::nullopt;
}

std::int64_t memory_rss() {
    // The second field of /proc/self/statm is the resident set, in pages.
    std::ifstream statm("/proc/self/statm");
    std::int64_t size = 0;
    std::int64_t resident = 0;
    if (!(statm >> size >> resident)) {
        return 0;
    }
    return resident * static_cast<std::int64_t>(sysconf(_SC_PAGESIZE));
}

std::int64_t memory_max_rss() {
    rusage usage{};
    if (getrusage(RUSAGE_SELF, &usage) != 0) {
        return 0;
    }
    return static_cast<std::int64_t>(usage.ru_maxrss) * 1024;  // Linux reports kilobytes
}

Micros now() {
    return std::chrono::duration_cast<std::chrono::microseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

struct Recorder::Interval {
    Micros start = 0;
    CpuTimes cpu_base;
    std::uint64_t request_count = 0;
    Phase server_time;
    Phase application_time;
    Phase request_time;
    Phase input_read_time;
    Phase output_write_time;
    bool daemon_mode = false;
    Phase queue_time;
    Phase daemon_time;
    Phase gil_wait_time;
    std::uint64_t gil_wait_count = 0;
    std::optional<Micros> gil_wait_shortest;
    std::optional<Micros> gil_wait_longest;
    std::int64_t input_bytes = 0;
    std::int64_t input_reads = 0;
    std::int64_t output_bytes = 0;
    std::int64_t output_writes = 0;
    std::array<std::uint64_t, 5> status_classes{};
    std::vector<std::uint64_t> completed;
    std::vector<Micros> busy;
    std::vector<Micros> cpu;
    std::vector<Micros> max_duration;

    void ensure_slots(std::size_t count) {
        if (completed.size() < count) {
            completed.resize(count, 0);
            busy.resize(count, 0);
            cpu.resize(count, 0);
            max_duration.resize(count, 0);
        }
    }
};

Recorder::Recorder(Micros restart_time) : restart_time_(restart_time) {}

Recorder::~Recorder() = default;

void Recorder::reset(Micros restart_time, int threads_maximum, bool daemon_mode) {
    restart_time_.store(restart_time);
    threads_maximum_.store(std::max(threads_maximum, 1));
    daemon_mode_.store(daemon_mode);
}

ThreadSlot& Recorder::new_thread_slot() {
    std::lock_guard lock(slots_mutex_);
    slots_.push_back(std::make_unique<ThreadSlot>(static_cast<int>(slots_.size()) + 1));
    return *slots_.back();
}

std::uint64_t Recorder::request_begun(ThreadSlot& slot, Micros start) {
    slot.current_start.store(start, std::memory_order_relaxed);
    slot.request_count.fetch_add(1, std::memory_order_relaxed);
    active_.fetch_add(1, std::memory_order_relaxed);
    return request_count_.fetch_add(1, std::memory_order_relaxed) + 1;
}

void Recorder::request_ended(ThreadSlot& slot, const RequestRecord& record, Micros end) {
    Micros begun = slot.current_start.exchange(0, std::memory_order_relaxed);
    busy_time_.fetch_add(std::max<Micros>(end - begun, 0), std::memory_order_relaxed);
    if (recording()) {
        accumulate(slot, record, begun, end);
    }
    active_.fetch_sub(1, std::memory_order_relaxed);
}

void Recorder::accumulate(ThreadSlot& slot, const RequestRecord& record, Micros begun,
                          Micros end) {
    std::lock_guard lock(interval_mutex_);
    if (!interval_) {
        return;
    }
    Interval& interval = *interval_;
    auto index = static_cast<std::size_t>(slot.thread_id - 1);
    interval.ensure_slots(index + 1);
    ++interval.completed[index];
    // Busy time before the interval started was counted by the previous drain.
    interval.busy[index] += std::max<Micros>(end - std::max(begun, interval.start), 0);
    interval.cpu[index] += record.cpu_time.value_or(0);
    interval.max_duration[index] = std::max(interval.max_duration[index], end - begun);
    ++interval.request_count;
    Micros server = end - record.request_start;
    interval.server_time.add(server);
    interval.request_time.add(server);
    interval.application_time.add(record.application_finish - record.application_start);
    interval.input_read_time.add(record.input_time);
    interval.output_write_time.add(record.output_time);
    if (record.queue_time && record.daemon_time) {
        interval.daemon_mode = true;
        interval.queue_time.add(*record.queue_time);
        interval.daemon_time.add(*record.daemon_time);
    }
    interval.gil_wait_time.add(record.gil_wait_time);
    if (record.gil_wait_count > 0) {
        interval.gil_wait_count += static_cast<std::uint64_t>(record.gil_wait_count);
        interval.gil_wait_shortest =
            std::min(interval.gil_wait_shortest.value_or(record.gil_wait_shortest),
                     record.gil_wait_shortest);
        interval.gil_wait_longest =
            std::max(interval.gil_wait_longest.value_or(record.gil_wait_longest),
                     record.gil_wait_longest);
    }
    interval.input_bytes += record.input_bytes;
    interval.input_reads += record.input_reads;
    interval.output_bytes += record.output_bytes;
    interval.output_writes += record.output_writes;
    int status_class = record.status / 100;
    if (status_class < 1 || status_class > 5) {
        status_class = 5;  // never started a response: Apache answered 500
    }
    ++interval.status_classes[static_cast<std::size_t>(status_class - 1)];
}

bool Recorder::start_recording(Micros at, CpuTimes cpu) {
    std::lock_guard lock(interval_mutex_);
    if (interval_) {
        return false;
    }
    interval_ = std::make_unique<Interval>();
    interval_->start = at;
    interval_->cpu_base = cpu;
    recording_.store(true);
    return true;
}

ProcessSnapshot Recorder::process_snapshot(Micros at) const {
    ProcessSnapshot snapshot;
    snapshot.restart_time = restart_time_.load();
    snapshot.current_time = at;
    snapshot.request_count = request_count_.load();
    snapshot.request_busy_time = busy_time_.load();
    snapshot.active_requests = active_.load();
    std::lock_guard lock(slots_mutex_);
    snapshot.request_threads = static_cast<int>(slots_.size());
    for (const auto& slot : slots_) {
        snapshot.threads.emplace_back(slot->thread_id, slot->request_count.load());
    }
    return snapshot;
}

std::optional<IntervalSnapshot> Recorder::drain(Micros at, CpuTimes cpu) {
    std::lock_guard lock(interval_mutex_);
    if (!interval_) {
        return std::nullopt;
    }
    Interval& interval = *interval_;
    IntervalSnapshot snapshot;
    snapshot.start_time = interval.start;
    snapshot.stop_time = std::max(at, interval.start);
    snapshot.request_count = interval.request_count;
    snapshot.threads_maximum = threads_maximum_.load();
    std::vector<Micros> elapsed;
    {
        std::lock_guard slots_lock(slots_mutex_);
        snapshot.threads_started = static_cast<int>(slots_.size());
        auto count = std::max<std::size_t>(static_cast<std::size_t>(snapshot.threads_maximum),
                                           slots_.size());
        interval.ensure_slots(count);
        elapsed.assign(count, 0);
        for (const auto& slot : slots_) {
            auto index = static_cast<std::size_t>(slot->thread_id - 1);
            Micros started = slot->current_start.load(std::memory_order_relaxed);
            if (started != 0) {
                // The in-flight tail belongs to this interval.
                interval.busy[index] += std::max<Micros>(at - std::max(started, interval.start), 0);
                elapsed[index] = std::max<Micros>(at - started, 0);
            }
            if (started != 0 || interval.completed[index] != 0) {
                ++snapshot.threads_active;
            }
        }
    }
    snapshot.threads_completed = interval.completed;
    snapshot.threads_busy_time = interval.busy;
    snapshot.threads_cpu_time = interval.cpu;
    snapshot.threads_current_elapsed = std::move(elapsed);
    snapshot.threads_max_duration = interval.max_duration;
    snapshot.server_time = interval.server_time;
    snapshot.application_time = interval.application_time;
    snapshot.request_time = interval.request_time;
    snapshot.input_read_time = interval.input_read_time;
    snapshot.output_write_time = interval.output_write_time;
    snapshot.daemon_mode = interval.daemon_mode || daemon_mode_;
    snapshot.queue_time = interval.queue_time;
    snapshot.daemon_time = interval.daemon_time;
    snapshot.gil_wait_time = interval.gil_wait_time;
    snapshot.gil_wait_count = interval.gil_wait_count;
    snapshot.gil_wait_shortest = interval.gil_wait_shortest;
    snapshot.gil_wait_longest = interval.gil_wait_longest;
    snapshot.input_bytes = interval.input_bytes;
    snapshot.input_reads = interval.input_reads;
    snapshot.output_bytes = interval.output_bytes;
    snapshot.output_writes = interval.output_writes;
    snapshot.status_classes = interval.status_classes;
    snapshot.cpu = {std::max<Micros>(cpu.user - interval.cpu_base.user, 0),
                    std::max<Micros>(cpu.system - interval.cpu_base.system, 0)};

    auto next = std::make_unique<Interval>();
    next->start = snapshot.stop_time;
    next->cpu_base = cpu;
    interval_ = std::move(next);
    return snapshot;
}

Recorder& process() {
    // Never destroyed: request threads may still report while the process exits.
    static Recorder* recorder = new Recorder();
    return *recorder;
}

ThreadSlot& this_thread_slot() {
    thread_local ThreadSlot* slot = nullptr;
    if (slot == nullptr) {
        slot = &process().new_thread_slot();
    }
    return *slot;
}

}  // namespace wsgi::wsgi::metrics

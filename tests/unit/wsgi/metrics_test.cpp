#include "wsgi/metrics.hpp"

#include <gtest/gtest.h>

namespace wsgi::wsgi::metrics {
namespace {

constexpr Micros kMs = 1000;

TEST(Histogram, Buckets) {
    EXPECT_EQ(histogram_bucket(0), 0);
    EXPECT_EQ(histogram_bucket(999), 0);  // under 1 ms
    EXPECT_EQ(histogram_bucket(1 * kMs), 0);
    EXPECT_EQ(histogram_bucket(1249), 0);
    EXPECT_EQ(histogram_bucket(1250), 1);  // 1 ms octave, second quarter
    EXPECT_EQ(histogram_bucket(1999), 3);
    EXPECT_EQ(histogram_bucket(2 * kMs), 4);
    EXPECT_EQ(histogram_bucket(3 * kMs), 6);
    EXPECT_EQ(histogram_bucket(65536 * kMs - 1), 63);
    EXPECT_EQ(histogram_bucket(65536 * kMs), 64);
    EXPECT_EQ(histogram_bucket(1000000 * kMs), 64);
}

TEST(Phase, MinMaxTotal) {
    Phase phase;
    phase.add(5 * kMs);
    phase.add(2 * kMs);
    phase.add(-1);  // a clock step backwards counts as 0
    EXPECT_EQ(phase.count, 3u);
    EXPECT_EQ(phase.total, 7 * kMs);
    EXPECT_EQ(phase.min, 0);
    EXPECT_EQ(phase.max, 5 * kMs);
    EXPECT_EQ(phase.buckets[0], 1u);
    EXPECT_EQ(phase.buckets[4], 1u);
}

RequestRecord record(Micros start, Micros end, int status) {
    RequestRecord r;
    r.request_start = start;
    r.application_start = start;
    r.application_finish = end;
    r.input_bytes = 10;
    r.input_reads = 2;
    r.output_bytes = 100;
    r.output_writes = 1;
    r.status = status;
    r.cpu_time = 3;
    return r;
}

TEST(Recorder, ProcessTotalsCountFromTheStart) {
    Recorder recorder(1000);
    recorder.reset(1000, 4);
    ThreadSlot& slot = recorder.new_thread_slot();
    EXPECT_EQ(slot.thread_id, 1);
    EXPECT_EQ(recorder.request_begun(slot, 2000), 1u);
    EXPECT_EQ(recorder.active_requests(), 1);
    recorder.request_ended(slot, record(2000, 2500, 200), 2500);
    EXPECT_EQ(recorder.request_begun(slot, 3000), 2u);
    ProcessSnapshot snapshot = recorder.process_snapshot(4000);
    EXPECT_EQ(snapshot.restart_time, 1000);
    EXPECT_EQ(snapshot.request_count, 2u);  // the one in flight included
    EXPECT_EQ(snapshot.active_requests, 1);
    EXPECT_EQ(snapshot.request_busy_time, 500);
    EXPECT_EQ(snapshot.request_threads, 1);
    ASSERT_EQ(snapshot.threads.size(), 1u);
    EXPECT_EQ(snapshot.threads[0], (std::pair<int, std::uint64_t>{1, 2}));
    // Not recording: no interval.
    EXPECT_FALSE(recorder.drain(5000, {}));
}

TEST(Recorder, IntervalsAreDrained) {
    Recorder recorder(0);
    recorder.reset(0, 2);
    ThreadSlot& one = recorder.new_thread_slot();
    ThreadSlot& two = recorder.new_thread_slot();
    EXPECT_TRUE(recorder.start_recording(1000 * kMs, {100, 50}));
    EXPECT_FALSE(recorder.start_recording(1001 * kMs, {}));  // idempotent

    recorder.request_begun(one, 1000 * kMs);
    recorder.request_ended(one, record(999 * kMs, 1002 * kMs, 200), 1002 * kMs);
    recorder.request_begun(one, 1003 * kMs);
    recorder.request_ended(one, record(1003 * kMs, 1004 * kMs, 0), 1004 * kMs);
    recorder.request_begun(two, 1005 * kMs);  // still running at the drain

    auto interval = recorder.drain(1010 * kMs, {1100, 550});
    ASSERT_TRUE(interval);
    EXPECT_EQ(interval->start_time, 1000 * kMs);
    EXPECT_EQ(interval->stop_time, 1010 * kMs);
    EXPECT_EQ(interval->request_count, 2u);
    EXPECT_EQ(interval->threads_maximum, 2);
    EXPECT_EQ(interval->threads_started, 2);
    EXPECT_EQ(interval->threads_active, 2);
    ASSERT_EQ(interval->threads_completed.size(), 2u);
    EXPECT_EQ(interval->threads_completed[0], 2u);
    EXPECT_EQ(interval->threads_completed[1], 0u);
    EXPECT_EQ(interval->threads_busy_time[0], 3 * kMs);
    EXPECT_EQ(interval->threads_busy_time[1], 5 * kMs);  // the in-flight tail
    EXPECT_EQ(interval->threads_current_elapsed[1], 5 * kMs);
    EXPECT_EQ(interval->threads_max_duration[0], 2 * kMs);
    EXPECT_EQ(interval->threads_cpu_time[0], 6);
    EXPECT_EQ(interval->server_time.count, 2u);
    EXPECT_EQ(interval->server_time.max, 3 * kMs);
    EXPECT_EQ(interval->input_bytes, 20);
    EXPECT_EQ(interval->output_writes, 2);
    EXPECT_EQ(interval->status_classes[1], 1u);  // 2xx
    EXPECT_EQ(interval->status_classes[4], 1u);  // no status: 5xx
    EXPECT_EQ(interval->cpu.user, 1000);
    EXPECT_EQ(interval->cpu.system, 500);

    // The next interval starts where this one stopped; the tail is not counted twice.
    recorder.request_ended(two, record(1005 * kMs, 1012 * kMs, 404), 1012 * kMs);
    auto next = recorder.drain(1020 * kMs, {1100, 550});
    ASSERT_TRUE(next);
    EXPECT_EQ(next->start_time, 1010 * kMs);
    EXPECT_EQ(next->request_count, 1u);
    EXPECT_EQ(next->threads_busy_time[1], 2 * kMs);
    EXPECT_EQ(next->threads_max_duration[1], 7 * kMs);
    EXPECT_EQ(next->status_classes[3], 1u);
    EXPECT_EQ(next->threads_active, 1);
}

}  // namespace
}  // namespace wsgi::wsgi::metrics

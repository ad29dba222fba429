#pragma once
// Scoped GIL handling. See interpreter.hpp for attaching a thread to an interpreter.

#include <Python.h>

#include <algorithm>
#include <chrono>
#include <cstdint>

namespace wsgi::python {

// How long the calling thread waited to take the GIL back where this module gave it away
// (GilRelease, InterpreterLock): request_finished's gil_wait_time and gil_wait_count (mod_wsgi
// 6 docs, "Subscribing to Events"). Totals since the thread started; `before_lock_*` are the
// totals just before its latest InterpreterLock, where a request's count begins.
struct GilWaits {
    std::int64_t nanoseconds = 0;
    std::int64_t count = 0;
    std::int64_t before_lock_nanoseconds = 0;
    std::int64_t before_lock_count = 0;
    // The shortest and longest single wait since the latest InterpreterLock (min is
    // INT64_MAX while there was none).
    std::int64_t shortest_nanoseconds = INT64_MAX;
    std::int64_t longest_nanoseconds = 0;
};

// The calling thread's own counters (thread_local: no other thread reads or writes them).
inline GilWaits& this_thread_gil_waits() {
    thread_local GilWaits waits;
    return waits;
}

// PyEval_RestoreThread(state), counted in this_thread_gil_waits(): call without the GIL,
// with `state` the calling thread's; the GIL is held on return.
inline void restore_thread_counted(PyThreadState* state) {
    const auto start = std::chrono::steady_clock::now();
    PyEval_RestoreThread(state);
    GilWaits& waits = this_thread_gil_waits();
    const std::int64_t waited = std::chrono::duration_cast<std::chrono::nanoseconds>(
                                    std::chrono::steady_clock::now() - start)
                                    .count();
    waits.nanoseconds += waited;
    ++waits.count;
    waits.shortest_nanoseconds = std::min(waits.shortest_nanoseconds, waited);
    waits.longest_nanoseconds = std::max(waits.longest_nanoseconds, waited);
}

// Releases the GIL held by the current thread for the scope (Py_BEGIN_ALLOW_THREADS): wrap
// every blocking call (ap_get_brigade, ap_pass_brigade, logging, file and socket I/O) in one
// so that other requests' Python code runs meanwhile. Must be constructed with the GIL held;
// no Python API may be used inside the scope.
class GilRelease {
public:
    GilRelease() : state_(PyEval_SaveThread()) {}
    ~GilRelease() { restore_thread_counted(state_); }
    GilRelease(const GilRelease&) = delete;
    GilRelease& operator=(const GilRelease&) = delete;

private:
    PyThreadState* state_;
};

}  // namespace wsgi::python

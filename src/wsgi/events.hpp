#pragma once
// mod_wsgi's events (mod_wsgi docs, "Subscribing to Events"): request_started,
// response_started, request_finished, request_exception and process_stopping, published to
// the callbacks an interpreter registered with mod_wsgi.subscribe_events() /
// subscribe_shutdown(); the per-request dict of mod_wsgi.request_data(); the
// mod_wsgi.active_requests dict; and the process-wide metrics of each request.
//
// Callbacks are called as callback(name, **payload), in registration order; a returned dict
// is merged into the payload the later callbacks of the same event see. An exception in a
// callback is logged with its traceback (WSGI0030) and never reaches the request. When an
// interpreter has no subscribers a request builds no payload at all.

#include <Python.h>

#include <cstdint>
#include <optional>

#include "python/gil.hpp"
#include "python/ref.hpp"
#include "wsgi/channel.hpp"
#include "wsgi/environ.hpp"
#include "wsgi/metrics.hpp"

namespace wsgi::wsgi {

class WsgiState;

// What the adapter counted for one request, reported when it ends.
struct RequestOutcome {
    int application_status = 0;  // the status given to start_response (0: never called)
    int http_status = 0;         // the status Apache answered with
    std::int64_t input_bytes = 0;
    std::int64_t input_reads = 0;
    metrics::Micros input_time = 0;
    std::int64_t output_bytes = 0;
    std::int64_t output_writes = 0;
    metrics::Micros output_time = 0;
};

// The events, request_data() and metrics of one request, from before the application is
// called until its response was sent. Lives on run_application's stack: construct and use it
// on the request's thread with the GIL held, attached to the application's interpreter.
// `environ` holds the request's string variables (mod_wsgi.request_id is read from it);
// `channel` is where callback errors are logged.
class RequestScope {
public:
    RequestScope(Channel& channel, PyObject* environ, const EnvironFacts& facts);
    ~RequestScope();
    RequestScope(const RequestScope&) = delete;
    RequestScope& operator=(const RequestScope&) = delete;

    // Adds mod_wsgi.queue_start, mod_wsgi.daemon_start and mod_wsgi.application_start (now:
    // call it right before the application), mod_wsgi.thread_id, mod_wsgi.thread_requests and
    // mod_wsgi.total_requests to the environ. Returns false with a Python exception set.
    bool add_environ_keys(PyObject* environ);

    // Publishes request_started just before the application is called, and records the
    // request in active_requests when that dict is in use. Returns the application to call
    // (new reference): `application`, or the replacement a subscriber returned as
    // application_object. Never leaves an exception set.
    python::Ref started(PyObject* environ, PyObject* application);

    // Records the request in the interpreter's `active_requests` dict, just made while the
    // request runs (mod_wsgi.active_requests is made on first use). Returns false with an
    // exception set.
    bool track_now(PyObject* active_requests);

    // Publishes response_started after a successful start_response(`args`, `kwargs`) (the
    // arguments it was called with, borrowed). Never leaves an exception set.
    void response_started(PyObject* args, PyObject* kwargs);

    // Publishes request_exception for the pending exception, which stays pending.
    void exception();

    // Ends the request: its metrics, active_requests, request_finished. Once.
    void finished(const RequestOutcome& outcome);

    // The request's request_data() dict (borrowed), created on first use; nullptr with an
    // exception set when it cannot be created.
    PyObject* request_data();

    // The scope of the request the calling thread serves in the interpreter it is attached
    // to, or nullptr. GIL held.
    static RequestScope* current();

private:
    bool has_subscribers() const;
    python::Ref new_payload(bool with_thread);  // request_id, thread_id, request_data
    python::Ref started_payload(PyObject* application);
    bool track(PyObject* active_requests);
    bool add_timings(PyObject* payload);
    void end_metrics(const RequestOutcome& outcome, metrics::Micros end,
                     const std::optional<metrics::CpuTimes>& cpu_end);

    Channel& channel_;
    WsgiState& state_;
    PyInterpreterState* interpreter_;
    RequestScope* previous_;
    metrics::ThreadSlot& slot_;
    std::uint64_t total_requests_;
    metrics::Micros begun_;
    metrics::Micros request_start_;
    metrics::Micros queue_start_;   // 0 in embedded mode
    long server_pid_;               // the Apache child that received the request
    metrics::Micros daemon_start_;  // 0 in embedded mode
    python::Ref request_id_;  // str, or empty when Apache gave none
    metrics::Micros application_start_ = 0;
    std::optional<metrics::CpuTimes> cpu_start_;
    python::GilWaits gil_start_;  // the thread's GIL waits before the request's interpreter lock
    python::Ref request_data_;
    python::Ref environ_;      // once the application is about to be called
    python::Ref application_;
    python::Ref active_key_;  // key in active_requests, when recorded there
    bool ended_ = false;
};

// Publishes request_exception for the pending Python exception (kept pending) when the
// calling thread serves a request. GIL held.
void publish_request_exception() noexcept;

// Publishes process_stopping with `reason` to the interpreter's subscribe_events and
// subscribe_shutdown callbacks. GIL held, `state`'s interpreter current.
void publish_process_stopping(WsgiState& state, const char* reason) noexcept;

// Publishes process_signal {signame: "SIGHUP", signum: 1} (mod_wsgi 6) for `signal_number`
// to the subscribe_events and subscribe_signals callbacks of every interpreter of the
// process, attaching to each in turn. Call without the GIL, from a thread serving no request
// (the daemon process's signal dispatcher).
void publish_process_signal(int signal_number) noexcept;

// Whether any interpreter of the process called mod_wsgi.subscribe_signals() (never reset:
// callbacks stay until the process ends); note_signal_subscriber() records one, from
// subscribe_signals() with the GIL held. Both any thread, lock-free.
bool has_signal_subscribers() noexcept;
void note_signal_subscriber() noexcept;

// The shutdown_reason process_stopping reports when this process ends, one of the mod_wsgi
// docs' values ("shutdown_signal", "graceful_signal", "maximum_requests", ...); a string
// literal. "shutdown_signal" unless set. Any thread.
void set_shutdown_reason(const char* reason) noexcept;
const char* shutdown_reason() noexcept;

}  // namespace wsgi::wsgi

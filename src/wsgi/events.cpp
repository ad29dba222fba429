#include "wsgi/events.hpp"

#include <httpd.h>
#include <http_log.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <csignal>
#include <string>
#include <utility>

#include "apache/log.hpp"
#include "python/error.hpp"
#include "python/gil.hpp"
#include "python/interpreter.hpp"
#include "python/runtime.hpp"
#include "wsgi/interpreter_setup.hpp"

namespace wsgi::wsgi {
namespace {

using python::GilRelease;
using python::Ref;

thread_local RequestScope* t_scope = nullptr;
std::atomic<const char*> g_shutdown_reason{"shutdown_signal"};
std::atomic<bool> g_signal_subscribers{false};

double seconds(metrics::Micros value) { return static_cast<double>(value) / 1e6; }

// Sets payload[key] = value (a new reference, may be null after a failed call).
bool set_owned(PyObject* payload, const char* key, PyObject* value) {
    Ref held = Ref::steal(value);
    return held && PyDict_SetItemString(payload, key, held.get()) == 0;
}

bool set_borrowed(PyObject* payload, const char* key, PyObject* value) {
    return PyDict_SetItemString(payload, key, value) == 0;
}

bool set_seconds(PyObject* payload, const char* key, metrics::Micros value) {
    return set_owned(payload, key, PyFloat_FromDouble(seconds(value)));
}

bool set_int(PyObject* payload, const char* key, long long value) {
    return set_owned(payload, key, PyLong_FromLongLong(value));
}

// Logs the pending exception of a callback (or of building a payload) with its traceback,
// against the request when there is one.
void log_event_error(Channel* channel, const char* event) {
    auto lines = python::take_exception_lines();
    std::string headline =
        std::string("WSGI0030: Exception occurred within event callback for event '") + event +
        "'.";
    GilRelease release;
    if (channel == nullptr) {
        apache::log_lines(APLOG_ERR, nullptr, nullptr, headline, lines);
        return;
    }
    channel->log(APLOG_ERR, headline);
    for (const auto& line : lines) {
        channel->log(APLOG_ERR, line);
    }
}

bool list_empty(const Ref& list) { return !list || PyList_GET_SIZE(list.get()) == 0; }

// Calls every callback of `callbacks` as callback(name, **payload). GIL held; no exception
// pending on entry or exit.
void dispatch(const Ref& callbacks, const char* name, PyObject* payload, Channel* channel) {
    if (list_empty(callbacks)) {
        return;
    }
    // A copy: a callback may subscribe another one while this event is published.
    Ref snapshot = Ref::steal(PyList_GetSlice(callbacks.get(), 0, PY_SSIZE_T_MAX));
    Ref args = Ref::steal(Py_BuildValue("(s)", name));
    if (!snapshot || !args) {
        log_event_error(channel, name);
        return;
    }
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(snapshot.get()); ++i) {
        PyObject* callback = PyList_GET_ITEM(snapshot.get(), i);
        Ref result = Ref::steal(PyObject_Call(callback, args.get(), payload));
        if (!result) {
            log_event_error(channel, name);
        } else if (PyDict_Check(result.get()) && PyDict_Update(payload, result.get()) != 0) {
            log_event_error(channel, name);
        }
    }
}

}  // namespace

RequestScope::RequestScope(Channel& channel, PyObject* environ, const EnvironFacts& facts)
    : channel_(channel),
      state_(wsgi_state()),
      interpreter_(PyInterpreterState_Get()),
      previous_(t_scope),
      slot_(metrics::this_thread_slot()),
      total_requests_(0),
      begun_(metrics::now()),
      request_start_(std::llround(facts.request_start * 1e6)),
      queue_start_(std::llround(facts.queue_start * 1e6)),
      server_pid_(facts.server_pid),
      daemon_start_(std::llround(facts.daemon_start * 1e6)) {
    total_requests_ = metrics::process().request_begun(slot_, begun_);
    const python::GilWaits& waits = python::this_thread_gil_waits();
    gil_start_.nanoseconds = waits.before_lock_nanoseconds;
    gil_start_.count = waits.before_lock_count;
    t_scope = this;
    PyObject* id = PyDict_GetItemString(environ, "mod_wsgi.request_id");
    if (id != nullptr && PyUnicode_Check(id) && PyUnicode_GET_LENGTH(id) > 0) {
        request_id_ = Ref::borrow(id);
    }
    if (has_subscribers() || metrics::process().recording()) {
        cpu_start_ = metrics::thread_cpu_times();
    }
}

RequestScope::~RequestScope() {
    if (!ended_) {
        RequestOutcome outcome;
        outcome.http_status = HTTP_INTERNAL_SERVER_ERROR;
        end_metrics(outcome, metrics::now(),
                    cpu_start_ ? metrics::thread_cpu_times() : std::nullopt);
    }
    t_scope = previous_;
}

RequestScope* RequestScope::current() {
    RequestScope* scope = t_scope;
    if (scope == nullptr || scope->interpreter_ != PyInterpreterState_Get()) {
        return nullptr;
    }
    return scope;
}

bool RequestScope::has_subscribers() const { return !list_empty(state_.event_callbacks); }

PyObject* RequestScope::request_data() {
    if (!request_data_) {
        request_data_ = Ref::steal(PyDict_New());
    }
    return request_data_.get();
}

bool RequestScope::add_environ_keys(PyObject* environ) {
    // The instants of the request's phases, as mod_wsgi 6 puts them in the environ (floats,
    // seconds since the epoch; queue and daemon 0 in embedded mode): monitoring agents take
    // the queue time from mod_wsgi.queue_start.
    application_start_ = metrics::now();
    return set_seconds(environ, "mod_wsgi.queue_start", queue_start_) &&
           set_seconds(environ, "mod_wsgi.daemon_start", daemon_start_) &&
           set_seconds(environ, "mod_wsgi.application_start", application_start_) &&
           set_int(environ, "mod_wsgi.thread_id", slot_.thread_id) &&
           set_int(environ, "mod_wsgi.thread_requests",
                   static_cast<long long>(slot_.request_count.load())) &&
           set_int(environ, "mod_wsgi.total_requests", static_cast<long long>(total_requests_)) &&
           // Left out when a daemon process was not told (an Apache child of an earlier module).
           (server_pid_ <= 0 ||
            set_owned(environ, "mod_wsgi.server_pid",
                      PyUnicode_FromString(std::to_string(server_pid_).c_str())));
}

Ref RequestScope::new_payload(bool with_thread) {
    Ref payload = Ref::steal(PyDict_New());
    PyObject* data = request_data();
    if (!payload || data == nullptr || !set_borrowed(payload.get(), "request_data", data)) {
        return Ref();
    }
    if (request_id_ && !set_borrowed(payload.get(), "request_id", request_id_.get())) {
        return Ref();
    }
    if (with_thread && !set_int(payload.get(), "thread_id", slot_.thread_id)) {
        return Ref();
    }
    return payload;
}

// The request_started fields request_finished repeats. Embedded mode has no queue or
// daemon phase: their instants are 0, as mod_wsgi reports them.
bool RequestScope::add_timings(PyObject* payload) {
    return set_int(payload, "server_pid", server_pid_) &&
           set_seconds(payload, "request_start", request_start_) &&
           set_seconds(payload, "queue_start", queue_start_) &&
           set_seconds(payload, "daemon_start", daemon_start_) &&
           set_seconds(payload, "application_start", application_start_);
}

Ref RequestScope::started_payload(PyObject* application) {
    Ref payload = new_payload(true);
    bool ok = payload && add_timings(payload.get()) &&
              set_borrowed(payload.get(), "request_environ", environ_.get()) &&
              set_borrowed(payload.get(), "application_object", application) &&
              set_int(payload.get(), "daemon_connects", 0) &&
              set_int(payload.get(), "daemon_restarts", 0);
    return ok ? std::move(payload) : Ref();
}

bool RequestScope::track(PyObject* active_requests) {
    // The value is the request's request_data() dict, as mod_wsgi has it (4.6.0 notes).
    PyObject* data = request_data();
    active_key_ = request_id_ ? request_id_.copy() : Ref::steal(PyLong_FromVoidPtr(this));
    return data != nullptr && active_key_ &&
           PyDict_SetItem(active_requests, active_key_.get(), data) == 0;
}

bool RequestScope::track_now(PyObject* active_requests) {
    if (active_key_ || !environ_ || ended_) {
        return true;  // recorded already, or not (or no longer) running the application
    }
    return track(active_requests);
}

Ref RequestScope::started(PyObject* environ, PyObject* application) {
    if (application_start_ == 0) {
        application_start_ = metrics::now();  // (add_environ_keys() sets it first)
    }
    environ_ = Ref::borrow(environ);
    application_ = Ref::borrow(application);
    const bool publish = has_subscribers();
    const bool track_it = static_cast<bool>(state_.active_requests);
    if (!publish && !track_it) {
        return Ref::borrow(application);
    }
    if (track_it && !track(state_.active_requests.get())) {
        log_event_error(&channel_, "request_started");  // and publish it all the same
    }
    if (!publish) {
        return Ref::borrow(application);
    }
    Ref payload = started_payload(application);
    if (!payload) {
        log_event_error(&channel_, "request_started");
        return Ref::borrow(application);
    }
    dispatch(state_.event_callbacks, "request_started", payload.get(), &channel_);
    PyObject* chosen = PyDict_GetItemString(payload.get(), "application_object");
    return Ref::borrow(chosen != nullptr ? chosen : application);
}

void RequestScope::response_started(PyObject* args, PyObject* kwargs) {
    if (!has_subscribers()) {
        return;
    }
    // start_response() accepted these arguments already.
    static const char* kKeywords[] = {"status", "response_headers", "exc_info", nullptr};
    PyObject* status = nullptr;
    PyObject* headers = nullptr;
    PyObject* exc_info = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OO|O:start_response",
                                     const_cast<char**>(kKeywords), &status, &headers,
                                     &exc_info)) {
        PyErr_Clear();
        return;
    }
    Ref payload = new_payload(false);
    if (!payload || !set_borrowed(payload.get(), "response_status", status) ||
        !set_borrowed(payload.get(), "response_headers", headers) ||
        !set_borrowed(payload.get(), "exception_info", exc_info)) {
        log_event_error(&channel_, "response_started");
        return;
    }
    dispatch(state_.event_callbacks, "response_started", payload.get(), &channel_);
}

void RequestScope::exception() {
    if (!has_subscribers() || !PyErr_Occurred()) {
        return;
    }
    PyObject* type = nullptr;
    PyObject* value = nullptr;
    PyObject* traceback = nullptr;
    PyErr_Fetch(&type, &value, &traceback);
    PyErr_NormalizeException(&type, &value, &traceback);
    if (value != nullptr && traceback != nullptr) {
        PyException_SetTraceback(value, traceback);
    }
    {
        Ref payload = new_payload(true);
        Ref info = Ref::steal(PyTuple_Pack(3, type != nullptr ? type : Py_None,
                                           value != nullptr ? value : Py_None,
                                           traceback != nullptr ? traceback : Py_None));
        if (!payload || !info || !set_borrowed(payload.get(), "exception_info", info.get())) {
            log_event_error(&channel_, "request_exception");
        } else {
            dispatch(state_.event_callbacks, "request_exception", payload.get(), &channel_);
        }
    }
    PyErr_Restore(type, value, traceback);
}

void RequestScope::end_metrics(const RequestOutcome& outcome, metrics::Micros end,
                               const std::optional<metrics::CpuTimes>& cpu_end) {
    ended_ = true;
    metrics::RequestRecord record;
    record.request_start = request_start_;
    record.application_start = application_start_ != 0 ? application_start_ : begun_;
    record.application_finish = end;
    record.input_bytes = outcome.input_bytes;
    record.input_reads = outcome.input_reads;
    record.input_time = outcome.input_time;
    record.output_bytes = outcome.output_bytes;
    record.output_writes = outcome.output_writes;
    record.output_time = outcome.output_time;
    record.status = outcome.http_status;
    if (cpu_start_ && cpu_end) {
        record.cpu_time =
            (cpu_end->user - cpu_start_->user) + (cpu_end->system - cpu_start_->system);
    }
    if (daemon_start_ != 0 && queue_start_ != 0) {
        record.queue_time = std::max<metrics::Micros>(daemon_start_ - queue_start_, 0);
        record.daemon_time = std::max<metrics::Micros>(end - daemon_start_, 0);
    }
    const python::GilWaits& waits = python::this_thread_gil_waits();
    record.gil_wait_count = waits.count - gil_start_.count;
    record.gil_wait_time = (waits.nanoseconds - gil_start_.nanoseconds) / 1000;
    if (record.gil_wait_count > 0 && waits.longest_nanoseconds > 0) {
        record.gil_wait_shortest = waits.shortest_nanoseconds / 1000;
        record.gil_wait_longest = waits.longest_nanoseconds / 1000;
    }
    metrics::process().request_ended(slot_, record, end);
    if (active_key_ && state_.active_requests) {
        if (PyDict_DelItem(state_.active_requests.get(), active_key_.get()) != 0) {
            PyErr_Clear();  // the application removed it itself
        }
    }
}

void RequestScope::finished(const RequestOutcome& outcome) {
    if (ended_) {
        return;
    }
    metrics::Micros finish = metrics::now();
    std::optional<metrics::CpuTimes> cpu_end = cpu_start_ ? metrics::thread_cpu_times()
                                                          : std::nullopt;
    end_metrics(outcome, finish, cpu_end);
    if (!has_subscribers()) {
        return;
    }
    metrics::Micros application_time = std::max<metrics::Micros>(finish - application_start_, 0);
    Ref payload = new_payload(true);
    bool ok = payload && add_timings(payload.get()) &&
              set_seconds(payload.get(), "application_finish", finish) &&
              set_seconds(payload.get(), "application_time", application_time) &&
              set_int(payload.get(), "input_reads", outcome.input_reads) &&
              set_int(payload.get(), "input_length", outcome.input_bytes) &&
              set_seconds(payload.get(), "input_time", outcome.input_time) &&
              set_int(payload.get(), "output_writes", outcome.output_writes) &&
              set_int(payload.get(), "output_length", outcome.output_bytes) &&
              set_seconds(payload.get(), "output_time", outcome.output_time) &&
              set_int(payload.get(), "status", outcome.application_status);
    const python::GilWaits& waits = python::this_thread_gil_waits();
    ok = ok &&
         set_owned(payload.get(), "gil_wait_time",
                   PyFloat_FromDouble(
                       static_cast<double>(waits.nanoseconds - gil_start_.nanoseconds) / 1e9)) &&
         set_int(payload.get(), "gil_wait_count", waits.count - gil_start_.count);
    if (ok && cpu_start_ && cpu_end) {
        double user = seconds(std::max<metrics::Micros>(cpu_end->user - cpu_start_->user, 0));
        double system =
            seconds(std::max<metrics::Micros>(cpu_end->system - cpu_start_->system, 0));
        // Thread CPU time is counted in ticks: never report more than the wall time.
        double wall = seconds(application_time);
        if (user + system > wall && user + system > 0) {
            double scale = wall / (user + system);
            user *= scale;
            system *= scale;
        }
        ok = set_owned(payload.get(), "cpu_user_time", PyFloat_FromDouble(user)) &&
             set_owned(payload.get(), "cpu_system_time", PyFloat_FromDouble(system)) &&
             set_owned(payload.get(), "cpu_time", PyFloat_FromDouble(user + system));
    }
    if (!ok) {
        log_event_error(&channel_, "request_finished");
        return;
    }
    dispatch(state_.event_callbacks, "request_finished", payload.get(), &channel_);
}

void publish_request_exception() noexcept {
    if (RequestScope* scope = RequestScope::current()) {
        scope->exception();
    }
}

void set_shutdown_reason(const char* reason) noexcept { g_shutdown_reason.store(reason); }

const char* shutdown_reason() noexcept { return g_shutdown_reason.load(); }

void publish_process_stopping(WsgiState& state, const char* reason) noexcept {
    if (list_empty(state.event_callbacks) && list_empty(state.shutdown_callbacks)) {
        return;
    }
    Ref payload = Ref::steal(PyDict_New());
    if (!payload || !set_owned(payload.get(), "shutdown_reason", PyUnicode_FromString(reason))) {
        log_event_error(nullptr, "process_stopping");
        return;
    }
    dispatch(state.event_callbacks, "process_stopping", payload.get(), nullptr);
    dispatch(state.shutdown_callbacks, "process_stopping", payload.get(), nullptr);
}

bool has_signal_subscribers() noexcept { return g_signal_subscribers.load(); }

void note_signal_subscriber() noexcept { g_signal_subscribers.store(true); }

void publish_process_signal(int signal_number) noexcept {
    const char* name = signal_number == SIGHUP    ? "SIGHUP"
                       : signal_number == SIGUSR2 ? "SIGUSR2"
                                                  : "SIGUNKNOWN";
    if (!python::is_initialized()) {
        return;
    }
    for (python::Interpreter* interpreter : python::interpreters().all()) {
        python::InterpreterLock lock(*interpreter);
        auto* state = static_cast<WsgiState*>(interpreter->data());
        if (state == nullptr ||
            (list_empty(state->event_callbacks) && list_empty(state->signal_callbacks))) {
            continue;
        }
        Ref payload = Ref::steal(PyDict_New());
        if (!payload || !set_owned(payload.get(), "signame", PyUnicode_FromString(name)) ||
            !set_int(payload.get(), "signum", signal_number)) {
            log_event_error(nullptr, "process_signal");
            continue;
        }
        dispatch(state->event_callbacks, "process_signal", payload.get(), nullptr);
        dispatch(state->signal_callbacks, "process_signal", payload.get(), nullptr);
    }
}

}  // namespace wsgi::wsgi

#include "wsgi/metrics_api.hpp"

#include <ap_mpm.h>
#include <httpd.h>
#include <scoreboard.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <numeric>
#include <string_view>

#include "python/ref.hpp"
#include "wsgi/metrics.hpp"

namespace wsgi::wsgi {
namespace {

using metrics::Micros;
using python::Ref;

double seconds(Micros value) { return static_cast<double>(value) / 1e6; }

// Builds a dict key by key; the first failure makes release() return nullptr with the
// exception set.
class Dict {
public:
    Dict() : dict_(Ref::steal(PyDict_New())), ok_(static_cast<bool>(dict_)) {}

    // Takes a new reference (nullptr after a failed call).
    Dict& set(const char* key, PyObject* value) {
        Ref held = Ref::steal(value);
        if (ok_) {
            ok_ = held && PyDict_SetItemString(dict_.get(), key, held.get()) == 0;
        }
        return *this;
    }
    Dict& integer(const char* key, long long value) { return set(key, PyLong_FromLongLong(value)); }
    Dict& real(const char* key, double value) { return set(key, PyFloat_FromDouble(value)); }
    Dict& time(const char* key, Micros value) { return real(key, seconds(value)); }
    Dict& none(const char* key) { return set(key, Py_NewRef(Py_None)); }

    PyObject* release() { return ok_ ? dict_.release() : nullptr; }

private:
    Ref dict_;
    bool ok_;
};

template <class T, class Convert>
PyObject* to_list(const std::vector<T>& values, Convert convert) {
    Ref list = Ref::steal(PyList_New(static_cast<Py_ssize_t>(values.size())));
    if (!list) {
        return nullptr;
    }
    for (std::size_t i = 0; i < values.size(); ++i) {
        PyObject* item = convert(values[i]);
        if (item == nullptr) {
            return nullptr;
        }
        PyList_SET_ITEM(list.get(), static_cast<Py_ssize_t>(i), item);
    }
    return list.release();
}

PyObject* int_list(const std::vector<std::uint64_t>& values) {
    return to_list(values, [](std::uint64_t v) { return PyLong_FromUnsignedLongLong(v); });
}

PyObject* seconds_list(const std::vector<Micros>& values) {
    return to_list(values, [](Micros v) { return PyFloat_FromDouble(seconds(v)); });
}

PyObject* buckets_list(const metrics::Phase& phase) {
    std::vector<std::uint64_t> values(phase.buckets.begin(), phase.buckets.end());
    return int_list(values);
}

// "<name>" (the mean), "<name>_min_us", "<name>_max_us" and "<name>_buckets".
void add_phase(Dict& dict, const std::string& name, const metrics::Phase& phase,
               std::uint64_t requests) {
    dict.real(name.c_str(),
              requests > 0 ? seconds(phase.total) / static_cast<double>(requests) : 0.0);
    if (phase.count > 0) {
        dict.integer((name + "_min_us").c_str(), phase.min);
        dict.integer((name + "_max_us").c_str(), phase.max);
    } else {
        dict.none((name + "_min_us").c_str()).none((name + "_max_us").c_str());
    }
    dict.set((name + "_buckets").c_str(), buckets_list(phase));
}

// A phase embedded mode does not have (queue_time, daemon_time).
void add_missing_phase(Dict& dict, const std::string& name) {
    dict.none(name.c_str()).none((name + "_min_us").c_str()).none((name + "_max_us").c_str());
    dict.set((name + "_buckets").c_str(), buckets_list(metrics::Phase{}));
}

void add_memory(Dict& dict) {
    dict.integer("memory_rss", metrics::memory_rss())
        .integer("memory_max_rss", metrics::memory_max_rss());
}

// A fixed-size scoreboard string: bounded, and decoded as latin-1 (it is untrusted).
PyObject* scoreboard_string(const char* text, std::size_t size) {
    std::size_t length = strnlen(text, size);
    return PyUnicode_DecodeLatin1(text, static_cast<Py_ssize_t>(length), nullptr);
}

PyObject* worker_dict(int process, int thread) {
    worker_score worker;
    ap_copy_scoreboard_worker(&worker, process, thread);
    // mod_status's letters.
    static constexpr std::string_view kStatus = ".S_RWKLDCGI";
    char status = worker.status < kStatus.size() ? kStatus[worker.status] : '?';
    const char* client = worker.client64[0] != '\0' ? worker.client64 : worker.client;
    std::size_t client_size = worker.client64[0] != '\0' ? sizeof(worker.client64)
                                                         : sizeof(worker.client);
    Dict dict;
    dict.integer("thread_num", worker.thread_num)
        .integer("generation", worker.generation)
        .set("status", PyUnicode_FromStringAndSize(&status, 1))
        .set("access_count", PyLong_FromUnsignedLong(worker.access_count))
        .integer("bytes_served", worker.bytes_served)
        .time("start_time", worker.start_time)
        .time("stop_time", worker.stop_time)
        .time("last_used", worker.last_used)
        .set("client", scoreboard_string(client, client_size))
        .set("request", scoreboard_string(worker.request, sizeof(worker.request)))
        .set("vhost", scoreboard_string(worker.vhost, sizeof(worker.vhost)));
    return dict.release();
}

PyObject* process_dict(int index, int thread_limit) {
    process_score* process = ap_get_scoreboard_process(index);
    Ref workers = Ref::steal(PyList_New(0));
    if (!workers) {
        return nullptr;
    }
    for (int thread = 0; thread < thread_limit; ++thread) {
        Ref worker = Ref::steal(worker_dict(index, thread));
        if (!worker || PyList_Append(workers.get(), worker.get()) != 0) {
            return nullptr;
        }
    }
    Dict dict;
    dict.integer("process_num", index)
        .integer("pid", process->pid)
        .integer("generation", process->generation)
        .set("quiescing", PyBool_FromLong(process->quiescing))
        .set("workers", workers.release());
    return dict.release();
}

}  // namespace

PyObject* process_metrics_dict() {
    metrics::Recorder& recorder = metrics::process();
    if (!recorder.recording()) {
        Py_RETURN_NONE;
    }
    metrics::ProcessSnapshot snapshot = recorder.process_snapshot(metrics::now());
    metrics::CpuTimes cpu = metrics::process_cpu_times();
    Ref threads = Ref::steal(PyList_New(0));
    if (!threads) {
        return nullptr;
    }
    for (const auto& [id, count] : snapshot.threads) {
        Dict thread;
        thread.integer("thread_id", id).set("request_count", PyLong_FromUnsignedLongLong(count));
        Ref item = Ref::steal(thread.release());
        if (!item || PyList_Append(threads.get(), item.get()) != 0) {
            return nullptr;
        }
    }
    Dict dict;
    dict.integer("pid", getpid())
        .time("restart_time", snapshot.restart_time)
        .time("current_time", snapshot.current_time)
        .integer("running_time", (snapshot.current_time - snapshot.restart_time) / 1000000)
        .set("request_count", PyLong_FromUnsignedLongLong(snapshot.request_count))
        .time("request_busy_time", snapshot.request_busy_time)
        .integer("request_threads", snapshot.request_threads)
        .integer("active_requests", snapshot.active_requests)
        .time("cpu_user_time", cpu.user)
        .time("cpu_system_time", cpu.system)
        .time("cpu_time", cpu.user + cpu.system)
        .set("threads", threads.release());
    add_memory(dict);
    return dict.release();
}

PyObject* request_metrics_dict() {
    auto drained = metrics::process().drain(metrics::now(), metrics::process_cpu_times());
    if (!drained) {
        Py_RETURN_NONE;
    }
    const metrics::IntervalSnapshot& s = *drained;
    double period = seconds(s.stop_time - s.start_time);
    double busy = seconds(std::accumulate(s.threads_busy_time.begin(), s.threads_busy_time.end(),
                                          Micros{0}));
    auto rate = [period](double value) { return period > 0 ? value / period : 0.0; };
    double capacity = period > 0 && s.threads_maximum > 0 ? busy / (period * s.threads_maximum)
                                                          : 0.0;
    Dict dict;
    dict.integer("pid", getpid())
        .time("start_time", s.start_time)
        .time("stop_time", s.stop_time)
        .real("sample_period", period)
        .set("request_count", PyLong_FromUnsignedLongLong(s.request_count))
        .real("request_throughput", rate(static_cast<double>(s.request_count)))
        .integer("request_threads_maximum", s.threads_maximum)
        .integer("request_threads_started", s.threads_started)
        .integer("request_threads_active", s.threads_active)
        .real("capacity_utilization", capacity)
        .set("request_threads_completed", int_list(s.threads_completed))
        .set("request_threads_buckets", int_list(s.threads_completed))
        .set("request_threads_busy_time", seconds_list(s.threads_busy_time))
        .set("request_threads_cpu_time", seconds_list(s.threads_cpu_time))
        .set("request_threads_current_elapsed", seconds_list(s.threads_current_elapsed))
        .set("request_threads_max_duration", seconds_list(s.threads_max_duration));
    add_phase(dict, "server_time", s.server_time, s.request_count);
    if (s.daemon_mode) {
        add_phase(dict, "queue_time", s.queue_time, s.request_count);
        add_phase(dict, "daemon_time", s.daemon_time, s.request_count);
    } else {
        add_missing_phase(dict, "queue_time");
        add_missing_phase(dict, "daemon_time");
    }
    add_phase(dict, "application_time", s.application_time, s.request_count);
    add_phase(dict, "request_time", s.request_time, s.request_count);
    add_phase(dict, "input_read_time", s.input_read_time, s.request_count);
    add_phase(dict, "output_write_time", s.output_write_time, s.request_count);
    // GIL contention: the mean per request and its histogram, the number of waits, and the
    // shortest and longest single wait (mod_wsgi docs, "The Internal Metrics API").
    add_phase(dict, "gil_wait_time", s.gil_wait_time, s.request_count);
    if (s.gil_wait_shortest && s.gil_wait_longest) {
        dict.integer("gil_wait_time_min_us", *s.gil_wait_shortest)
            .integer("gil_wait_time_max_us", *s.gil_wait_longest);
    } else {
        dict.none("gil_wait_time_min_us").none("gil_wait_time_max_us");
    }
    dict.set("gil_wait_count", PyLong_FromUnsignedLongLong(s.gil_wait_count));
    dict.integer("input_bytes", s.input_bytes)
        .integer("input_reads", s.input_reads)
        .integer("output_bytes", s.output_bytes)
        .integer("output_writes", s.output_writes);
    for (std::size_t i = 0; i < s.status_classes.size(); ++i) {
        std::string key = "status_" + std::to_string(i + 1) + "xx";
        dict.set(key.c_str(), PyLong_FromUnsignedLongLong(s.status_classes[i]));
    }
    double user = rate(seconds(s.cpu.user));
    double system = rate(seconds(s.cpu.system));
    // cpu_*_time are mod_wsgi's deprecated names for the same rates.
    dict.real("cpu_user_utilization", user)
        .real("cpu_system_utilization", system)
        .real("cpu_utilization", user + system)
        .real("cpu_user_time", user)
        .real("cpu_system_time", system)
        .real("cpu_time", user + system);
    add_memory(dict);
    return dict.release();
}

namespace {
std::atomic<bool> g_server_metrics_allowed{false};
}  // namespace

void allow_server_metrics(bool allowed) { g_server_metrics_allowed = allowed; }

PyObject* server_metrics_dict() {
    if (!g_server_metrics_allowed.load() || !ap_exists_scoreboard_image()) {
        Py_RETURN_NONE;
    }
    global_score* global = ap_get_scoreboard_global();
    int server_limit = 0;
    int thread_limit = 0;
    ap_mpm_query(AP_MPMQ_HARD_LIMIT_DAEMONS, &server_limit);
    ap_mpm_query(AP_MPMQ_HARD_LIMIT_THREADS, &thread_limit);
    Ref processes = Ref::steal(PyList_New(0));
    if (!processes) {
        return nullptr;
    }
    for (int i = 0; i < server_limit; ++i) {
        Ref process = Ref::steal(process_dict(i, thread_limit));
        if (!process || PyList_Append(processes.get(), process.get()) != 0) {
            return nullptr;
        }
    }
    Micros current = metrics::now();
    Dict dict;
    dict.integer("server_limit", server_limit)
        .integer("thread_limit", thread_limit)
        .integer("running_generation", global->running_generation)
        .time("restart_time", global->restart_time)
        .time("current_time", current)
        .integer("running_time", (current - global->restart_time) / 1000000)
        .set("processes", processes.release());
    return dict.release();
}

}  // namespace wsgi::wsgi

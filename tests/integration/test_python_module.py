"""The mod_wsgi Python module, in every interpreter (mod_wsgi docs: "The mod_wsgi Python Module",
"Subscribing to Events", "The Internal Metrics API", WSGIServerMetrics).

Attributes version, process_group ('' in embedded mode), application_group, maximum_processes and
threads_per_process (both from the MPM in embedded mode); subscribe_events() with the
request_started, request_finished and request_exception events (callbacks run in registration
order, a returned dict is merged into the event for later callbacks, subscriptions are per
interpreter); subscribe_shutdown(); request_data(), the per-request dict shared by the
application and the subscribers (RuntimeError outside a request); the metrics functions.
"""

import json
import os
import signal
import uuid

import pytest
import requests

from conftest import wait_for
from group_helpers import get_json, one_process, resource_group

MODULE_CONFIG = """
WSGIScriptAlias /mod-main {apps}/groups/modinfo.wsgi application-group=%{GLOBAL}
WSGIScriptAlias /mod-a {apps}/groups/modinfo.wsgi application-group=mod-a
WSGIScriptAlias /mod-b {apps}/groups/modinfo.wsgi application-group=mod-b
WSGIScriptAlias /mod-res {apps}/groups/modinfo.wsgi
"""

# The harness's MPM settings: threaded MPMs 2 processes of 8 threads, prefork 8 processes.
EXPECTED_LIMITS = {"event": (2, 8), "worker": (2, 8), "prefork": (8, 1)}


@pytest.fixture(scope="module")
def module_server(module_apache, mpm):
    server = module_apache(MODULE_CONFIG, mpm=mpm)
    yield server
    module_apache.release(server)


def test_module_attributes_in_every_interpreter(module_server, mpm):
    server = module_server
    expected_groups = {
        "/mod-main": "",
        "/mod-a": "mod-a",
        "/mod-b": "mod-b",
        "/mod-res": resource_group(server, "/mod-res"),
    }
    processes, threads = EXPECTED_LIMITS[mpm]
    for path, group in expected_groups.items():
        data = get_json(server, path)
        assert data["application_group"] == data["environ_application_group"] == group, path
        assert data["process_group"] == data["environ_process_group"] == "", path
        version = data["version"]
        assert len(version) == 3 and all(isinstance(n, int) for n in version), version
        assert version == data["environ_version"]
        assert (data["maximum_processes"], data["threads_per_process"]) == (processes, threads), path
        assert (data["apache_maximum_processes"], data["apache_threads_per_process"]) == (
            processes,
            threads,
        )
        assert data["apache_version"][:2] == [2, 4]


def test_every_interpreter_has_its_own_module_objects(apache, mpm):
    """Per-interpreter module state and heap types: no object is shared between interpreters."""
    server = apache(MODULE_CONFIG + one_process(mpm))
    samples = {path: [get_json(server, path) for _ in range(3)] for path in ("/mod-main", "/mod-a", "/mod-b")}
    assert len({s["pid"] for runs in samples.values() for s in runs}) == 1
    for attr in ("module_id", "file_wrapper_id"):
        ids = {}
        for path, runs in samples.items():
            assert len({s[attr] for s in runs}) == 1, f"{attr} of {path} changed between requests"
            ids[path] = runs[0][attr]
        assert len(set(ids.values())) == len(ids), f"interpreters share {attr}: {ids}"


# -------------------------------------------------------------------------------------------
# Events and request_data()

EVENTS_CONFIG = """
WSGIScriptAlias /ev {apps}/groups/events.wsgi application-group=events-a
WSGIScriptAlias /ev-main {apps}/groups/events.wsgi application-group=%{GLOBAL}
WSGIScriptAlias /other {apps}/groups/probe.wsgi application-group=events-b
"""

STARTED_KEYS = {
    "request_environ",
    "application_object",
    "request_data",
    "request_start",
    "application_start",
    "thread_id",
    "server_pid",
}
FINISHED_KEYS = {
    "request_data",
    "request_start",
    "application_start",
    "application_finish",
    "application_time",
    "input_reads",
    "input_length",
    "output_writes",
    "output_length",
    "status",
    "gil_wait_time",
    "gil_wait_count",
}
EXCEPTION_KEYS = {"exception_info", "request_data"}


@pytest.fixture(scope="module")
def events_server(module_apache):
    return module_apache(EVENTS_CONFIG + one_process("event"))


def new_token() -> str:
    return uuid.uuid4().hex


def report(server, token: str, prefix: str = "/ev", *, until: str | None = "request_finished"):
    """The events filed under `token`, waiting (bounded) until one named `until` arrived:
    request_finished fires after the response is written, so it may trail the client."""

    def fetch():
        events = get_json(server, f"{prefix}/report?{token}")
        if until is None or any(e["name"] == until for e in events):
            return events
        return None

    events = wait_for(fetch, 5)
    assert events is not None, f"no {until} event for {token}: {get_json(server, f'{prefix}/report?{token}')}"
    return events


def by_name(events, name):
    found = [e for e in events if e["name"] == name]
    assert len(found) == 1, (name, events)
    return found[0]


def test_request_started_and_finished_payloads(events_server):
    server = events_server
    token = new_token()
    r = requests.get(server.url(f"/ev/hello?{token}"), timeout=15)
    assert r.status_code == 200 and r.text == f"hello {token}"
    events = report(server, token)
    names = [e["name"] for e in events]
    assert names.index("request_started") < names.index("request_finished"), names
    started = by_name(events, "request_started")
    assert STARTED_KEYS <= set(started["keys"]), sorted(STARTED_KEYS - set(started["keys"]))
    assert started["is_application"] is True, "application_object is not the script's application"
    assert started["server_pid_is_me"] is True, "server_pid is not this process in embedded mode"
    assert started["start_order"] is True, "request_start is later than application_start"
    assert isinstance(started["thread_id"], int) and started["thread_id"] >= 1
    finished = by_name(events, "request_finished")
    assert FINISHED_KEYS <= set(finished["keys"]), sorted(FINISHED_KEYS - set(finished["keys"]))
    assert finished["status"] == 200
    assert finished["output_length"] == len(r.content)
    assert finished["input_length"] == 0
    assert finished["application_time"] >= 0 and finished["finish_order"] is True
    # At least the request's interpreter lock, and the response's write, took the GIL back.
    assert isinstance(finished["gil_wait_count"], int) and finished["gil_wait_count"] >= 2
    assert isinstance(finished["gil_wait_time"], float)
    assert 0 <= finished["gil_wait_time"] < finished["application_time"] + 1.0
    assert "request_exception" not in names


def test_request_finished_counts_the_request_body(events_server):
    server = events_server
    token = new_token()
    body = b"x" * 12345
    r = requests.post(server.url(f"/ev/post?{token}"), data=body, timeout=15)
    assert r.status_code == 200 and r.text == str(len(body))
    finished = by_name(report(server, token), "request_finished")
    assert finished["input_length"] == len(body)


def test_request_exception_payload(events_server):
    server = events_server
    token = new_token()
    server.expect_log(rf"boom {token}")
    r = requests.get(server.url(f"/ev/boom?{token}"), timeout=15)
    assert r.status_code == 500
    events = report(server, token, until="request_exception")
    names = [e["name"] for e in events]
    assert names.index("request_started") < names.index("request_exception"), names
    exception = by_name(events, "request_exception")
    assert EXCEPTION_KEYS <= set(exception["keys"]), exception["keys"]
    assert exception["exception"] == [3, "ValueError", f"boom {token}"]
    server.wait_log(rf"ValueError: boom {token}")


def test_subscribers_run_in_order_and_returned_dicts_are_merged(events_server):
    server = events_server
    token = new_token()
    assert get_json(server, "/ev/subscribe")["returns_callback"] is True
    r = requests.get(server.url(f"/ev/wrapped?{token}"), timeout=15)
    assert r.status_code == 200
    # The first subscriber replaced application_object: the wrapper ran instead.
    assert r.text == f"wrapped: hello {token}"
    started = by_name(report(server, token), "request_started")
    assert started["first_ran"] is True, "the second subscriber did not see the first one's dict"
    assert started["is_application"] is False


def test_request_data_is_shared_with_subscribers_and_fresh_per_request(events_server):
    server = events_server
    token = new_token()
    data = get_json(server, f"/ev/data?{token}")
    assert data["same_dict"] is True, "request_data() is not the dict the subscribers got"
    assert "token" in data["keys"]
    assert "app" not in data["keys"]
    # The subscriber sees what the application stored.
    assert by_name(report(server, token), "request_finished")["app_wrote"] == "set by the application"
    # A later request starts with a new dict.
    again = get_json(server, f"/ev/data?{new_token()}")
    assert "app" not in again["keys"]


def test_request_data_outside_a_request_raises_runtime_error(events_server):
    assert get_json(events_server, "/ev/outside")["error"] == "RuntimeError"


def test_subscriptions_are_per_interpreter(events_server):
    server = events_server
    token = new_token()
    # events.wsgi subscribed in 'events-a' and in the main interpreter; probe.wsgi runs in
    # 'events-b', where nobody subscribed.
    for path in ("/ev/hello?warm-up", "/ev-main/hello?warm-up"):  # load the script in both
        assert requests.get(server.url(path), timeout=15).status_code == 200
    get_json(server, f"/other/info?{token}")
    assert report(server, token, "/ev", until=None) == []
    assert report(server, token, "/ev-main", until=None) == []
    # The main interpreter's subscribers do not see requests of events-a.
    r = requests.get(server.url(f"/ev/hello?{token}"), timeout=15)
    assert r.status_code == 200
    assert report(server, token, "/ev")
    assert report(server, token, "/ev-main", until=None) == []


# -------------------------------------------------------------------------------------------
# subscribe_shutdown


def test_shutdown_subscribers_run_when_a_child_exits(apache, mpm):
    server = apache(
        """
SetEnv TEST_TMP {tmp}
WSGIScriptAlias /main {apps}/groups/stopping.wsgi application-group=%{GLOBAL}
WSGIScriptAlias /sub {apps}/groups/stopping.wsgi application-group=stop-group
"""
        + one_process(mpm)
    )
    pids = {int(get_json_text(server, path)) for path in ("/main", "/sub")}
    assert len(pids) == 1
    (pid,) = pids
    assert server.stop() == []
    for label in ("global", "stop-group"):
        path = server.tmp / f"stopping-{label}-{pid}"
        assert path.exists(), f"subscribe_shutdown callback of {label} did not run"
        data = json.loads(path.read_text())
        assert data["name"] == "process_stopping"
        assert isinstance(data["payload"].get("shutdown_reason"), str), data
        events = (server.tmp / f"stopping-events-{label}-{pid}").read_text().split()
        assert events == ["process_stopping"], events


@pytest.mark.parametrize(
    "options, trigger, reason",
    [
        ("maximum-requests=2", "requests", "maximum_requests"),
        ("", "SIGUSR1", "graceful_signal"),
        ("", "SIGTERM", "shutdown_signal"),
    ],
    ids=["maximum-requests", "sigusr1", "sigterm"],
)
def test_daemon_process_stopping_says_why(apache, options, trigger, reason):
    # The mod_wsgi docs' shutdown_reason values, in a daemon process.
    server = apache(
        f"""
SetEnv TEST_TMP {{tmp}}
WSGIDaemonProcess stopping threads=2 {options}
WSGIScriptAlias /main {{apps}}/groups/stopping.wsgi process-group=stopping application-group=%{{GLOBAL}}
"""
    )
    pid = int(get_json_text(server, "/main"))
    if trigger == "requests":
        get_json_text(server, "/main")
    else:
        os.kill(pid, getattr(signal, trigger))
    path = server.tmp / f"stopping-global-{pid}"
    assert wait_for(path.exists, 15), f"no process_stopping in daemon process {pid}"
    data = json.loads(path.read_text())
    assert data["payload"]["shutdown_reason"] == reason, data


def get_json_text(server, path: str) -> str:
    r = requests.get(server.url(path), timeout=15)
    assert r.status_code == 200, (r.status_code, r.text[:500])
    return r.text


# -------------------------------------------------------------------------------------------
# Metrics

METRICS_CONFIG = """
WSGIScriptAlias /metrics {apps}/groups/metrics.wsgi
"""
PROCESS_METRICS_KEYS = {
    "pid",
    "restart_time",
    "current_time",
    "running_time",
    "request_count",
    "request_busy_time",
    "request_threads",
    "active_requests",
    "cpu_user_time",
    "cpu_system_time",
    "cpu_time",
    "memory_rss",
    "memory_max_rss",
    "threads",
}
REQUEST_METRICS_KEYS = {
    "pid",
    "start_time",
    "stop_time",
    "sample_period",
    "request_count",
    "request_throughput",
    "request_threads_maximum",
    "request_threads_started",
    "request_threads_active",
    "capacity_utilization",
    "server_time",
    "queue_time",
    "daemon_time",
    "application_time",
    "memory_rss",
    "memory_max_rss",
}


def test_metrics_functions(apache):
    server = apache(METRICS_CONFIG + one_process("event"))
    before = get_json(server, "/metrics/before")
    if before["has_start"]:
        # Documented: None until start_recording_metrics() is called.
        assert before["request_metrics"] is None and before["process_metrics"] is None, before
    get_json(server, "/metrics/after")
    data = get_json(server, "/metrics/after")

    process = data["process_metrics"]
    assert isinstance(process, dict), process
    assert PROCESS_METRICS_KEYS <= set(process), sorted(PROCESS_METRICS_KEYS - set(process))
    pid = process["pid"]
    assert isinstance(pid, int) and pid > 0
    assert process["request_count"] >= 2
    assert process["active_requests"] >= 1, "the request asking is in flight"
    assert process["current_time"] >= process["restart_time"]
    assert process["memory_rss"] > 0
    assert isinstance(process["threads"], list)
    for thread in process["threads"]:
        assert {"thread_id", "request_count"} <= set(thread), thread

    request = data["request_metrics"]
    assert isinstance(request, dict), request
    assert REQUEST_METRICS_KEYS <= set(request), sorted(REQUEST_METRICS_KEYS - set(request))
    assert request["pid"] == pid
    assert request["stop_time"] >= request["start_time"]
    assert request["request_count"] >= 1, "the previous /metrics/after request is not counted"
    # Daemon-mode phases are None in embedded mode.
    assert request["queue_time"] is None and request["daemon_time"] is None

    # WSGIServerMetrics is Off by default: no scoreboard data.
    assert data["server_metrics"] is None

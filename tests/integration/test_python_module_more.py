"""More of the mod_wsgi Python module (mod_wsgi docs: "Subscribing to Events", "The Internal
Metrics API", WSGIServerMetrics): a raising subscriber is logged and harms nobody,
response_started, active_requests, the mod_wsgi.* environ keys, request_metrics() windows and
server_metrics() behind WSGIServerMetrics On.
"""

import uuid

import pytest
import requests

from conftest import wait_for
from group_helpers import get_json, one_process

CONFIG = """
WSGIScriptAlias /more {apps}/groups/events_more.wsgi application-group=more
WSGIDaemonProcess metrics-on threads=1 server-metrics=On
WSGIScriptAlias /metrics-on {apps}/groups/events_more.wsgi process-group=metrics-on
WSGIDaemonProcess metrics-off threads=1
WSGIScriptAlias /metrics-off {apps}/groups/events_more.wsgi process-group=metrics-off
WSGIScriptAlias /loadtime {apps}/groups/loadtime.wsgi
WSGIScriptAlias /loadtime-daemon {apps}/groups/loadtime.wsgi process-group=metrics-off
"""


@pytest.fixture(scope="module")
def server(module_apache):
    return module_apache(CONFIG + "WSGIServerMetrics On\n" + one_process("event"))


def token() -> str:
    return uuid.uuid4().hex


def events(server, tok, until="request_finished"):
    def fetch():
        found = get_json(server, f"/more/report?{tok}")
        return found if any(e["name"] == until for e in found) else None

    found = wait_for(fetch, 5)
    assert found, get_json(server, f"/more/report?{tok}")
    return found


def test_a_raising_subscriber_is_logged_and_the_others_still_run(server):
    tok = token()
    server.expect_log(r"WSGI0030: Exception occurred within event callback for event 'request_started'")
    r = requests.get(server.url(f"/more/hello?{tok}"), timeout=15)
    assert r.status_code == 200 and r.text == f"hello {tok}"
    names = [e["name"] for e in events(server, tok)]
    assert names == ["request_started", "response_started", "request_finished"], names
    server.wait_log(rf"RuntimeError: subscriber failed on purpose {tok}")


def test_response_started_payload(server):
    tok = token()
    server.expect_log(r"WSGI0030")
    requests.get(server.url(f"/more/hello?{tok}"), timeout=15)
    (started,) = [e for e in events(server, tok) if e["name"] == "response_started"]
    assert started["status"] == "200 OK"
    assert started["headers"] == [["Content-Type", "text/plain"], ["X-Token", tok]]
    assert started["exc_info"] is None
    assert started["has_request_id"] is True


def test_request_finished_counts_status_and_body(server):
    tok = token()
    r = requests.post(server.url(f"/more/teapot?{tok}"), data=b"y" * 1000, timeout=15)
    assert r.status_code == 418 and r.content == b"y" * 1000
    found = events(server, tok)
    (finished,) = [e for e in found if e["name"] == "request_finished"]
    assert finished["status"] == 418
    assert finished["input_length"] == 1000 and finished["input_reads"] >= 1
    assert finished["output_writes"] >= 1
    assert finished["has_cpu"] is True
    (started,) = [e for e in found if e["name"] == "request_started"]
    assert started["request_id"] and started["request_id"] == finished["request_id"]


def test_active_requests_holds_the_running_request_only(server):
    for _ in range(2):
        data = get_json(server, f"/more/active?{token()}")
        # The value is the request's request_data() dict (mod_wsgi 4.6.0 notes).
        assert data["found"] is True and data["is_request_data"] is True
        assert data["count"] == 1, "a finished request was left in active_requests"


def test_environ_keys(server):
    first = get_json(server, "/more/environ")
    second = get_json(server, "/more/environ")
    assert first["request_id"] and first["request_id"] != second["request_id"]
    assert isinstance(first["thread_id"], int) and first["thread_id"] >= 1
    assert first["thread_requests"] >= 1
    assert second["total_requests"] > first["total_requests"]
    # mod_wsgi.server_pid: the Apache child that received the request, a string; in embedded
    # mode the process itself.
    assert first["server_pid"] == str(first["pid"])


def test_server_pid_in_daemon_mode_is_the_apache_child(server):
    data = get_json(server, "/metrics-off/environ")
    assert data["server_pid"].isdigit() and int(data["server_pid"]) != data["pid"]
    # An Apache child: the Apache parent's child, as the daemon process is.
    with open(f"/proc/{data['server_pid']}/stat") as f:
        parent = int(f.read().rsplit(")", 1)[1].split()[1])
    assert parent == server.pid


def test_request_metrics_windows(server):
    get_json(server, "/more/metrics")  # starts recording
    for _ in range(3):
        requests.post(server.url(f"/more/teapot?{token()}"), data=b"z" * 10, timeout=15)
    window = get_json(server, "/more/metrics")
    assert window["request_count"] >= 4  # the three teapots and the first /metrics
    assert window["status_4xx"] >= 3
    assert window["input_bytes"] >= 30
    assert sum(window[f"status_{n}xx"] for n in range(1, 6)) == window["request_count"]
    assert len(window["application_time_buckets"]) == 65
    assert len(window["request_threads_completed"]) == window["request_threads_maximum"] == 8
    assert window["queue_time_min_us"] is None and window["daemon_time_buckets"] == [0] * 65
    assert window["sample_period"] > 0 and window["request_throughput"] > 0
    # The next window starts where this one stopped.
    again = get_json(server, "/more/metrics")
    assert again["start_time"] == window["stop_time"]


def test_request_metrics_in_daemon_mode_and_gil_waits(server):
    # Daemon mode measures queue_time (the Apache child passing the request on, to a daemon
    # thread taking it) and daemon_time; every request counts its GIL waits (taking the
    # interpreter at least).
    get_json(server, "/metrics-off/metrics")  # starts recording in the daemon process
    for _ in range(3):
        requests.post(server.url(f"/metrics-off/teapot?{token()}"), data=b"z", timeout=15)
    window = get_json(server, "/metrics-off/metrics")
    assert window["request_count"] >= 3
    for phase in ("queue_time", "daemon_time"):
        assert isinstance(window[phase], float) and window[phase] >= 0, window[phase]
        assert isinstance(window[f"{phase}_min_us"], int), window
        assert window[f"{phase}_min_us"] <= window[f"{phase}_max_us"]
        assert sum(window[f"{phase}_buckets"]) == window["request_count"]
    assert window["gil_wait_count"] >= window["request_count"]
    assert isinstance(window["gil_wait_time"], float) and window["gil_wait_time"] >= 0
    assert 0 <= window["gil_wait_time_min_us"] <= window["gil_wait_time_max_us"]
    assert sum(window["gil_wait_time_buckets"]) == window["request_count"]


def test_server_metrics_with_server_metrics_on(server):
    data = get_json(server, "/more/server")
    assert {"server_limit", "thread_limit", "running_generation", "restart_time", "current_time",
            "running_time"} <= set(data["keys"])
    assert data["mine"] == 1, "this process is not in the scoreboard"
    assert {"thread_num", "status", "access_count", "bytes_served", "client", "request",
            "vhost"} <= set(data["worker_keys"])
    assert "W" in data["statuses"], "no worker is writing this very response"


def test_daemon_processes_follow_their_server_metrics_option(apache):
    # Independent of WSGIServerMetrics (On here): a daemon process group reads the scoreboard
    # only with server-metrics=On, as in mod_wsgi.
    server = apache(CONFIG + "WSGIServerMetrics On\n")
    # Daemon processes forked when Apache first starts come before its scoreboard (anonymous
    # shared memory, inherited only); those forked at a graceful restart see it.
    assert get_json(server, "/metrics-on/server") is None
    server.graceful()
    on = get_json(server, "/metrics-on/server")
    assert on is not None and "server_limit" in on["keys"]
    assert on["mine"] == 0, "a daemon process is not one of Apache's children"
    assert get_json(server, "/metrics-off/server") is None


@pytest.mark.parametrize("path", ["/loadtime", "/loadtime-daemon"])
def test_request_data_works_while_the_script_loads(server, path):
    # The first request imports the script; code at module level may already use
    # request_data(), and it is that request's dict.
    first = get_json(server, path)
    assert first == {"at_import": "request_data", "same_request": True}
    assert get_json(server, path) == {"at_import": "request_data", "same_request": False}


def test_server_metrics_is_main_server_only(config_test):
    rc, output = config_test(
        "<VirtualHost 127.0.0.1:80>\n    WSGIServerMetrics On\n</VirtualHost>\n"
    )
    assert rc != 0 and "WSGIServerMetrics" in output, output

"""Module startup, Python shutdown (atexit), concurrency and graceful restart."""

import re
import threading
import uuid

import requests

from conftest import wait_for

CONFIG = """
SetEnv TEST_TMP {tmp}
WSGIScriptAlias /life {apps}/lifecycle.wsgi
WSGIScriptAlias /threads {apps}/threads.wsgi
WSGIScriptAlias /hello {apps}/hello.wsgi
"""


def test_version_components_in_startup_line(apache, mpm):
    server = apache(CONFIG)
    line = server.wait_log(r"^.*resuming normal operations.*$", expect=False).group(0)
    assert re.search(r"\bmod_wsgi/\d+\.\d+", line), line
    assert re.search(r"\bPython/3\.11\b", line), line


def test_atexit_handlers_run_when_the_server_stops(apache, mpm):
    server = apache(CONFIG)
    pids = set()
    for _ in range(4):
        r = requests.get(server.url("/life/atexit"), timeout=10)
        assert r.status_code == 200
        pids.add(int(r.text))
    assert server.pid not in pids
    assert server.stop() == []
    for pid in pids:
        assert (server.tmp / f"atexit-{pid}").exists(), f"atexit handler of process {pid} did not run"


def test_children_exit_promptly_after_app_used_threading(apache, mpm):
    server = apache(CONFIG)
    pids = set()
    for _ in range(4):
        r = requests.get(server.url("/threads"), timeout=10)
        assert r.status_code == 200
        pid, threads = map(int, r.text.split())
        assert threads >= 2  # the request thread (or main) and the background thread
        pids.add(pid)
    assert server.stop() == []
    # AH00045: the parent had to repeat SIGTERM because a child did not exit.
    assert "AH00045" not in server.error_log(), server.error_log()
    for pid in pids:
        assert (server.tmp / f"threads-atexit-{pid}").exists(), f"Python in process {pid} did not finalise"


def test_slow_request_does_not_block_others(apache, mpm):
    server = apache(CONFIG)
    token = uuid.uuid4().hex
    result = {}

    def slow():
        result["slow"] = requests.get(server.url(f"/life/slow?{token}"), timeout=20).text

    thread = threading.Thread(target=slow)
    thread.start()
    try:
        assert wait_for(lambda: (server.tmp / f"slow-started-{token}").exists(), 10)
        r = requests.get(server.url("/life/fast"), timeout=10)
        assert r.text == "fast"
        assert not (server.tmp / f"slow-finished-{token}").exists(), (
            "the fast request waited for the slow one"
        )
    finally:
        thread.join(30)
    assert result.get("slow") == "slow"


def test_graceful_restart_keeps_serving(apache, mpm):
    server = apache(CONFIG)
    assert requests.get(server.url("/hello"), timeout=10).text == "Hello World!"
    server.graceful()
    assert requests.get(server.url("/hello"), timeout=10).text == "Hello World!"
    server.graceful()
    assert requests.get(server.url("/hello"), timeout=10).text == "Hello World!"

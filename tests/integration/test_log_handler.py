"""mod_wsgi.LogHandler (mod_wsgi 6 release notes): a logging.Handler whose records land in
Apache's error log at the level matching the Python one, so that `LogLevel wsgi:LEVEL`
filters them (the test servers run with `LogLevel warn wsgi:info`: DEBUG is dropped), against
the request the logging thread serves, or without a client when it serves none."""

import re
import uuid

import pytest
import requests

CONFIG = """
WSGIDaemonProcess loghandler threads=2
WSGIScriptAlias /embedded {apps}/log_handler.wsgi
WSGIScriptAlias /daemon {apps}/log_handler.wsgi process-group=loghandler
"""

MODES = ["embedded", "daemon"]


@pytest.fixture(scope="module")
def server(module_apache):
    server = module_apache(CONFIG)
    yield server
    module_apache.release(server)


def call(server, path):
    r = requests.get(server.url(path), timeout=10)
    assert r.status_code == 200, (r.status_code, r.text[:2000])
    return r.text


def log_line(server, text):
    """The error log line holding `text` (waiting for it)."""
    return server.wait_log(rf"^.*{re.escape(text)}.*$").group(0)


@pytest.mark.parametrize("mode", MODES)
def test_levels_map_to_apache_levels(server, mode):
    marker = uuid.uuid4().hex
    server.expect_log(marker)
    server.tolerate_log(f"CRITICAL-{marker}")  # a [wsgi:crit] line, on purpose
    assert call(server, f"/{mode}/levels?{marker}") == "logged"
    expected = {"INFO": "info", "WARNING": "warn", "ERROR": "error", "CRITICAL": "crit"}
    for python_level, apache_level in expected.items():
        line = log_line(server, f"loghandler-test {python_level} {python_level}-{marker}")
        assert f"[wsgi:{apache_level}]" in line, line
        assert "[client 127.0.0.1:" in line, line  # logged against the request
    # Logged in order, before CRITICAL, had LogLevel wsgi:info let it through.
    assert f"DEBUG-{marker}" not in server.error_log()


@pytest.mark.parametrize("mode", MODES)
def test_thread_without_request_logs_without_client(server, mode):
    marker = uuid.uuid4().hex
    server.expect_log(marker)
    call(server, f"/{mode}/thread?{marker}")
    line = log_line(server, f"WARNING thread-{marker}")
    assert "[wsgi:warn]" in line and "[client " not in line, line


@pytest.mark.parametrize("mode", MODES)
def test_exception_traceback_one_entry_per_line(server, mode):
    marker = uuid.uuid4().hex
    server.expect_log(marker)
    server.expect_log(r"Traceback \(most recent call last\)|File \"|raise ValueError")
    call(server, f"/{mode}/exception?{marker}")
    assert "[wsgi:error]" in log_line(server, f"ERROR failed-{marker}")
    line = log_line(server, f"ValueError: raised-{marker}")
    assert "[wsgi:error]" in line and "[client 127.0.0.1:" in line, line


def test_log_handler_is_a_logging_handler(server):
    assert call(server, "/embedded/type") == "True mod_wsgi"

"""wsgi.errors, sys.stdout and sys.stderr end up in Apache's error log."""

import uuid

import pytest
import requests

CONFIG = """
WSGIScriptAlias /log {apps}/logging.wsgi
"""


@pytest.fixture(scope="module")
def server(module_apache, mpm):
    server = module_apache(CONFIG, mpm=mpm)
    yield server
    module_apache.release(server)


@pytest.mark.parametrize("stream", ["ERRORS", "LINES", "STDOUT", "STDERR"])
def test_output_reaches_error_log(server, stream):
    marker = uuid.uuid4().hex
    server.expect_log(marker)
    r = requests.get(server.url(f"/log?{marker}"), timeout=10)
    assert r.status_code == 200 and r.text == "logged"
    server.wait_log(rf"{stream}-{marker}")
    if stream == "LINES":
        server.wait_log(rf"LINES-{marker}-b")


def test_each_message_is_one_log_line(server):
    marker = uuid.uuid4().hex
    server.expect_log(marker)
    requests.get(server.url(f"/log?{marker}"), timeout=10)
    server.wait_log(rf"STDERR-{marker}")
    lines = [line for line in server.error_log().splitlines() if marker in line]
    # One line per message, each carrying Apache's log prefix (no messages glued together).
    assert len(lines) == 5, lines
    assert all(line.startswith("[") and "wsgi:" in line for line in lines), lines

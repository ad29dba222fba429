"""Self-tests of the harness itself; they run without mod_wsgi (load_wsgi=False)."""

import re

import requests

from conftest import log_problems, raw_request, split_response


def test_static_server_starts_and_stops(apache, mpm):
    server = apache("Alias /static {root}/static", load_wsgi=False)
    r = requests.get(server.url("/static/hello.txt"), timeout=10)
    assert r.status_code == 200
    assert r.text == "static hello\n"
    assert requests.get(server.url("/"), timeout=10).text == "index\n"
    status, headers, body = split_response(
        raw_request(server.port, b"GET /static/hello.txt HTTP/1.0\r\nHost: x\r\n\r\n")
    )
    assert status.startswith("HTTP/1.1 200")
    assert body == b"static hello\n"
    assert f"mpm_{mpm}" in server.conf.read_text()
    assert server.stop() == []


def test_log_check_flags_crashes_and_unexpected_wsgi_errors():
    line = "[Sat Nov 22 03:08:{sec:02d}.123456 2026] [{m}:{l}] [pid 7:tid 8] [client 127.0.0.1:5] {msg}"
    crash = (
        "[Sat Nov 22 03:08:00.5 2026] [core:notice] [pid 7] AH00052: child pid 9 exit signal "
        "Segmentation fault (11)"
    )
    assert log_problems(crash, []) == [crash]
    assert log_problems(line.format(sec=0, m="core", l="crit", msg="x"), []) != []
    assert log_problems(line.format(sec=0, m="core", l="error", msg="x"), []) == []
    assert log_problems(line.format(sec=0, m="wsgi", l="info", msg="x"), []) == []
    tb = "\n".join(
        line.format(sec=1, m="wsgi", l="error", msg=m)
        for m in [
            "Exception occurred processing WSGI script '/a.wsgi'.",
            "Traceback (most recent call last):",
            '  File "/a.wsgi", line 1, in <module>',
            "ValueError: boom",
        ]
    )
    assert len(log_problems(tb, [])) == 4
    assert log_problems(tb, [re.compile("boom")]) == []
    # The expected pattern is searched in the message, not in the [client ...] prefix.
    assert len(log_problems(tb, [re.compile("client")])) == 4
    later = line.format(sec=9, m="wsgi", l="error", msg="unrelated")
    assert log_problems(tb + "\n" + later, [re.compile("boom")]) == [later]

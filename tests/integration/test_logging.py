"""wsgi.errors, sys.stdout and sys.stderr end up in Apache's error log."""

import socket
import time
import uuid

import pytest
import requests

CONFIG = """
WSGIDaemonProcess logging threads=2
WSGIScriptAlias /log {apps}/logging.wsgi
WSGIScriptAlias /daemon-log {apps}/logging.wsgi process-group=logging
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


def get_from_port(server, path: str) -> int:
    """GET `path` on a connection of its own; returns the client port the server saw."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
        port = s.getsockname()[1]
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    assert data.startswith(b"HTTP/1.1 200") and data.endswith(b"logged"), data
    return port


@pytest.mark.parametrize("mount", ["/log", "/daemon-log"], ids=["embedded", "daemon"])
@pytest.mark.parametrize("mode, text", [("partial-err", "PARTIAL-ERR"), ("partial-out", "PARTIAL-OUT")])
def test_partial_line_is_logged_with_its_request_when_it_ends(server, mount, mode, text):
    # Once kept in the stream's buffer until some later request wrote a newline, then logged
    # joined to that request's line and against its client.
    first, second = uuid.uuid4().hex, uuid.uuid4().hex
    server.expect_log(f"{first}|{second}")
    first_port = get_from_port(server, f"{mount}/{mode}?{first}")
    second_port = get_from_port(server, f"{mount}/{mode}?{second}")
    server.wait_log(rf"{text}-{first}")
    server.wait_log(rf"{text}-{second}")
    lines = [line for line in server.error_log().splitlines() if first in line or second in line]
    assert len(lines) == 2, lines
    by_marker = {marker: line for marker in (first, second) for line in lines if marker in line}
    assert by_marker[first].endswith(f"{text}-{first}"), by_marker[first]
    assert f"127.0.0.1:{first_port}]" in by_marker[first], by_marker[first]
    assert f"127.0.0.1:{second_port}]" in by_marker[second], by_marker[second]


@pytest.mark.parametrize("mount", ["/log", "/daemon-log"], ids=["embedded", "daemon"])
def test_streams_offer_the_text_stream_interface(server, mount):
    # mod_wsgi hands out io.TextIOWrapper objects; code reused from command line tools calls
    # sys.stdout.reconfigure() and checks isinstance(stream, io.TextIOBase).
    r = requests.get(server.url(f"{mount}/textio"), timeout=10)
    assert r.status_code == 200, r.text
    expected = {"textiobase": True, "newlines": None, "refuses_unknown": True}
    assert r.json() == {"stdout": expected, "stderr": expected, "errors": expected}


@pytest.mark.parametrize("mount", ["/log", "/daemon-log"], ids=["embedded", "daemon"])
def test_sys_stdout_buffer_takes_bytes(server, mount):
    marker = uuid.uuid4().hex
    server.expect_log(marker)
    get_from_port(server, f"{mount}/buffer?{marker}")
    server.wait_log(rf"BUFFER-{marker}")


VHOST_CONFIG = """
WSGIDaemonProcess shared threads=2
<VirtualHost *:*>
    ServerName first.example
    ErrorLog "{root}/logs/first_error_log"
    WSGIScriptAlias /log {apps}/logging.wsgi process-group=shared
</VirtualHost>
<VirtualHost *:*>
    ServerName vhost.example
    ErrorLog "{root}/logs/vhost_error_log"
    WSGIScriptAlias /log {apps}/logging.wsgi process-group=shared
</VirtualHost>
"""


def test_daemon_output_goes_to_the_virtual_hosts_error_log(apache):
    # A group defined at server level serving a virtual host with its own ErrorLog logs the
    # request's output there, as the Apache child would (mod_wsgi 6.0.1; 4.9.4 too).
    server = apache(VHOST_CONFIG)
    marker = uuid.uuid4().hex
    r = requests.get(server.url(f"/log?{marker}"), headers={"Host": "vhost.example"}, timeout=10)
    assert r.status_code == 200 and r.text == "logged"
    vhost_log = server.root / "logs" / "vhost_error_log"
    deadline = time.monotonic() + 5
    while marker not in (vhost_log.read_text() if vhost_log.exists() else ""):
        assert time.monotonic() < deadline, "not in the virtual host's error log"
        time.sleep(0.1)
    assert f"ERRORS-{marker}" in vhost_log.read_text()
    assert marker not in server.error_log(), "also in the main server's error log"
    assert marker not in (server.root / "logs" / "first_error_log").read_text()

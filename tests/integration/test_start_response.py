"""start_response: status and header validation, exc_info, the write() callable (PEP 3333)."""

import pytest
import requests

from conftest import dechunk, header, raw_request, read_streamed, split_response

CONFIG = """
WSGIScriptAlias /sr {apps}/start_response.wsgi
WSGIScriptAlias /hello {apps}/hello.wsgi
WSGIDaemonProcess sr threads=2
WSGIScriptAlias /dsr {apps}/start_response.wsgi process-group=sr
"""


@pytest.fixture(scope="module")
def server(module_apache, mpm):
    server = module_apache(CONFIG, mpm=mpm)
    # Every refused call is re-raised by the app: its traceback runs through start_response.wsgi.
    server.expect_log(r"start_response\.wsgi")
    yield server
    module_apache.release(server)


def raw_get(server, path: str) -> tuple[str, list, bytes, bytes]:
    raw = raw_request(
        server.port, f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode()
    )
    status, headers, body = split_response(raw)
    return status, headers, body, raw


def assert_refused(server, case, prefix="/sr"):
    """The app's start_response call raised, the client got a 500 and nothing leaked."""
    server.expect_log(rf"SR-CASE {case} raised")
    status, headers, body, raw = raw_get(server, f"{prefix}/{case}")
    assert status.split()[1] == "500", status
    assert b"should not be sent" not in raw
    assert b"X-Injected" not in raw
    assert header(headers, "Bad Name") is None
    server.wait_log(rf"SR-CASE {case} raised \w+")


@pytest.mark.parametrize(
    "case",
    ["status-no-space", "status-four-digits", "status-no-code", "status-crlf", "status-not-str",
     "status-100", "status-103", "status-099", "status-600"],
)
def test_bad_status_line(server, case):
    assert_refused(server, case)


@pytest.mark.parametrize("case", ["status-100", "status-099", "content-length-twice"])
def test_refused_in_daemon_mode_too(server, case):
    assert_refused(server, case, prefix="/dsr")


@pytest.mark.parametrize("case", ["name-space", "name-colon", "name-control", "name-bytes"])
def test_bad_header_name(server, case):
    assert_refused(server, case)


@pytest.mark.parametrize("case", ["value-crlf", "value-lf", "value-nul"])
def test_header_value_injection(server, case):
    assert_refused(server, case)


@pytest.mark.parametrize("case", ["value-int", "value-bytes", "value-none", "not-a-tuple", "headers-dict"])
def test_bad_header_types(server, case):
    assert_refused(server, case)


@pytest.mark.parametrize("case", ["content-length-abc", "content-length-negative", "content-length-twice"])
def test_invalid_content_length_is_500(server, case):
    server.expect_log(r"(?i)content.length")
    status, _headers, _body, raw = raw_get(server, f"/sr/{case}")
    assert status.split()[1] == "500", status
    assert b"should not be sent" not in raw


def test_valid_custom_status_and_header(server):
    r = requests.get(server.url("/sr/ok"), timeout=10)
    assert r.status_code == 299
    assert r.reason == "Custom Reason"
    assert r.headers["X-Ok"] == "v \t v"
    assert r.text == "fine"


def test_second_call_without_exc_info(server):
    assert_refused(server, "twice")


def test_exc_info_before_headers_replaces_status_and_headers(server):
    r = requests.get(server.url("/sr/exc-info-before-headers"), timeout=10)
    assert r.status_code == 500
    assert r.reason == "Oops"
    assert r.text == "replaced"
    assert "X-Old" not in r.headers
    assert r.headers["X-New"] == "1"


def test_exc_info_after_headers_reraises_and_truncates(server):
    server.expect_log(r"exc-info-after-headers|ZeroDivisionError|late failure")
    status, headers, body, raw = raw_get(server, "/sr/exc-info-after-headers")
    assert status.split()[1] == "200", status
    assert b"never sent" not in raw
    if (header(headers, "Transfer-Encoding") or "").lower() == "chunked":
        data, complete = dechunk(body)
        assert data == b"first block;"
        assert not complete, "a failed response must not end with a clean last chunk"
    else:
        assert body == b"first block;"
        assert header(headers, "Content-Length") is None
    server.wait_log(r"SR-CASE exc-info-after-headers reraised")
    assert "SR-CASE exc-info-after-headers returned" not in server.error_log()


@pytest.mark.parametrize(
    "case, raised",
    [
        ("exc-info-three-nones", "TypeError"),
        ("exc-info-instance-as-type", "TypeError"),
        ("exc-info-ints", "TypeError"),
        ("exc-info-class-and-message", "ValueError"),
        ("exc-info-bad-traceback", "KeyError"),
    ],
)
def test_odd_exc_info_after_headers_raises_without_crashing(server, case, raised):
    # Each once crashed the Apache child: the tuple's items were made the interpreter's
    # current exception whatever they were.
    status, headers, body, raw = raw_get(server, f"/sr/{case}")
    assert status.split()[1] == "200", status
    data = dechunk(body)[0] if (header(headers, "Transfer-Encoding") or "").lower() == "chunked" else body
    assert data == b"first;after"
    server.wait_log(rf"SR-CASE {case} raised {raised}\b")
    r = requests.get(server.url("/hello"), timeout=10)
    assert r.text == "Hello World!"


def test_write_callable(server):
    r = requests.get(server.url("/sr/write"), timeout=10)
    assert r.status_code == 200
    assert r.content == b"one,two,three"


def test_write_callable_output_is_flushed(server):
    request = b"GET /sr/write-flush HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    early, data, after_first = read_streamed(server.port, request, b"early;")
    assert b"early;" in early
    assert b"late" not in early
    assert b"late" in data
    # The app sleeps 1.5 s between write() and returning: an unflushed write arrives with the rest.
    assert after_first > 0.7


def test_server_still_healthy(server):
    r = requests.get(server.url("/hello"), timeout=10)
    assert r.status_code == 200
    assert r.text == "Hello World!"

"""The response iterable: types, close(), Content-Length handling, HEAD and streaming."""

import socket
import struct
import uuid

import pytest
import requests

from conftest import (dechunk, header, raw_exchange, raw_request, read_streamed, split_response,
                      wait_for)

CONFIG = """
WSGIScriptAlias /resp {apps}/response.wsgi
WSGIScriptAlias /hello {apps}/hello.wsgi
SetEnv CLOSE_LOG {tmp}/close.log
"""


@pytest.fixture(scope="module")
def server(module_apache, mpm):
    server = module_apache(CONFIG, mpm=mpm)
    yield server
    module_apache.release(server)


def request_line(path: str, method: str = "GET", close: bool = True) -> bytes:
    extra = "Connection: close\r\n" if close else ""
    return f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{extra}\r\n".encode()


def close_records(server) -> dict[str, int]:
    try:
        lines = (server.tmp / "close.log").read_text().splitlines()
    except FileNotFoundError:
        return {}
    return {token: int(n) for token, n in (line.split() for line in lines)}


def wait_close_record(server, token: str, timeout: float = 10.0) -> int:
    found = wait_for(lambda: token in close_records(server), timeout)
    assert found, f"close() was not called for request {token}"
    return close_records(server)[token]


def test_str_item_before_headers_is_500(server):
    server.expect_log(r"(?i)str|bytes|TypeError")
    status, _headers, body = split_response(raw_request(server.port, request_line("/resp/str-first")))
    assert status.split()[1] == "500", status
    assert b"a str is not bytes" not in body


def test_none_response_is_500(server):
    server.expect_log(r"(?i)NoneType|None|iterable|TypeError")
    status, _headers, _body = split_response(raw_request(server.port, request_line("/resp/none")))
    assert status.split()[1] == "500", status


def test_str_item_after_first_block_cuts_the_response(server):
    server.expect_log(r"(?i)str|bytes|TypeError")
    status, headers, body = split_response(raw_request(server.port, request_line("/resp/str-after")))
    assert status.split()[1] == "200", status
    assert b"a str is not bytes" not in body
    assert (header(headers, "Transfer-Encoding") or "").lower() == "chunked"
    data, complete = dechunk(body)
    assert data == b"ok;"
    assert not complete, "the client must be able to tell the response is incomplete"


def test_close_called_after_normal_response(server):
    token = uuid.uuid4().hex
    r = requests.get(server.url(f"/resp/close-normal?id={token}"), timeout=10)
    assert r.content == b"abc"
    assert wait_close_record(server, token) == 3


def test_close_called_after_exception_mid_iteration(server):
    server.expect_log(r"RESP-CASE failure|response\.wsgi")
    token = uuid.uuid4().hex
    status, headers, body = split_response(
        raw_request(server.port, request_line(f"/resp/close-raise?id={token}"))
    )
    assert status.split()[1] == "200"
    data, complete = dechunk(body)
    assert data == b"before;"
    assert not complete
    assert wait_close_record(server, token) == 1
    server.wait_log(r"RESP-CASE failure in the middle of the response")


def test_close_raising_is_logged_and_the_response_stays_whole(server):
    # As mod_wsgi does: the response the application produced goes out complete and the
    # connection is kept for the next request; the exception is logged with its traceback.
    server.expect_log(r"RESP-CASE close\(\) failed|response\.wsgi")
    token = uuid.uuid4().hex
    raw, _closed = raw_exchange(
        server.port,
        request_line(f"/resp/close-fails?id={token}", close=False) + request_line("/hello"),
    )
    second_response = raw.index(b"HTTP/1.1", 1)
    status, headers, body = split_response(raw[:second_response])
    assert status.split()[1] == "200", status
    assert (header(headers, "Transfer-Encoding") or "").lower() == "chunked"
    data, complete = dechunk(body)
    assert data == b"ab"
    assert complete, "the last chunk must be sent"
    assert raw[second_response:].startswith(b"HTTP/1.1 200")
    assert raw.endswith(b"Hello World!")
    assert wait_close_record(server, token) == 2
    server.wait_log(r"RESP-CASE close\(\) failed")


def test_close_raising_after_an_empty_body_keeps_the_status(server):
    server.expect_log(r"RESP-CASE close\(\) failed|response\.wsgi")
    token = uuid.uuid4().hex
    status, headers, body = split_response(
        raw_request(server.port, request_line(f"/resp/close-fails-empty?id={token}"))
    )
    assert status.split()[1] == "200", status
    assert header(headers, "Content-Length") == "0"
    assert body == b""
    assert wait_close_record(server, token) == 0


def test_close_called_after_client_disconnect(server):
    # Losing the client is logged by some implementations; tolerate those lines.
    server.expect_log(r"(?i)failed to write|broken pipe|connection reset|abort|disconnect")
    token = uuid.uuid4().hex
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
        s.sendall(request_line(f"/resp/close-disconnect?id={token}"))
        got = s.recv(4096)
        assert got.startswith(b"HTTP/1.1 200")
        # Reset rather than FIN so the server's next write fails at once.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    blocks = wait_close_record(server, token, timeout=15)
    assert blocks < 1000, "iteration should stop once the client is gone"


def test_more_than_content_length_is_truncated(server):
    with requests.Session() as session:
        r = session.get(server.url("/resp/cl-over"), timeout=10)
        assert r.headers["Content-Length"] == "5"
        assert r.content == b"01234"
        # The connection must still be usable: no stray bytes before the next response.
        r2 = session.get(server.url("/hello"), timeout=10)
        assert r2.status_code == 200 and r2.text == "Hello World!"
    raw = raw_request(server.port, request_line("/resp/cl-over"))
    assert split_response(raw)[2] == b"01234"


def test_less_than_content_length_closes_the_connection(server):
    server.expect_log(r"(?i)content.length|truncat|short|incomplete")
    # No "Connection: close": a server that keeps the connection open (KeepAliveTimeout 5)
    # would make the client wait for 5 missing bytes forever.
    data, closed = raw_exchange(server.port, request_line("/resp/cl-under", close=False), timeout=3)
    status, headers, body = split_response(data)
    assert status.split()[1] == "200"
    assert header(headers, "Content-Length") == "10"
    assert body == b"01234"
    assert closed, "connection must be closed after a short body, not kept alive"


def test_head_sends_no_body(server):
    get_status, get_headers, get_body = split_response(raw_request(server.port, request_line("/resp/sized")))
    assert get_body == b"sized body\n"
    data, closed = raw_exchange(server.port, request_line("/resp/sized", method="HEAD"), timeout=5)
    status, headers, body = split_response(data)
    assert status.split()[1] == "200"
    assert body == b""
    assert header(headers, "Content-Length") == "11"


def test_head_on_streamed_response_sends_no_body(server):
    data, closed = raw_exchange(server.port, request_line("/resp/stream", method="HEAD"), timeout=8)
    status, headers, body = split_response(data)
    assert status.split()[1] == "200"
    assert body == b""


def test_generator_blocks_are_streamed(server):
    early, data, after_first = read_streamed(server.port, request_line("/resp/stream"), b"first;")
    assert b"first;" in early and b"second" not in early
    body, complete = dechunk(split_response(data)[2])
    assert body == b"first;second" and complete
    # The app sleeps 1 s between the blocks; a buffered response would arrive all at once.
    assert after_first > 0.5


def test_single_item_list_gets_content_length(server):
    r = requests.get(server.url("/resp/single"), timeout=10)
    assert r.content == b"single item"
    assert r.headers.get("Content-Length") == "11"
    assert "Transfer-Encoding" not in r.headers

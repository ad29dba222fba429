"""The client connection read through the module's socket bucket (src/apache/socket_bucket.hpp),
with the input filters that sit above it: request body limits, mod_reqtimeout, HTTP/2 and a
request input filter (mod_deflate's).

The module reads a request body from the socket in large reads; everything Apache's input
filters do with those bytes must stay as with APR's own socket bucket.
"""

import gzip
import hashlib
import os
import subprocess
import time

import pytest

from conftest import raw_exchange, split_response

CONFIG = """
Protocols h2c http/1.1
RequestReadTimeout header=10 body=2
WSGIScriptAlias /input {apps}/input.wsgi
WSGIScriptAlias /limited {apps}/input.wsgi
<Location /limited>
    LimitRequestBody 100000
</Location>
WSGIDaemonProcess connection-input threads=2
WSGIScriptAlias /daemon-input {apps}/input.wsgi process-group=connection-input
WSGIScriptAlias /inflated {apps}/input.wsgi
WSGIScriptAlias /daemon-inflated {apps}/input.wsgi process-group=connection-input
<LocationMatch "^/(daemon-)?inflated">
    SetInputFilter DEFLATE
</LocationMatch>
"""


@pytest.fixture(scope="module")
def server(module_apache):
    server = module_apache(CONFIG, modules=("reqtimeout", "http2", "deflate"))
    yield server
    module_apache.release(server)


def post(server, path: str, body: bytes) -> tuple[str, bytes]:
    request = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {len(body)}\r\n"
        "Connection: close\r\n\r\n"
    ).encode() + body
    raw, _closed = raw_exchange(server.port, request, timeout=15)
    status, _headers, response = split_response(raw)
    return status, response


@pytest.mark.parametrize("prefix", ["/limited", "/input"])
def test_limit_request_body_refuses_a_body_over_it(server, prefix):
    body = os.urandom(300000)
    status, response = post(server, f"{prefix}/all", body)
    if prefix == "/limited":
        assert status.split()[1] == "413", (status, response[:300])
    else:
        assert status.split()[1] == "200", (status, response[:300])
        assert response == f"{len(body)} {hashlib.sha256(body).hexdigest()}".encode()


# RequestReadTimeout body=2: a client that stops sending its body is cut off after 2 s, the
# application's read failing with the timeout and the client answered 408.
@pytest.mark.parametrize("prefix", ["/input", "/daemon-input"])
def test_a_stalled_body_times_out_by_mod_reqtimeout(server, prefix):
    server.expect_log(r"request data read error: The timeout specified has expired")
    head = (
        f"POST {prefix}/all HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100000\r\n\r\n"
    ).encode()
    started = time.monotonic()
    raw, closed = raw_exchange(server.port, head + os.urandom(20000), timeout=15)
    elapsed = time.monotonic() - started
    assert closed, raw[:300]
    assert 1.5 < elapsed < 8, elapsed
    status, _headers, _body = split_response(raw)
    assert status.split()[1] == "408", status
    server.wait_log(r"OSError: Apache/mod_wsgi request data read error: The timeout specified", 5)


@pytest.mark.parametrize("prefix", ["/input", "/daemon-input"])
@pytest.mark.parametrize("size", [1000, 65536, 300000])
def test_a_body_over_http2_reaches_the_application_intact(server, tmp_path, prefix, size):
    body = os.urandom(size)
    data = tmp_path / "body"
    data.write_bytes(body)
    result = subprocess.run(
        ["curl", "-sS", "--http2-prior-knowledge", "--max-time", "20", "-o", "-",
         "-w", "\n%{http_version} %{http_code}", "--data-binary", f"@{data}",
         server.url(f"{prefix}/all")],
        capture_output=True, timeout=30,
    )
    assert result.returncode == 0, result.stderr
    response, _, status = result.stdout.rpartition(b"\n")
    assert status == b"2 200", (status, response[:300])
    assert response == f"{size} {hashlib.sha256(body).hexdigest()}".encode()


# A request input filter that changes the body (mod_deflate inflating a gzip body): the bytes
# the socket brings are not the bytes the application reads, so wsgi.input does not read them
# into place (and would copy them out of the way if it did); the application gets the inflated
# body whole, read all at once or in 64 KiB blocks, in both modes.
@pytest.mark.parametrize("prefix", ["/inflated", "/daemon-inflated"])
@pytest.mark.parametrize("mode", ["all", "sha256"])
def test_a_body_through_a_request_input_filter_arrives_whole(server, prefix, mode):
    body = os.urandom(100000) + b"a" * 300000  # some of it compresses, some does not
    compressed = gzip.compress(body)
    request = (
        f"POST {prefix}/{mode} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Content-Length: {len(compressed)}\r\nContent-Encoding: gzip\r\n"
        "Connection: close\r\n\r\n"
    ).encode() + compressed
    raw, _closed = raw_exchange(server.port, request, timeout=15)
    status, _headers, response = split_response(raw)
    assert status.split()[1] == "200", (status, response[:300])
    assert response == f"{len(body)} {hashlib.sha256(body).hexdigest()}".encode()


# A gzip body streamed in pieces: the inflating filter may answer a blocking read with no
# data (a piece that inflates to nothing yet) before the body has ended. wsgi.input reads on;
# the application gets the whole inflated body.
@pytest.mark.parametrize("prefix", ["/inflated", "/daemon-inflated"])
def test_a_gzip_body_streamed_in_pieces_arrives_whole(server, prefix):
    body = os.urandom(50000) + b"b" * 100000
    compressed = gzip.compress(body)
    head = (
        f"POST {prefix}/all HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Content-Length: {len(compressed)}\r\nContent-Encoding: gzip\r\n"
        "Connection: close\r\n\r\n"
    ).encode()
    # The gzip header, then one byte of the deflate stream (which inflates to nothing), then
    # the rest.
    pieces = [head + compressed[:10], compressed[10:11], compressed[11:]]
    raw, _closed = raw_exchange(server.port, pieces, timeout=15, pause=0.3)
    status, _headers, response = split_response(raw)
    assert status.split()[1] == "200", (status, response[:300])
    assert response == f"{len(body)} {hashlib.sha256(body).hexdigest()}".encode()

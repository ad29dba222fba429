"""wsgi.input: the file-like request body (PEP 3333 "Input and Error Streams")."""

import hashlib
import json
import os
import socket

import pytest
import requests

from conftest import header, raw_exchange, raw_request, split_response

CONFIG = """
WSGIScriptAlias /input {apps}/input.wsgi
WSGIScriptAlias /chunked {apps}/input.wsgi
<Location /chunked>
    WSGIChunkedRequest On
</Location>
WSGIDaemonProcess input threads=2
WSGIScriptAlias /daemon-input {apps}/input.wsgi process-group=input
WSGIScriptAlias /daemon-chunked {apps}/input.wsgi process-group=input
<Location /daemon-chunked>
    WSGIChunkedRequest On
</Location>
"""

BODY = b"line one\nline two\n\nlast line without newline"


@pytest.fixture(scope="module")
def server(module_apache, mpm):
    server = module_apache(CONFIG, mpm=mpm)
    yield server
    module_apache.release(server)


def ops(server, program, body=BODY):
    r = requests.post(server.url("/input/ops?" + program), data=body, timeout=10)
    assert r.status_code == 200, r.text
    return [tuple(x) for x in r.json()]


def test_read_all_then_eof(server):
    assert ops(server, "read,read,read:10") == [
        ("read", BODY.decode()),
        ("read", ""),
        ("read:10", ""),
    ]


def test_read_with_size(server):
    assert ops(server, "read:4,read:6,read:1000,read:5") == [
        ("read:4", "line"),
        ("read:6", " one\nl"),
        ("read:1000", BODY[10:].decode()),
        ("read:5", ""),
    ]


def test_negative_size_means_everything(server):
    assert ops(server, "read:5,read:-1,readline:-1") == [
        ("read:5", "line "),
        ("read:-1", BODY[5:].decode()),
        ("readline:-1", ""),
    ]
    assert ops(server, "readline:-1,readline:-1") == [
        ("readline:-1", "line one\n"),
        ("readline:-1", "line two\n"),
    ]


def test_readline(server):
    assert ops(server, "readline,readline,readline,readline,readline") == [
        ("readline", "line one\n"),
        ("readline", "line two\n"),
        ("readline", "\n"),
        ("readline", "last line without newline"),
        ("readline", ""),
    ]


def test_readline_with_size(server):
    assert ops(server, "readline:4,readline:100,readline:3,readline") == [
        ("readline:4", "line"),
        ("readline:100", " one\n"),
        ("readline:3", "lin"),
        ("readline", "e two\n"),
    ]


def test_readlines(server):
    assert ops(server, "readline,readlines,read") == [
        ("readline", "line one\n"),
        ("readlines", ["line two\n", "\n", "last line without newline"]),
        ("read", ""),
    ]


def test_iteration(server):
    assert ops(server, "read:5,iter,read") == [
        ("read:5", "line "),
        ("iter", ["one\n", "line two\n", "\n", "last line without newline"]),
        ("read", ""),
    ]


def test_empty_body(server):
    assert ops(server, "read,readline,readlines", body=b"") == [
        ("read", ""),
        ("readline", ""),
        ("readlines", []),
    ]


def test_large_body_read_in_blocks(server):
    body = os.urandom(5 * 1024 * 1024)
    r = requests.post(server.url("/input/sha256"), data=body, timeout=60)
    assert r.status_code == 200
    assert r.text == f"{len(body)} {hashlib.sha256(body).hexdigest()}"


def test_large_body_read_at_once(server):
    body = os.urandom(5 * 1024 * 1024 + 17)
    r = requests.post(server.url("/input/all"), data=body, timeout=60)
    assert r.status_code == 200
    assert r.text == f"{len(body)} {hashlib.sha256(body).hexdigest()}"


def chunked_request(path: bytes, pieces, *, keep_alive: bool = False) -> bytes:
    body = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces) + b"0\r\n\r\n"
    connection = b"" if keep_alive else b"Connection: close\r\n"
    return (
        b"POST " + path + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n"
        + connection + b"\r\n" + body
    )


def test_chunked_request_refused_by_default(server):
    server.expect_log(r"chunked|411|Transfer-Encoding")
    status, _headers, _body = split_response(
        raw_request(server.port, chunked_request(b"/input/all", [b"abc", b"defg"]))
    )
    assert status.split()[1] == "411", status


def test_chunked_request_read_with_wsgi_chunked_request_on(server):
    pieces = [b"abc", os.urandom(70000), b"x" * 5]
    data = b"".join(pieces)
    status, _headers, body = split_response(raw_request(server.port, chunked_request(b"/chunked/all", pieces)))
    assert status.split()[1] == "200", status
    assert body == f"{len(data)} {hashlib.sha256(data).hexdigest()}".encode()


def test_chunked_request_read_in_blocks(server):
    def gen():
        for i in range(20):
            yield bytes([65 + i]) * 10000

    data = b"".join(gen())
    r = requests.post(server.url("/chunked/sha256"), data=gen(), timeout=30)
    assert r.status_code == 200
    assert r.text == f"{len(data)} {hashlib.sha256(data).hexdigest()}"


# read(size) reads straight into the bytes it returns, sized from CONTENT_LENGTH and grown
# for a chunked body; readline() keeps a buffer of 64 KiB blocks. These cross those edges.

BIG_LINE = b"a" * 70000 + b"\n"  # longer than one 64 KiB block
MIXED = BIG_LINE + b"short\n" + b"b" * 100000 + b"\nend"


def test_read_more_than_the_body_gives_the_body(server):
    assert ops(server, "read:0,read:1000000000,read:1000000000") == [
        ("read:0", ""),
        ("read:1000000000", BODY.decode()),
        ("read:1000000000", ""),
    ]


def test_readline_of_a_line_longer_than_a_block(server):
    assert ops(server, "readline,readline,readline:3", body=MIXED) == [
        ("readline", BIG_LINE.decode()),
        ("readline", "short\n"),
        ("readline:3", "bbb"),
    ]


def test_readline_limit_across_a_block_boundary(server):
    assert ops(server, "readline:65530,readline:10,readline,read", body=MIXED) == [
        ("readline:65530", "a" * 65530),
        ("readline:10", "a" * 10),
        ("readline", "a" * (70000 - 65540) + "\n"),
        ("read", MIXED[len(BIG_LINE):].decode()),
    ]


def test_read_after_readline_takes_the_buffer_then_the_body(server):
    result = ops(server, "readline:5,readline,read:80000,read:-1,read:1", body=MIXED)
    rest = MIXED[len(BIG_LINE):]
    assert result == [
        ("readline:5", "aaaaa"),
        ("readline", "a" * 69995 + "\n"),
        ("read:80000", rest[:80000].decode()),
        ("read:-1", rest[80000:].decode()),
        ("read:1", ""),
    ]


def test_iteration_over_lines_longer_than_a_block(server):
    assert ops(server, "iter", body=MIXED) == [
        ("iter", [BIG_LINE.decode(), "short\n", "b" * 100000 + "\n", "end"]),
    ]


def test_chunked_read_with_size_larger_than_the_first_block(server):
    data = os.urandom(150000)
    pieces = [data[:1000], data[1000:90000], data[90000:]]
    status, _headers, body = split_response(
        raw_request(server.port, chunked_request(b"/chunked/ops?read:120000,read:100000,read", pieces))
    )
    assert status.split()[1] == "200", status
    result = json.loads(body)
    assert [op for op, _ in result] == ["read:120000", "read:100000", "read"]
    assert result[0][1].encode("latin-1") == data[:120000]
    assert result[1][1].encode("latin-1") == data[120000:]
    assert result[2][1] == ""


@pytest.mark.parametrize("prefix", ["/input", "/daemon-input"])
def test_a_body_cut_short_is_a_read_error_not_its_end(server, prefix):
    # The client promises 100000 bytes, sends 70000 and ends its side: the application's read
    # fails (OSError), it does not see a complete 70000-byte body. In daemon mode the Apache
    # child gathers what arrived without waiting and must keep the error for the next read.
    server.expect_log(r"request data read error")
    head = (
        f"POST {prefix}/sha256 HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100000\r\n"
        "Connection: close\r\n\r\n"
    ).encode()
    raw = raw_request(server.port, head + b"x" * 70000, timeout=15, shutdown_write=True)
    status, _headers, body = split_response(raw)
    assert not status.endswith(" 200 OK"), (status, body[:200])
    assert b"70000 " not in body, body[:200]
    server.wait_log(r"OSError: Apache/mod_wsgi request data read error", 5)


@pytest.mark.parametrize("prefix", ["/input", "/daemon-input"])
def test_a_64k_body_reads_whole_in_both_modes(server, prefix):
    body = os.urandom(65536)
    r = requests.post(server.url(f"{prefix}/all"), data=body, timeout=10)
    assert r.status_code == 200, r.text[:300]
    assert r.text == f"65536 {hashlib.sha256(body).hexdigest()}"


# In daemon mode the Apache child sends the part of the body that has already arrived (up to
# 64 KiB) with the request, and the daemon process asks for the rest. These cross that edge,
# with the application reading all at once, in blocks, and in odd sizes.
@pytest.mark.parametrize("size", [1, 65535, 65536, 65537, 300000])
@pytest.mark.parametrize("mode", ["all", "sha256", "ops?read:70000,read"])
def test_daemon_mode_bodies_across_the_early_body_edge(server, size, mode):
    body = os.urandom(size)
    r = requests.post(server.url(f"/daemon-input/{mode}"), data=body, timeout=15)
    assert r.status_code == 200, r.text[:300]
    if mode.startswith("ops"):
        parts = [value.encode("latin-1") for _op, value in r.json()]
        assert parts == [body[:70000], body[70000:]]
    else:
        assert r.text == f"{size} {hashlib.sha256(body).hexdigest()}"


def test_daemon_mode_chunked_body_across_the_early_body_edge(server):
    pieces = [os.urandom(n) for n in (10, 65536, 3, 70000)]
    data = b"".join(pieces)
    status, _headers, body = split_response(
        raw_request(server.port, chunked_request(b"/daemon-chunked/all", pieces), timeout=15)
    )
    assert status.split()[1] == "200", (status, body[:300])
    assert body.decode() == f"{len(data)} {hashlib.sha256(data).hexdigest()}"


def expect_continue_head(path: str, length: int) -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {length}\r\n"
        "Expect: 100-continue\r\nConnection: close\r\n\r\n"
    ).encode()


@pytest.mark.parametrize("prefix", ["/input", "/daemon-input"])
def test_no_100_continue_for_an_application_that_does_not_read_the_body(server, prefix):
    # RFC 9110 section 10.1.1: the client waits for "100 Continue" before sending the body;
    # only the application's first read sends it. The daemon-mode Apache child must not read
    # the body early for such a request.
    raw = raw_request(server.port, expect_continue_head(f"{prefix}/unknown", 10), timeout=10)
    assert raw.startswith(b"HTTP/1.1 404 "), raw[:300]
    assert b"100 Continue" not in raw, raw[:300]


@pytest.mark.parametrize("prefix", ["/input", "/daemon-input"])
def test_100_continue_then_the_body_for_an_application_that_reads_it(server, prefix):
    body = os.urandom(100000)
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as conn:
        conn.sendall(expect_continue_head(f"{prefix}/all", len(body)))
        interim = b""
        for _ in range(100):  # bounded: until the end of the interim response
            if b"\r\n\r\n" in interim:
                break
            chunk = conn.recv(4096)
            if not chunk:
                break
            interim += chunk
        assert interim.startswith(b"HTTP/1.1 100 Continue\r\n"), interim[:300]
        conn.sendall(body)
        raw = interim.partition(b"\r\n\r\n")[2]
        for _ in range(1000):
            chunk = conn.recv(65536)
            if not chunk:
                break
            raw += chunk
    status, _headers, text = split_response(raw)
    assert status.split()[1] == "200", (status, text[:300])
    assert text.decode() == f"{len(body)} {hashlib.sha256(body).hexdigest()}"


def read_calls(pid: int) -> int:
    """The read system calls process `pid` has made (/proc/<pid>/io syscr)."""
    with open(f"/proc/{pid}/io", "rb") as f:
        fields = dict(line.split(b": ") for line in f.read().splitlines())
    return int(fields[b"syscr"])


# Apache's socket bucket reads the connection 8000 bytes a call; the module's (the
# insert_network_bucket hook) reads as much as the body still has to bring, so a 256 KiB body
# read in 64 KiB blocks, once it has all arrived, costs the Apache child that serves it a few
# read calls instead of 33 or more. On one kept-alive connection, so the same child serves
# the warm-up (its first request loads the script, whose imports read files) and the body.
def test_an_embedded_body_is_read_from_the_socket_in_large_reads(server):
    assert read_calls_for_body(server, "/input/late", os.urandom(256 * 1024)) <= 16


def read_calls_for_body(server, path: str, body: bytes) -> int:
    """POST `body` to `path` (an input.wsgi mode answering "<length> <sha256> <pid>") after a
    warm-up on the same kept-alive connection; returns the read calls the serving child made
    for it, having checked the body arrived whole."""
    with requests.Session() as session:
        r = session.post(server.url(path), data=b"x", timeout=10)
        assert r.status_code == 200, r.text[:300]
        pid = int(r.text.split()[2])
        before = read_calls(pid)
        r = session.post(server.url(path), data=body, timeout=10)
        calls = read_calls(pid) - before
    assert r.status_code == 200, r.text[:300]
    assert r.text == f"{len(body)} {hashlib.sha256(body).hexdigest()} {pid}"
    return calls


# A large read may take bytes past the body: the next request, pipelined on the same
# connection. They stay with Apache's core input filter and are served in turn. A chunked
# body gives no length to stop at, so its reads go furthest past it.
@pytest.mark.parametrize("prefix", ["/input", "/daemon-input", "/chunked", "/daemon-chunked"])
@pytest.mark.parametrize("size", [1000, 65536, 200000])
def test_a_request_pipelined_after_a_body_is_served(server, prefix, size):
    body = os.urandom(size)
    if "chunked" in prefix:
        pieces = [body[i : i + 70000] for i in range(0, size, 70000)]
        first = chunked_request(f"{prefix}/all".encode(), pieces, keep_alive=True)
    else:
        first = (
            f"POST {prefix}/all HTTP/1.1\r\nHost: localhost\r\nContent-Length: {size}\r\n\r\n"
        ).encode() + body
    expect_body_then_pipelined_get(server, prefix, first, body)


def expect_body_then_pipelined_get(server, prefix: str, first: bytes, body: bytes):
    """Send `first` (a POST of `body` to {prefix}/all) and a GET pipelined after it on the same
    connection; both must be answered, the POST with the body whole."""
    second = f"GET {prefix}/ops?read HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    raw = raw_request(server.port, first + second.encode(), timeout=15)
    status, headers, rest = split_response(raw)
    assert status.split()[1] == "200", (status, rest[:300])
    length = int(header(headers, "Content-Length"))
    assert rest[:length] == f"{len(body)} {hashlib.sha256(body).hexdigest()}".encode()
    status, _headers, second_body = split_response(rest[length:])
    assert status.split()[1] == "200", (status, second_body[:300])
    assert json.loads(second_body) == [["read", ""]]


# In embedded mode wsgi.input.read has the socket read straight into the bytes object it
# returns: what Apache already holds (the part of the body that came with the headers) is
# copied in first, and what the socket brings after it is read into place. Whatever the body's
# size, however it is read and however it arrives, the bytes come out whole and in order.
@pytest.mark.parametrize("size", [1, 7000, 8000, 65535, 65536, 65537, 300000])
@pytest.mark.parametrize("mode", ["all", "sha256", "ops?read:1,read:7000,read:70000,read"])
def test_embedded_bodies_read_into_place_arrive_whole(server, size, mode):
    body = os.urandom(size)
    r = requests.post(server.url(f"/input/{mode}"), data=body, timeout=15)
    assert r.status_code == 200, r.text[:300]
    if mode.startswith("ops"):
        parts = b"".join(value.encode("latin-1") for _op, value in r.json())
        assert [len(value) for _op, value in r.json()] == [
            min(n, max(size - before, 0)) for n, before in ((1, 0), (7000, 1), (70000, 7001))
        ] + [max(size - 77001, 0)]
        assert parts == body
    else:
        assert r.text == f"{size} {hashlib.sha256(body).hexdigest()}"


def post_in_pieces(port: int, path: str, pieces, pause: float = 0.15) -> bytes:
    """POST the joined `pieces` as one body with a Content-Length, the headers together with
    the first piece, each later piece after `pause` seconds; returns the raw response."""
    length = sum(len(p) for p in pieces)
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {length}\r\n"
        "Connection: close\r\n\r\n"
    ).encode()
    return raw_exchange(port, [head + pieces[0], *pieces[1:]], timeout=15, pause=pause)[0]


# Pieces arriving while the application waits: the blocking reads land each piece after the
# one before, in one read() and across several.
@pytest.mark.parametrize("mode", ["all", "sha256", "ops?read:50000,read:30000,read"])
def test_an_embedded_body_arriving_in_pieces_is_read_into_place_in_order(server, mode):
    pieces = [os.urandom(n) for n in (3000, 50000, 1, 70000, 9000)]
    body = b"".join(pieces)
    status, _headers, rest = split_response(post_in_pieces(server.port, f"/input/{mode}", pieces))
    assert status.split()[1] == "200", (status, rest[:300])
    if mode.startswith("ops"):
        assert b"".join(value.encode("latin-1") for _op, value in json.loads(rest)) == body
    else:
        assert rest.decode() == f"{len(body)} {hashlib.sha256(body).hexdigest()}"


# Reads into place are made only where there is room for at least APR's 8000 bytes: an
# application reading a few bytes at a time is served from one 8000-byte read that Apache
# keeps, not by a read call for each of its reads (32 here).
def test_small_embedded_reads_do_not_each_cost_a_read_call(server):
    assert read_calls_for_body(server, "/input/small", os.urandom(32000)) <= 12


# Headers that fill Apache's first 8000-byte read, so that the body and a request pipelined
# after it are still in the socket when the body is read: a read into place (in daemon mode,
# the body sent ahead with the request) takes the next request's bytes too. Those stay with
# Apache, copied out of the request's buffer, and are served in turn.
@pytest.mark.parametrize("prefix", ["/input", "/daemon-input"])
@pytest.mark.parametrize("size", [1000, 20000])
def test_a_request_pipelined_after_a_body_read_into_place_is_served(server, prefix, size):
    body = os.urandom(size)
    head = f"POST {prefix}/all HTTP/1.1\r\nHost: localhost\r\nContent-Length: {size}\r\n"
    padding = 7990 - len(head) - len("X-Padding: \r\n\r\n")
    first = (head + "X-Padding: " + "p" * padding + "\r\n\r\n").encode() + body
    expect_body_then_pipelined_get(server, prefix, first, body)

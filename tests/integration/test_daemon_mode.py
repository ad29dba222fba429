"""Daemon mode (issue 4): WSGIDaemonProcess process groups forked by the Apache parent.

Written against mod_wsgi's documented behaviour (WSGIDaemonProcess, WSGIProcessGroup,
WSGIRestrictProcess, "Reloading Source Code", "Processes And Threading"):

* a request delegated to a process group runs in a daemon process whose parent is the Apache
  parent, not in an Apache child; ``display-name=%{GROUP}`` makes ps show ``(wsgi:NAME)``;
* ``WSGIProcessGroup`` (also in ``<Directory>`` and through ``%{ENV:NAME}``), the
  ``process-group=`` option, groups private to a virtual host, ``WSGIRestrictProcess``;
* the process options: processes, threads, user, group, supplementary-groups, home, umask,
  lang, locale, python-path, python-home, maximum-requests, inactivity-timeout, restart-interval;
* touching the script restarts the daemon process and the next request sees the new code;
* request and response bodies pass through both hops unchanged, streamed, in bounded memory;
* Flask and Django served from daemon processes.

The configuration-only checks (``apache2 -t``) live in test_daemon_config.py.
"""

from __future__ import annotations

import grp
import hashlib
import http.client
import json
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

from conftest import (HTTPD, dechunk, header, raw_exchange, raw_request, read_streamed,
                      split_response, wait_for)
from group_helpers import resource_group
from test_django import ADMIN_PASSWORD, ADMIN_USER, form_token, manage

PYTHON = "/usr/bin/python3"

# --------------------------------------------------------------------------------------------
# Processes as the kernel sees them


def _stat_after_comm(pid: int) -> list[bytes]:
    """Fields of /proc/<pid>/stat after the command name: state, ppid, ..."""
    with open(f"/proc/{pid}/stat", "rb") as f:
        data = f.read()
    return data[data.rindex(b")") + 2 :].split()


def alive(pid: int) -> bool:
    try:
        return _stat_after_comm(pid)[0] not in (b"Z", b"X")
    except OSError:
        return False


def parent_of(pid: int) -> int | None:
    try:
        return int(_stat_after_comm(pid)[1])
    except (OSError, ValueError, IndexError):
        return None


def title_of(pid: int) -> str:
    """argv[0] of `pid` as ps shows it (blank padding removed); "" once it is gone."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().split(b"\0")[0].decode("utf-8", "replace").strip()
    except OSError:
        return ""


def children_of(ppid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and parent_of(int(entry)) == ppid and alive(int(entry)):
            found.append(int(entry))
    return sorted(found)


def apache_children(server) -> list[int]:
    """Children of the Apache parent still titled as the httpd binary (the MPM's children)."""
    return [pid for pid in children_of(server.pid) if title_of(pid) == str(HTTPD)]


def titled_children(server, title: str) -> list[int]:
    return [pid for pid in children_of(server.pid) if title_of(pid) == title]


def wait_titled(server, title: str, count: int, timeout: float = 15.0) -> list[int]:
    """Wait (bounded) until exactly `count` children of the Apache parent carry `title`."""
    wait_for(lambda: len(titled_children(server, title)) == count, timeout)
    pids = titled_children(server, title)
    assert len(pids) == count, f"wanted {count} processes titled {title!r}, found {pids}"
    return pids


def rss_kib(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


class RssSampler:
    """Samples VmRSS of some processes in a background thread; peak growth over the start."""

    def __init__(self, pids, interval: float = 0.05):
        self.interval = interval
        self.base = {pid: rss_kib(pid) for pid in pids}
        self.base = {pid: kib for pid, kib in self.base.items() if kib is not None}
        self.peak = dict(self.base)
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def __enter__(self) -> "RssSampler":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            for pid in self.base:
                kib = rss_kib(pid)
                if kib is not None:
                    self.peak[pid] = max(self.peak[pid], kib)
            self.samples += 1

    def growth_kib(self) -> dict[int, int]:
        return {pid: self.peak[pid] - self.base[pid] for pid in self.base}


# --------------------------------------------------------------------------------------------
# HTTP helpers


def get(server, path: str, **kwargs) -> requests.Response:
    kwargs.setdefault("timeout", 30)
    kwargs.setdefault("allow_redirects", False)
    return requests.get(server.url(path), **kwargs)


def info(server, path: str, **kwargs) -> dict:
    """What apps/daemon/info.wsgi reports about the process that served `path`."""
    r = get(server, path, **kwargs)
    assert r.status_code == 200, (path, r.status_code, r.text[:1000], server.error_log()[-3000:])
    return r.json()


def pid_of(server, path: str) -> int:
    r = get(server, path)
    assert r.status_code == 200, (path, r.status_code, r.text[:1000], server.error_log()[-3000:])
    return int(r.text)


def request_line(path: str, method: str = "GET") -> bytes:
    return f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode()


def post_stream(server, path: str, blocks, *, length: int | None, timeout: float = 180):
    """POST the byte blocks of an iterator: with Content-Length `length`, or chunked if None.

    Returns (status, body bytes).
    """
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=timeout)
    try:
        headers = {"Content-Type": "application/octet-stream"}
        if length is None:
            headers["Transfer-Encoding"] = "chunked"
            conn.request("POST", path, body=blocks, headers=headers, encode_chunked=True)
        else:
            headers["Content-Length"] = str(length)
            conn.request("POST", path, body=blocks, headers=headers)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


# The blocks apps/daemon/body.wsgi yields for /download: 1 MiB each, the first 8 bytes the index.
BLOCK_SIZE = 1 << 20
_PATTERN = hashlib.sha256(b"mod_wsgi daemon mode").digest() * (BLOCK_SIZE // 32)


def block(index: int) -> bytes:
    return index.to_bytes(8, "big") + _PATTERN[8:]


LARGE_BLOCKS = 200  # 200 MiB
GROWTH_LIMIT_KIB = 150 * 1024  # far below the body size: nothing may hold the body whole


# --------------------------------------------------------------------------------------------
# One server per MPM: process identity, group selection, bodies


CONFIG = """
WSGIDaemonProcess main threads=4 display-name=%{GROUP}
WSGIDaemonProcess multi processes=2 threads=1 display-name=%{GROUP}
WSGIDaemonProcess one processes=1 threads=1 display-name=custom-name
WSGIDaemonProcess plain
WSGIDaemonProcess big threads=2 display-name=%{GROUP}
WSGIChunkedRequest On
SetEnv CLOSE_LOG {tmp}/close.log

WSGIScriptAlias /embedded {apps}/daemon/info.wsgi
WSGIScriptAlias /main {apps}/daemon/info.wsgi process-group=main
WSGIScriptAlias /multi {apps}/daemon/info.wsgi process-group=multi
WSGIScriptAlias /one {apps}/daemon/info.wsgi process-group=one
WSGIScriptAlias /plain {apps}/daemon/info.wsgi process-group=plain
WSGIScriptAlias /body {apps}/daemon/body.wsgi process-group=main
WSGIScriptAlias /big {apps}/daemon/body.wsgi process-group=big

WSGIScriptAlias /by-dir {apps}/daemon/bydir/where.wsgi
WSGIScriptAlias /option-wins {apps}/daemon/bydir/where.wsgi process-group=plain
<Directory "{apps}/daemon/bydir">
    WSGIProcessGroup main
</Directory>

WSGIScriptAlias /by-header {apps}/daemon/info.wsgi
<Location /by-header>
    SetEnvIf X-Pick "^(main|plain)$" PICK_GROUP=$1
    WSGIProcessGroup %{ENV:PICK_GROUP}
</Location>
WSGIScriptAlias /by-setenv {apps}/daemon/info.wsgi
<Location /by-setenv>
    SetEnv PICK_GROUP plain
    WSGIProcessGroup %{ENV:PICK_GROUP}
</Location>

WSGIScriptAlias /embedded-body {apps}/daemon/body.wsgi
Alias /private {tmp}/private
<Directory "{tmp}/private">
    Require all granted
</Directory>
Alias /denied {tmp}/denied
<Directory "{tmp}/denied">
    Require all denied
</Directory>

WSGIScriptAlias /undefined {apps}/daemon/info.wsgi process-group=nosuchgroup
WSGIScriptAlias /restricted {apps}/daemon/info.wsgi
<Location /restricted>
    WSGIRestrictProcess plain
    WSGIProcessGroup main
</Location>
WSGIScriptAlias /allowed {apps}/daemon/info.wsgi
<Location /allowed>
    WSGIRestrictProcess plain main
    WSGIProcessGroup main
</Location>
"""


@pytest.fixture(scope="module")
def server(module_apache, mpm):
    server = module_apache(CONFIG, mpm=mpm)
    yield server
    module_apache.release(server)


def test_request_runs_in_a_daemon_process_of_the_apache_parent(server):
    daemon = info(server, "/main")
    embedded_pids = {info(server, "/embedded")["pid"] for _ in range(6)}
    children = apache_children(server)
    assert embedded_pids <= set(children), (embedded_pids, children)
    assert daemon["pid"] != server.pid
    assert daemon["pid"] not in embedded_pids
    assert daemon["pid"] not in children
    assert daemon["ppid"] == server.pid
    assert parent_of(daemon["pid"]) == server.pid
    # One process in the group: every request meets it.
    assert {info(server, "/main")["pid"] for _ in range(5)} == {daemon["pid"]}


def test_processes_the_application_starts_can_be_stopped_by_signals(server):
    # The daemon process takes SIGTERM, SIGINT, SIGUSR1... for itself; its request threads
    # must not block them, or every process the application starts inherits the blocked set
    # and ignores terminate(). A forked child must not take them as the daemon's own either.
    first = info(server, "/main")["pid"]
    ended = info(server, "/main/children")
    assert ended["popen"] == -signal.SIGTERM, ended
    assert ended["fork"] == -signal.SIGTERM, ended
    handled = {signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2,
               signal.SIGXCPU, signal.SIGWINCH}
    assert not handled & set(ended["blocked"]), ended
    assert info(server, "/main")["pid"] == first, "the daemon process took a child's signal"


def test_environment_of_the_account(server):
    # HOME, USER and LOGNAME are the daemon account's (Apache's User here), not root's.
    daemon = info(server, "/main")
    account = pwd.getpwuid(daemon["uid"])
    assert (daemon["HOME"], daemon["USER"], daemon["LOGNAME"]) == (
        account.pw_dir, account.pw_name, account.pw_name)


@pytest.mark.parametrize("path", ["/main", "/embedded"])
def test_sys_argv_names_mod_wsgi(server, path):
    assert info(server, path)["argv"] == ["mod_wsgi"]


@pytest.mark.parametrize("path, processes, threads", [("/main", 1, 4), ("/multi", 2, 1)])
def test_module_reports_the_groups_processes_and_threads(server, path, processes, threads):
    daemon = info(server, path)
    assert (daemon["maximum_processes"], daemon["threads_per_process"]) == (processes, threads)


def test_display_name_group_titles_the_process_with_the_group(server):
    daemon = info(server, "/main")
    assert daemon["title"] == "(wsgi:main)"
    assert titled_children(server, "(wsgi:main)") == [daemon["pid"]]


def test_display_name_custom_value_titles_the_process(server):
    daemon = info(server, "/one")
    assert daemon["title"] == "custom-name"
    assert titled_children(server, "custom-name") == [daemon["pid"]]


def test_without_display_name_the_title_stays_apaches(server):
    daemon = info(server, "/plain")
    assert daemon["title"] == title_of(server.pid) == str(HTTPD)
    assert daemon["ppid"] == server.pid


def test_environ_has_the_instants_of_the_request_phases(server):
    # mod_wsgi 6's keys, floats in seconds since the epoch: monitoring agents take the queue
    # time from mod_wsgi.queue_start. Embedded mode has no queue or daemon phase (0.0).
    now = time.time()
    daemon = info(server, "/main")["instants"]
    assert all(isinstance(value, float) for value in daemon.values()), daemon
    assert now - 30 < daemon["request_start"] <= daemon["queue_start"], daemon
    assert daemon["queue_start"] <= daemon["daemon_start"] <= daemon["application_start"], daemon
    assert daemon["application_start"] < time.time() + 1, daemon
    embedded = info(server, "/embedded")["instants"]
    assert embedded["queue_start"] == 0.0 and embedded["daemon_start"] == 0.0, embedded
    assert now - 30 < embedded["request_start"] <= embedded["application_start"], embedded


@pytest.mark.parametrize(
    "path, group", [("/main", "main"), ("/plain", "plain"), ("/embedded", "")],
    ids=["main", "plain", "embedded"],
)
def test_environ_names_the_process_group(server, path, group):
    assert info(server, path)["process_group"] == group


def test_application_group_defaults_to_the_resource(server):
    assert info(server, "/main")["application_group"] == resource_group(server, "/main")


@pytest.mark.parametrize(
    "path, expected",
    [("/main", True), ("/plain", True), ("/one", False)],
    ids=["threads=4", "default-threads", "threads=1"],
)
def test_wsgi_multithread_follows_threads(server, path, expected):
    assert info(server, path)["multithread"] is expected


@pytest.mark.parametrize(
    "path, expected",
    [("/multi", True), ("/one", True), ("/main", False), ("/plain", False)],
    ids=["processes=2", "processes=1", "no-processes-option", "no-options"],
)
def test_wsgi_multiprocess_follows_the_processes_option(server, path, expected):
    # The documented rule: giving the option at all (even processes=1) means True.
    assert info(server, path)["multiprocess"] is expected


def test_processes_option_starts_that_many_processes(server):
    pids = wait_titled(server, "(wsgi:multi)", 2)
    # One thread each: two requests at once must be served by the two processes.
    with ThreadPoolExecutor(2) as pool:
        served = list(pool.map(lambda _: info(server, "/multi/sleep?1")["pid"], range(2)))
    assert sorted(served) == pids


# -- choosing the process group


def test_process_group_directive_in_directory(server):
    main_pid = info(server, "/main")["pid"]
    r = get(server, "/by-dir")
    assert r.status_code == 200, r.text
    assert r.json() == {"pid": main_pid, "process_group": "main"}


def test_process_group_option_wins_over_the_directive(server):
    plain_pid = info(server, "/plain")["pid"]
    r = get(server, "/option-wins")
    assert r.status_code == 200, r.text
    assert r.json() == {"pid": plain_pid, "process_group": "plain"}


@pytest.mark.parametrize("group", ["main", "plain"])
def test_env_variable_set_by_setenvif_chooses_the_group(server, group):
    expected_pid = info(server, f"/{group}")["pid"]
    chosen = info(server, "/by-header", headers={"X-Pick": group})
    assert chosen["process_group"] == group
    assert chosen["pid"] == expected_pid


def test_env_variable_set_by_setenv_chooses_the_group(server):
    chosen = info(server, "/by-setenv")
    assert chosen["process_group"] == "plain"
    assert chosen["pid"] == info(server, "/plain")["pid"]


def test_undefined_group_is_500_with_a_log_line(server):
    r = get(server, "/undefined")
    assert r.status_code == 500
    assert "nosuchgroup" not in r.text
    server.wait_log(r"WSGI0150: .*'nosuchgroup'")


def test_restrict_process_refuses_a_group_not_listed(server):
    r = get(server, "/restricted")
    assert r.status_code == 500
    server.wait_log(r"WSGI015\d: .*'main'")


def test_restrict_process_allows_a_listed_group(server):
    assert info(server, "/allowed")["process_group"] == "main"


# -- request and response bodies through the daemon process


@pytest.mark.parametrize("size", [0, 1, 65535, 65536, BLOCK_SIZE + 1])
def test_post_body_is_echoed_byte_exact(server, size):
    payload = os.urandom(size)
    r = requests.post(server.url("/body/echo"), data=payload, timeout=30,
                      headers={"Content-Type": "application/octet-stream"})
    assert r.status_code == 200
    assert r.headers["Content-Length"] == str(size)
    assert r.content == payload


def test_chunked_post_body_is_echoed(server):
    pieces = [os.urandom(n) for n in (1, 4096, 70000, 3, 65536)]
    status, body = post_stream(server, "/body/echo", iter(pieces), length=None, timeout=30)
    assert status == 200
    assert body == b"".join(pieces)


def test_several_set_cookie_headers_stay_separate(server):
    status, headers, _body = split_response(raw_request(server.port, request_line("/body/cookies")))
    assert status.split()[1] == "200", status
    assert [v for k, v in headers if k.lower() == "set-cookie"] == [
        "first=1; Path=/",
        "second=2; Path=/; HttpOnly",
        "third=3, with a comma; Path=/",
    ]


def test_single_item_list_gets_content_length(server):
    # The same adapter as embedded mode: a one-item list tells the length of the body.
    r = get(server, "/body/single")
    assert r.status_code == 200
    assert r.headers.get("Content-Length") == "11"
    assert "Transfer-Encoding" not in r.headers
    assert r.content == b"single item"


def test_head_sends_no_body(server):
    head = request_line("/body/sized", method="HEAD")
    data, _closed = raw_exchange(server.port, head, timeout=10)
    status, headers, body = split_response(data)
    assert status.split()[1] == "200", status
    assert header(headers, "Content-Length") == "11"
    assert body == b""


@pytest.mark.parametrize("mount", ["/body", "/embedded-body"], ids=["daemon", "embedded"])
@pytest.mark.parametrize("case, status", [("not-modified", "304"), ("no-content", "204")])
def test_bodyless_status_with_content_length_is_sent_as_is(server, mount, case, status):
    # Once a 500 in daemon mode, and in embedded mode a warning about a body shorter than its
    # Content-Length and a closed connection: a 304's Content-Length describes the
    # representation the client has (RFC 9110 8.6), and neither status has a body.
    data, _closed = raw_exchange(
        server.port,
        f"GET {mount}/{case} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode()
        + request_line("/body/single"),
    )
    assert data.startswith(f"HTTP/1.1 {status} ".encode()), data[:200]
    second = data.index(b"HTTP/1.1", 1)  # the connection served the next request
    assert data[second:].startswith(b"HTTP/1.1 200") and data.endswith(b"single item")
    if case == "not-modified":
        assert header(split_response(data[:second])[1], "ETag") == '"v1"'
    assert "WSGI0010" not in server.error_log()


def private_file(server, directory: str, content: bytes) -> str:
    """A file under {tmp}/<directory> that Apache's static handler can serve; its URL."""
    folder = server.tmp / directory
    folder.mkdir(exist_ok=True)
    folder.chmod(0o755)
    name = f"{uuid.uuid4().hex}.txt"
    (folder / name).write_bytes(content)
    (folder / name).chmod(0o644)
    return f"/{directory}/{name}"


def test_local_redirect_serves_the_url_in_place_of_the_response(server):
    # mod_wsgi's "Delegating File Serving To Apache": a 200 with a Location that is a local
    # path is served by Apache as that URL; the client sees neither the redirect nor the body.
    url = private_file(server, "private", b"protected static file\n")
    r = get(server, f"/body/delegate?{url}")
    assert r.status_code == 200
    assert r.content == b"protected static file\n"
    assert "Location" not in r.headers
    assert r.headers.get("ETag"), "Apache's static handler served it"


@pytest.mark.parametrize("expect", ["", "Expect: 100-continue\r\n"], ids=["plain", "expect-100"])
def test_local_redirect_is_a_get_and_drops_an_unread_body(server, expect):
    url = private_file(server, "private", b"served by GET\n")
    post = (
        f"POST /body/delegate?{url} HTTP/1.1\r\nHost: 127.0.0.1\r\n{expect}"
        "Content-Type: text/plain\r\nContent-Length: 11\r\n\r\n"
    ).encode()
    # The body comes after a pause, so that it is not sent to the daemon process with the
    # request: the Apache child must read it and drop it before the next request is parsed.
    data, _closed = raw_exchange(
        server.port, [post, b"not-read-by" + request_line("/body/single")], pause=0.5
    )
    if data.startswith(b"HTTP/1.1 100 Continue\r\n\r\n"):
        data = data[len(b"HTTP/1.1 100 Continue\r\n\r\n") :]
    status, _headers, _body = split_response(data[: data.index(b"HTTP/1.1", 1)])
    assert status.split()[1] == "200", status
    assert b"served by GET\n" in data
    second = data.index(b"HTTP/1.1", 1)
    assert data[second:].startswith(b"HTTP/1.1 200") and data.endswith(b"single item")


def test_local_redirect_goes_through_access_control(server):
    server.expect_log(r"AH01630|denied")
    url = private_file(server, "denied", b"never served\n")
    r = get(server, f"/body/delegate?{url}")
    assert r.status_code == 403
    assert b"never served" not in r.content


@pytest.mark.parametrize(
    "path, status",
    [
        ("/body/delegate-302?/private/x.txt", 302),  # a client redirect stays one
        ("/body/delegate?http://127.0.0.1/private/x.txt", 200),  # not a local path
        ("/body/delegate?//127.0.0.1/private/x.txt", 200),  # a host: not a local path
        ("/embedded-body/delegate?/private/x.txt", 200),  # daemon mode only
    ],
)
def test_other_location_headers_pass_through(server, path, status):
    r = get(server, path)
    assert r.status_code == status
    assert r.headers["Location"] == path.split("?", 1)[1]
    assert r.content == b"ignored"


def test_404_from_the_application_passes_through_with_its_body(server):
    r = get(server, "/body/missing")
    assert r.status_code == 404
    assert r.headers["Content-Type"] == "text/plain"
    assert r.text == "no such daemon page\n"


def test_generator_blocks_are_streamed(server):
    early, data, after_first = read_streamed(server.port, request_line("/body/stream"), b"first;")
    assert b"first;" in early and b"second" not in early
    body, complete = dechunk(split_response(data)[2])
    assert body == b"first;second" and complete
    # The application sleeps 1 s between the blocks; a buffered response arrives all at once.
    assert after_first > 0.5


def test_client_disconnect_ends_iteration_and_calls_close(server):
    # Losing the client is logged by some implementations; tolerate those lines.
    server.expect_log(r"(?i)failed to write|broken pipe|connection reset|abort|disconnect")
    token = uuid.uuid4().hex
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
        s.sendall(request_line(f"/body/disconnect?id={token}"))
        assert s.recv(4096).startswith(b"HTTP/1.1 200")
        # Reset rather than FIN so the server's next write fails at once.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))

    def records():
        try:
            lines = (server.tmp / "close.log").read_text().splitlines()
        except FileNotFoundError:
            return {}
        return dict(line.split() for line in lines)

    assert wait_for(lambda: token in records(), 15), "close() was not called after the disconnect"
    assert int(records()[token]) < 1000, "iteration should stop once the client is gone"


def test_exception_is_500_and_the_traceback_is_logged(server):
    server.expect_log(r"DAEMON-CASE failure|WSGI0002")
    r = get(server, "/body/raise")
    assert r.status_code == 500
    assert "DAEMON-CASE" not in r.text
    server.wait_log(r"Traceback \(most recent call last\)")
    server.wait_log(r"RuntimeError: DAEMON-CASE failure before start_response")


# -- large bodies in bounded memory


def watched_processes(server) -> tuple[int, list[int]]:
    """The `big` daemon process (after one request, so its application is loaded) and every
    process whose memory a large transfer must not grow: it and the Apache children."""
    daemon = pid_of(server, "/big/pid")
    return daemon, apache_children(server) + [daemon]


def assert_memory_flat(sampler: RssSampler) -> None:
    assert sampler.samples >= 3, "the transfer ended before the memory could be sampled"
    growth = sampler.growth_kib()
    assert all(kib < GROWTH_LIMIT_KIB for kib in growth.values()), (
        f"resident memory grew with the body size (KiB per pid): {growth}"
    )


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_large_upload_is_streamed_to_the_application(server, framing):
    daemon, pids = watched_processes(server)
    sent = hashlib.sha256()

    def blocks():
        for index in range(LARGE_BLOCKS):
            data = block(index)
            sent.update(data)
            yield data

    length = LARGE_BLOCKS * BLOCK_SIZE
    with RssSampler(pids) as sampler:
        status, body = post_stream(
            server, "/big/digest", blocks(), length=length if framing == "content-length" else None
        )
    assert status == 200, body[:1000]
    assert json.loads(body) == {"length": length, "sha256": sent.hexdigest()}
    assert_memory_flat(sampler)
    assert pid_of(server, "/big/pid") == daemon, "the daemon process did not survive the upload"


def test_large_download_is_streamed_to_the_client(server):
    daemon, pids = watched_processes(server)
    expected = hashlib.sha256()
    for index in range(LARGE_BLOCKS):
        expected.update(block(index))
    received = hashlib.sha256()
    length = 0
    with RssSampler(pids) as sampler:
        with get(server, f"/big/download?{LARGE_BLOCKS}", stream=True, timeout=60) as r:
            assert r.status_code == 200
            for chunk in r.iter_content(chunk_size=BLOCK_SIZE):
                received.update(chunk)
                length += len(chunk)
    assert length == LARGE_BLOCKS * BLOCK_SIZE
    assert received.hexdigest() == expected.hexdigest()
    assert_memory_flat(sampler)
    assert pid_of(server, "/big/pid") == daemon, "the daemon process did not survive the download"


# --------------------------------------------------------------------------------------------
# Virtual hosts: name-based, on the one port; a group defined in a <VirtualHost> is its own


VHOST_CONFIG = """
WSGIDaemonProcess shared display-name=%{GROUP}
<VirtualHost *:*>
    ServerName site-a.test
    WSGIDaemonProcess site-a display-name=%{GROUP}
    WSGIScriptAlias /where {apps}/daemon/info.wsgi process-group=site-a
    WSGIScriptAlias /foreign {apps}/daemon/info.wsgi process-group=site-b
    WSGIScriptAlias /shared {apps}/daemon/info.wsgi process-group=shared
</VirtualHost>
<VirtualHost *:*>
    ServerName site-b.test
    WSGIDaemonProcess site-b display-name=%{GROUP}
    WSGIScriptAlias /where {apps}/daemon/info.wsgi process-group=site-b
    WSGIScriptAlias /shared {apps}/daemon/info.wsgi process-group=shared
</VirtualHost>
"""


@pytest.fixture(scope="module")
def vhost_server(module_apache):
    server = module_apache(VHOST_CONFIG)
    yield server
    module_apache.release(server)


def test_each_virtual_host_is_served_by_its_own_daemon(vhost_server):
    a = info(vhost_server, "/where", headers={"Host": "site-a.test"})
    b = info(vhost_server, "/where", headers={"Host": "site-b.test"})
    assert (a["process_group"], a["title"]) == ("site-a", "(wsgi:site-a)")
    assert (b["process_group"], b["title"]) == ("site-b", "(wsgi:site-b)")
    assert a["pid"] != b["pid"]
    assert a["ppid"] == b["ppid"] == vhost_server.pid


def test_group_of_another_virtual_host_is_refused(vhost_server):
    r = get(vhost_server, "/foreign", headers={"Host": "site-a.test"})
    assert r.status_code == 500
    vhost_server.wait_log(r"WSGI015\d: .*'site-b'")


def test_server_level_group_serves_every_virtual_host(vhost_server):
    a = info(vhost_server, "/shared", headers={"Host": "site-a.test"})
    b = info(vhost_server, "/shared", headers={"Host": "site-b.test"})
    assert a["process_group"] == b["process_group"] == "shared"
    assert a["pid"] == b["pid"]


# --------------------------------------------------------------------------------------------
# user= / group= / supplementary-groups= (Apache started as root)


@pytest.fixture(scope="module")
def scratch(server_base):
    """A directory every user can read, for the venv and the home= directories."""
    path = Path(tempfile.mkdtemp(prefix="daemon-", dir=server_base))
    os.chmod(path, 0o755)
    return path


@pytest.fixture(scope="module")
def daemon_home(scratch):
    """A directory for home=: every user may enter it. It holds a module to import."""
    path = scratch / "home"
    path.mkdir()
    os.chmod(path, 0o755)
    module = path / "daemon_home_probe.py"
    module.write_text("VALUE = 'found in home='\n")
    os.chmod(module, 0o644)
    return path


@pytest.fixture(scope="module")
def daemon_user():
    """A system account made for this module, deleted afterwards."""
    if os.geteuid() != 0:
        pytest.skip("user= and group= only apply when Apache is started as root")
    if not shutil.which("useradd"):
        pytest.skip("useradd is not available")
    name = "mwtest-" + secrets.token_hex(4)
    subprocess.run(
        ["useradd", "--system", "--no-create-home", "--user-group",
         "--shell", "/usr/sbin/nologin", name],
        check=True, capture_output=True, timeout=60,
    )
    try:
        yield pwd.getpwnam(name)
    finally:
        subprocess.run(["userdel", name], capture_output=True, timeout=60)
        try:
            grp.getgrnam(name)
        except KeyError:
            pass
        else:
            subprocess.run(["groupdel", name], capture_output=True, timeout=60)


USER_CONFIG = """
WSGIDaemonProcess asuser user=@USER@ group=@USER@ supplementary-groups=@EXTRA@ home=@HOME@ \
    display-name=%{GROUP}
WSGIScriptAlias /asuser {apps}/daemon/info.wsgi process-group=asuser
SetEnv DAEMON_TMP {tmp}
"""
EXTRA_GROUP = "www-data"


@pytest.fixture(scope="module")
def user_server(module_apache, daemon_user, daemon_home):
    try:
        grp.getgrnam(EXTRA_GROUP)
    except KeyError:
        pytest.skip(f"no {EXTRA_GROUP} group for supplementary-groups=")
    # home= as well: without it the daemon process would change to the account's home
    # directory, which --no-create-home leaves missing.
    config = (
        USER_CONFIG.replace("@USER@", daemon_user.pw_name)
        .replace("@EXTRA@", EXTRA_GROUP)
        .replace("@HOME@", str(daemon_home))
    )
    server = module_apache(config)
    yield server
    # Before the account goes: userdel refuses while processes run as it.
    module_apache.release(server)


def test_daemon_runs_as_the_configured_user_and_group(user_server, daemon_user):
    daemon = info(user_server, "/asuser")
    assert (daemon["uid"], daemon["euid"]) == (daemon_user.pw_uid, daemon_user.pw_uid)
    assert (daemon["HOME"], daemon["USER"]) == (daemon_user.pw_dir, daemon_user.pw_name)
    assert (daemon["gid"], daemon["egid"]) == (daemon_user.pw_gid, daemon_user.pw_gid)
    assert os.stat(f"/proc/{daemon['pid']}").st_uid == daemon_user.pw_uid


def test_supplementary_groups_are_added(user_server, daemon_user):
    groups = info(user_server, "/asuser")["groups"]
    assert grp.getgrnam(EXTRA_GROUP).gr_gid in groups
    assert 0 not in groups, "root's groups must not leak into the daemon process"


def test_files_the_daemon_creates_belong_to_its_user(user_server, daemon_user):
    info(user_server, "/asuser/create?ownedfile")
    st = os.stat(user_server.tmp / "ownedfile")
    assert (st.st_uid, st.st_gid) == (daemon_user.pw_uid, daemon_user.pw_gid)


# --------------------------------------------------------------------------------------------
# home=, umask=, lang=, locale=, python-path=, python-home=


@pytest.fixture(scope="module")
def venv(scratch):
    path = scratch / "venv"
    subprocess.run([PYTHON, "-m", "venv", "--system-site-packages", "--without-pip", str(path)],
                   check=True, capture_output=True, timeout=120)
    module = path / "lib" / "python3.11" / "site-packages" / "daemon_venv_probe.py"
    module.write_text("VALUE = 'found in the venv'\n")
    os.chmod(module, 0o644)
    return path


SETTINGS_CONFIG = """
WSGIDaemonProcess settings home=@HOME@ umask=0027 lang=en_US.UTF-8 locale=C.UTF-8 \
    display-name=%{GROUP}
WSGIDaemonProcess paths python-path={apps}/daemon/pylib display-name=%{GROUP}
WSGIDaemonProcess venv python-home=@VENV@ display-name=%{GROUP}
WSGIDaemonProcess badlocale locale=xx_YY.UTF-8 display-name=%{GROUP}
WSGIScriptAlias /badlocale {apps}/daemon/info.wsgi process-group=badlocale
WSGIScriptAlias /settings {apps}/daemon/info.wsgi process-group=settings
WSGIScriptAlias /paths {apps}/daemon/info.wsgi process-group=paths
WSGIScriptAlias /venv {apps}/daemon/info.wsgi process-group=venv
WSGIScriptAlias /embedded {apps}/daemon/info.wsgi
SetEnv DAEMON_TMP {tmp}
"""


@pytest.fixture(scope="module")
def settings_server(module_apache, daemon_home, venv):
    config = SETTINGS_CONFIG.replace("@HOME@", str(daemon_home)).replace("@VENV@", str(venv))
    server = module_apache(config)
    yield server
    module_apache.release(server)


def test_home_is_the_initial_working_directory(settings_server, daemon_home):
    assert info(settings_server, "/settings")["cwd"] == str(daemon_home)


def test_umask_is_applied(settings_server):
    assert info(settings_server, "/settings")["umask"] == 0o027
    info(settings_server, "/settings/create?umaskfile")
    assert os.stat(settings_server.tmp / "umaskfile").st_mode & 0o777 == 0o640


def test_lang_and_locale_are_set(settings_server):
    daemon = info(settings_server, "/settings")
    assert daemon["LANG"] == "en_US.UTF-8"
    assert daemon["LC_ALL"] == "C.UTF-8"
    assert daemon["lc_ctype"] == "C.UTF-8"
    assert daemon["lc_time"] == "C.UTF-8"  # every category, not only Python's LC_CTYPE


def test_locale_not_installed_is_logged(settings_server):
    settings_server.expect_log(r"WSGI0171: .*'badlocale'.*locale 'xx_YY.UTF-8'")
    daemon = info(settings_server, "/badlocale")
    assert daemon["lc_time"] == "C"
    settings_server.wait_log(r"WSGI0171: Daemon process 'badlocale'")


def test_home_is_first_in_sys_path(settings_server, daemon_home):
    # As with mod_wsgi 4: modules beside the application in home= import.
    daemon = info(settings_server, "/settings?import=daemon_home_probe")
    assert daemon["imported"] == "found in home="
    assert daemon["path"][0] == str(daemon_home)
    other = info(settings_server, "/paths?import=daemon_home_probe")
    assert other["imported"] is None


def test_python_path_adds_a_site_directory(settings_server):
    daemon = info(settings_server, "/paths?import=daemon_path_probe")
    assert daemon["imported"] == "found through python-path"
    # site.addsitedir(): the .pth file in that directory is read too.
    pth = info(settings_server, "/paths?import=daemon_pth_probe")
    assert pth["imported"] == "found through a .pth file"


def test_python_path_belongs_to_its_group_only(settings_server):
    for path in ("/venv", "/embedded"):
        other = info(settings_server, f"{path}?import=daemon_path_probe")
        assert other["imported"] is None and "daemon_path_probe" in other["import_error"], other


def test_python_home_uses_the_virtual_environment(settings_server, venv):
    daemon = info(settings_server, "/venv?import=daemon_venv_probe")
    assert daemon["prefix"] == str(venv)
    assert daemon["base_prefix"] == "/usr"
    assert daemon["imported"] == "found in the venv"


def test_python_home_belongs_to_its_group_only(settings_server):
    other = info(settings_server, "/paths?import=daemon_venv_probe")
    assert other["prefix"] == "/usr"
    assert other["imported"] is None


# --------------------------------------------------------------------------------------------
# Touching the script: daemon processes restart, embedded mode reloads the script


RELOAD_CONFIG = """
WSGIDaemonProcess touched display-name=%{GROUP}
WSGIDaemonProcess rewritten display-name=%{GROUP}
WSGIScriptAlias /touched {tmp}/touched.wsgi process-group=touched
WSGIScriptAlias /rewritten {tmp}/rewritten.wsgi process-group=rewritten
WSGIScriptAlias /embedded {tmp}/embedded.wsgi
WSGIDaemonProcess posted display-name=%{GROUP}
WSGIScriptAlias /posted {tmp}/posted.wsgi process-group=posted
"""

POSTED_SCRIPT = """
import hashlib
import os

VERSION = %d


def application(environ, start_response):
    body = environ["wsgi.input"].read()
    digest = hashlib.sha256(body).hexdigest()
    text = "version %%d pid %%d length %%d sha256 %%s" %% (VERSION, os.getpid(), len(body), digest)
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [text.encode()]
"""

RELOAD_SCRIPT = """
import itertools
import os

VERSION = %d
_requests = itertools.count(1)


def application(environ, start_response):
    body = "version %%d pid %%d request %%d" %% (VERSION, os.getpid(), next(_requests))
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [body.encode()]
"""
BASE_MTIME = time.time() - 1000


@pytest.fixture(scope="module")
def reload_server(module_apache):
    server = module_apache(RELOAD_CONFIG)
    yield server
    module_apache.release(server)


def write_script(server, name: str, version: int, mtime: float) -> Path:
    path = server.tmp / name
    path.write_text(RELOAD_SCRIPT % version)
    os.chmod(path, 0o644)
    os.utime(path, (mtime, mtime))
    return path


def served(server, path: str) -> tuple[int, int, int]:
    """(version, pid, request number in that module) of the reload script behind `path`."""
    r = get(server, path)
    assert r.status_code == 200, (r.status_code, r.text[:1000], server.error_log()[-3000:])
    match = re.fullmatch(r"version (\d+) pid (\d+) request (\d+)", r.text)
    assert match, r.text
    return tuple(int(n) for n in match.groups())


def test_touching_the_script_restarts_the_daemon_process(reload_server):
    path = write_script(reload_server, "touched.wsgi", 1, BASE_MTIME)
    first = served(reload_server, "/touched")
    second = served(reload_server, "/touched")
    assert second == (1, first[1], first[2] + 1)
    os.utime(path, (BASE_MTIME + 100, BASE_MTIME + 100))
    version, pid, request = served(reload_server, "/touched")
    assert (version, request) == (1, 1)
    assert pid != first[1], "the daemon process was not restarted"
    assert wait_for(lambda: not alive(first[1]), 10), "the old daemon process is still running"
    assert parent_of(pid) == reload_server.pid


def test_rewritten_script_serves_new_code_from_a_new_daemon_process(reload_server):
    write_script(reload_server, "rewritten.wsgi", 1, BASE_MTIME)
    first = served(reload_server, "/rewritten")
    assert first[0] == 1
    write_script(reload_server, "rewritten.wsgi", 2, BASE_MTIME + 100)
    version, pid, request = served(reload_server, "/rewritten")
    assert (version, request) == (2, 1)
    assert pid != first[1]


@pytest.mark.parametrize("size", [1000, 64 * 1024, 300 * 1024])
def test_a_post_handed_back_for_a_changed_script_keeps_its_body(reload_server, size):
    # The first body bytes went to the daemon process with the request, and the Apache child
    # gave them up once sent: the process that sees the changed script hands them back with
    # the request, and its successor gets the whole body (the rest of a big one is still read
    # from the client).
    path = reload_server.tmp / "posted.wsgi"
    path.write_text(POSTED_SCRIPT % size)
    os.chmod(path, 0o644)
    os.utime(path, (BASE_MTIME + size, BASE_MTIME + size))
    warm = requests.post(reload_server.url("/posted"), data=b"warm", timeout=20)
    assert warm.status_code == 200, warm.text[:500]
    old_pid = int(warm.text.split()[3])
    path.write_text(POSTED_SCRIPT % (size + 1))
    os.utime(path, (BASE_MTIME + size + 1, BASE_MTIME + size + 1))
    body = secrets.token_bytes(size)
    # Head and body in one write, so that the body (its first 64 KiB) has arrived when the
    # Apache child sends the request on and goes with it.
    # (The Host of the request before, port and all: the same application group.)
    head = (f"POST /posted HTTP/1.1\r\nHost: 127.0.0.1:{reload_server.port}\r\n"
            f"Content-Length: {size}\r\nConnection: close\r\n\r\n").encode()
    response = raw_request(reload_server.port, head + body, timeout=20)
    status_line, _, rest = response.partition(b"\r\n")
    assert status_line.startswith(b"HTTP/1.1 200"), (response[:500],
                                                    reload_server.error_log()[-3000:])
    version, pid, length, digest = rest.split(b"\r\n\r\n", 1)[1].decode().split()[1::2]
    log = reload_server.error_log()
    assert int(version) == size + 1
    assert int(pid) != old_pid, log[-3000:]
    assert (int(length), digest) == (size, hashlib.sha256(body).hexdigest())
    assert f"changed; restarting daemon process 'posted' (pid={old_pid})" in log
    assert "WSGI0153" not in log


def test_rewritten_script_is_reloaded_in_embedded_mode(reload_server):
    write_script(reload_server, "embedded.wsgi", 1, BASE_MTIME)
    assert served(reload_server, "/embedded")[0] == 1
    write_script(reload_server, "embedded.wsgi", 2, BASE_MTIME + 100)
    version, pid, _request = served(reload_server, "/embedded")
    assert version == 2
    assert parent_of(pid) == reload_server.pid and title_of(pid) == str(HTTPD)


# --------------------------------------------------------------------------------------------
# Recycling: maximum-requests, inactivity-timeout, restart-interval


RECYCLE_THREADS = 4
MAX_REQUESTS = 20
RECYCLE_CONFIG = f"""
WSGIDaemonProcess recycle threads={RECYCLE_THREADS} maximum-requests={MAX_REQUESTS} \\
    graceful-timeout=0 display-name=%{{GROUP}}
WSGIScriptAlias /recycle {{apps}}/daemon/info.wsgi process-group=recycle
"""


def test_maximum_requests_recycles_processes_without_failed_requests(apache):
    server = apache(RECYCLE_CONFIG)
    clients, per_client = 8, 50
    deadline = time.monotonic() + 120
    failures: list[str] = []
    served_by: dict[int, int] = {}
    lock = threading.Lock()

    def client(index: int) -> None:
        with requests.Session() as session:
            # A connection per request: mpm_event closes idle keep-alive connections when its
            # workers are all busy, and a request racing that close would fail on the client.
            session.headers["Connection"] = "close"
            for i in range(per_client):
                if time.monotonic() > deadline:
                    with lock:
                        failures.append(f"client {index}: deadline passed after {i} requests")
                    return
                try:
                    r = session.get(server.url("/recycle/pid"), timeout=30)
                except requests.RequestException as e:
                    with lock:
                        failures.append(f"client {index}: {type(e).__name__}: {e}")
                    continue
                with lock:
                    if r.status_code != 200:
                        failures.append(f"client {index}: {r.status_code} {r.text[:200]!r}")
                    else:
                        pid = int(r.text)
                        served_by[pid] = served_by.get(pid, 0) + 1

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()) + 35)
    assert not any(t.is_alive() for t in threads), "clients still waiting for an answer"
    assert not failures, f"{len(failures)} failed requests, e.g.:\n" + "\n".join(failures[:10])
    assert sum(served_by.values()) == clients * per_client
    assert len(served_by) > 1, "the daemon process was never recycled"
    # With graceful-timeout=0 a process takes no new request after its limit; only the ones
    # already accepted by its other threads may still finish there. (With a graceful-timeout
    # it would go on serving until idle, as the mod_wsgi docs describe: test_daemon_options.)
    assert max(served_by.values()) <= MAX_REQUESTS + RECYCLE_THREADS - 1, served_by


IDLE_CONFIG = """
WSGIDaemonProcess idle inactivity-timeout=2 display-name=%{GROUP}
WSGIScriptAlias /idle {apps}/daemon/info.wsgi process-group=idle
WSGIScriptAlias /health {apps}/daemon/info.wsgi process-group=idle
<Location /health>
    WSGIIgnoreActivity On
</Location>
"""
INTERVAL_CONFIG = """
WSGIDaemonProcess interval restart-interval=2 display-name=%{GROUP}
WSGIScriptAlias /interval {apps}/daemon/info.wsgi process-group=interval
"""


def test_inactivity_timeout_restarts_an_idle_process(apache):
    server = apache(IDLE_CONFIG)
    first = pid_of(server, "/idle/pid")
    assert wait_for(lambda: not alive(first), 15), "the idle daemon process was not restarted"
    second = pid_of(server, "/idle/pid")
    assert second != first
    assert parent_of(second) == server.pid


def test_inactivity_timeout_spares_a_process_that_keeps_serving(apache):
    server = apache(IDLE_CONFIG)
    first = pid_of(server, "/idle/pid")
    seen = set()
    end = time.monotonic() + 5  # 2.5 times the timeout, never idle for more than 0.5 s
    while time.monotonic() < end:
        time.sleep(0.5)
        seen.add(pid_of(server, "/idle/pid"))
    assert seen == {first}


def test_ignored_activity_does_not_hold_off_inactivity_timeout(apache):
    # WSGIIgnoreActivity On: health checks every 0.5 s do not keep an idle process alive.
    server = apache(IDLE_CONFIG)
    first = pid_of(server, "/idle/pid")
    seen = set()
    end = time.monotonic() + 15
    while time.monotonic() < end and alive(first):
        time.sleep(0.5)
        seen.add(pid_of(server, "/health/pid"))
    assert not alive(first), "health checks kept the idle daemon process alive"
    server.wait_log(rf"Daemon process 'idle' \(pid={first}\) stopping: inactivity-timeout", 10)
    assert first in seen  # the checks did reach it


def test_restart_interval_restarts_an_idle_process(apache):
    server = apache(INTERVAL_CONFIG)
    first = pid_of(server, "/interval/pid")
    assert wait_for(lambda: not alive(first), 15), "the daemon process was not restarted"
    second = pid_of(server, "/interval/pid")
    assert second != first
    assert parent_of(second) == server.pid


def test_restart_interval_restarts_a_busy_process_without_failed_requests(apache):
    server = apache(INTERVAL_CONFIG)
    first = pid_of(server, "/interval/pid")
    seen = {first}
    end = time.monotonic() + 25  # interval 2 s plus the default graceful-timeout of 15 s
    while len(seen) == 1 and time.monotonic() < end:
        time.sleep(0.25)
        seen.add(pid_of(server, "/interval/pid"))  # asserts a 200 every time
    assert len(seen) > 1, "the daemon process was not restarted while serving"


# --------------------------------------------------------------------------------------------
# Supervision: a dead daemon process is replaced; stopping Apache ends the group


LIFECYCLE_CONFIG = """
WSGIDaemonProcess pair processes=2 display-name=%{GROUP}
WSGIDaemonProcess single display-name=%{GROUP}
WSGIScriptAlias /single {apps}/daemon/info.wsgi process-group=single
"""


@pytest.mark.parametrize("signum", [signal.SIGKILL, signal.SIGINT], ids=["SIGKILL", "SIGINT"])
def test_dead_daemon_process_is_replaced(apache, signum):
    server = apache(LIFECYCLE_CONFIG)
    first = pid_of(server, "/single/pid")
    server.expect_log(rf"\b{first}\b")
    offset = len(server.error_log())
    os.kill(first, signum)
    assert wait_for(lambda: not alive(first), 10), f"daemon process {first} ignored {signum!r}"
    second = pid_of(server, "/single/pid")
    assert second != first
    assert parent_of(second) == server.pid and title_of(second) == "(wsgi:single)"
    # LogLevel wsgi:info names the process that went away and why.
    why = r"(?i:signal|exit|died|dead|killed|terminated)"
    pattern = re.compile(rf"(?m)^.*\[wsgi:\w+\](?=.*\b{first}\b)(?=.*{why}).*$")
    found = wait_for(lambda: pattern.search(server.error_log()[offset:]), 5)
    assert found, server.error_log()[offset:]


def test_stopping_apache_ends_the_daemon_processes(apache):
    server = apache(LIFECYCLE_CONFIG)
    pids = wait_titled(server, "(wsgi:pair)", 2) + wait_titled(server, "(wsgi:single)", 1)
    assert server.stop() == []
    # The same grace the harness gives Apache's own children.
    wait_for(lambda: not any(alive(pid) for pid in pids), 5)
    left = [pid for pid in pids if alive(pid)]
    assert not left, f"daemon processes still running 5 s after Apache stopped: {left}"


# --------------------------------------------------------------------------------------------
# Flask and Django in daemon mode (WSGIRestrictEmbedded On: nothing can run in the children)


FRAMEWORKS_CONFIG = """
WSGIRestrictEmbedded On
WSGIDaemonProcess flask threads=4 display-name=%{GROUP}
WSGIDaemonProcess django threads=4 display-name=%{GROUP}
WSGIScriptAlias /flask {apps}/flaskapp/flask.wsgi process-group=flask
WSGIScriptAlias /django {apps}/djangoproj/django.wsgi process-group=django
SetEnv FLASKDEMO_TMP {tmp}
SetEnv DJANGO_DATA_DIR @DATA@
"""


@pytest.fixture(scope="module")
def django_data(server_base):
    """A migrated database with one superuser, writable by the daemon process (www-data)."""
    path = Path(tempfile.mkdtemp(prefix="daemon-django-", dir=server_base))
    manage(path, "migrate", "--noinput")
    manage(path, "createsuperuser", "--noinput", "--username", ADMIN_USER,
           "--email", "admin@example.com", DJANGO_SUPERUSER_PASSWORD=ADMIN_PASSWORD)
    os.chmod(path, 0o777)
    os.chmod(path / "db.sqlite3", 0o666)
    return path


@pytest.fixture(scope="module")
def frameworks(module_apache, django_data):
    server = module_apache(FRAMEWORKS_CONFIG.replace("@DATA@", str(django_data)))
    yield server
    module_apache.release(server)


def test_frameworks_run_in_their_own_daemon_processes(frameworks):
    assert get(frameworks, "/flask/hello").status_code == 200
    assert get(frameworks, "/django/sign/").status_code == 200
    flask_pids = titled_children(frameworks, "(wsgi:flask)")
    django_pids = titled_children(frameworks, "(wsgi:django)")
    assert len(flask_pids) == len(django_pids) == 1 and flask_pids != django_pids


def test_flask_routes(frameworks):
    r = get(frameworks, "/flask/hello")
    assert (r.status_code, r.headers["Content-Type"], r.text) == (
        200, "text/plain; charset=utf-8", "Hello from Flask\n")
    r = get(frameworks, "/flask/whoami")
    assert r.json() == {"script_root": "/flask", "path": "/whoami", "method": "GET"}
    r = get(frameworks, "/flask/no/such/page")
    assert r.status_code == 404 and "Not Found" in r.text


def test_flask_json_post(frameworks):
    payload = {"rows": [{"i": i, "s": "ünïcödé"} for i in range(5000)]}
    r = requests.post(frameworks.url("/flask/echo"), json=payload, timeout=30)
    assert r.status_code == 200
    assert r.json()["received"] == payload


def test_flask_streamed_response(frameworks):
    token = uuid.uuid4().hex
    with get(frameworks, f"/flask/stream?token={token}", stream=True) as r:
        assert r.status_code == 200
        chunks = r.iter_content(chunk_size=None)
        assert next(chunks) == b"chunk 1\n"
        assert get(frameworks, f"/flask/stream/release?token={token}").status_code == 200
        rest = b"".join(chunks)
    assert rest == f"chunk 2: released by {token}\ndone\n".encode()


def test_django_redirect_keeps_the_mount_point(frameworks):
    r = get(frameworks, "/django/")
    assert r.status_code == 302
    assert urlsplit(r.headers["Location"]).path == "/django/sign/"


def test_django_form_post_with_csrf_and_session(frameworks):
    with requests.Session() as s:
        page = s.get(frameworks.url("/django/sign/"), timeout=30)
        assert page.status_code == 200 and s.cookies.get("csrftoken")
        data = {"csrfmiddlewaretoken": form_token(page.text), "name": "Ada",
                "message": "daemon ✓"}
        r = s.post(frameworks.url("/django/sign/"), data=data, timeout=30, allow_redirects=False)
        assert r.status_code == 200
        assert "<h1>Thank you, Ada!</h1>" in r.text and "daemon ✓" in r.text
        assert r.cookies.get("sessionid")
        # The session was written to SQLite by the daemon process and is read back.
        again = s.get(frameworks.url("/django/sign/"), timeout=30)
        assert '<p id="signed-by">Last signed by Ada</p>' in again.text


def test_django_post_without_csrf_token_is_403(frameworks):
    with requests.Session() as s:
        s.get(frameworks.url("/django/sign/"), timeout=30)
        r = s.post(frameworks.url("/django/sign/"), data={"name": "Mallory"}, timeout=30)
    assert r.status_code == 403


def test_django_admin_login(frameworks):
    with requests.Session() as s:
        page = s.get(frameworks.url("/django/admin/login/?next=/django/admin/"), timeout=30)
        r = s.post(frameworks.url("/django/admin/login/?next=/django/admin/"), timeout=30,
                   allow_redirects=False,
                   data={"csrfmiddlewaretoken": form_token(page.text), "username": ADMIN_USER,
                         "password": ADMIN_PASSWORD, "next": "/django/admin/"})
        assert r.status_code == 302, r.text
        index = s.get(frameworks.url("/django/admin/"), timeout=30)
    assert index.status_code == 200
    assert "Site administration" in index.text

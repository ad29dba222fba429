"""Apache children keep their connections to the daemon processes between requests (issue 8).

* The connections are reused: many requests in a row are served over a few connections, as the
  daemon process itself sees them (the inodes of its open sockets).
* Idle kept connections pin no daemon thread, and with processes=2 threads=1 two requests at
  once still run in the two processes although both processes have kept connections.
* A daemon process that restarts (maximum-requests) under continuous GET and POST load hands
  its kept connections back: no request is lost, not even a POST, which is never sent twice,
  and every POST body arrives whole (its CRC-32), also one the daemon process handed back.
* After a SIGKILL of the daemon process, requests that go out on connections kept to the dead
  process are sent again on a new connection and reach its replacement.
* inactivity-timeout: idle kept connections are no activity.

The app is apps/keep/app.wsgi.
"""

from __future__ import annotations

import os
import signal
import time
import zlib
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from conftest import ClientThreads, wait_for

APP = "{apps}/keep/app.wsgi"


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            state = f.read().rsplit(b")", 1)[1].split()[0]
        return state not in (b"Z", b"X")
    except (OSError, IndexError):
        return False


def get(server, path: str, timeout: float = 20, session=None) -> requests.Response:
    return (session or requests).get(server.url(path), timeout=timeout)


def pid_of(server, prefix: str) -> int:
    r = get(server, f"{prefix}/echo?pid")
    assert r.status_code == 200, (r.status_code, r.text[:300])
    return int(r.text.rsplit(":", 1)[1])


def warm_up(server, prefix: str, parallel: int = 6, rounds: int = 3) -> None:
    """Several requests at once, a few times: the Apache children keep several connections."""
    with ThreadPoolExecutor(parallel) as pool:
        for _ in range(rounds):
            codes = list(pool.map(lambda n: get(server, f"{prefix}/echo?warm{n}").status_code,
                                  range(parallel)))
            assert codes == [200] * parallel, codes


def post_body(tag: str, count: int) -> bytes:
    """The body of a Load POST: 100 + count bytes that differ from one request to another."""
    return (f"{tag}/" * (1 + (100 + count) // 3)).encode()[:100 + count]


class Load(ClientThreads):
    """Client threads alternating GET /echo?TAG and POST /post?TAG (a body of TAG-dependent
    size) on fresh HTTP connections until stopped. Records (tag, method, status, body)."""

    def __init__(self, server, prefix: str, threads: int):
        super().__init__(threads)
        self.server = server
        self.prefix = prefix
        self.records: list[tuple[str, str, object, str]] = []

    def _run(self, number: int) -> None:
        count = 0
        while not self.stop.is_set():
            count += 1
            tag = f"{number}-{count}"
            post = count % 2 == 0
            try:
                if post:
                    body = post_body(tag, count)
                    r = requests.post(self.server.url(f"{self.prefix}/post?{tag}"), data=body,
                                      timeout=20, headers={"Connection": "close"})
                else:
                    r = requests.get(self.server.url(f"{self.prefix}/echo?{tag}"), timeout=20,
                                     headers={"Connection": "close"})
                outcome, text = r.status_code, r.text
            except requests.RequestException as e:
                outcome, text = type(e).__name__, str(e)
            with self.lock:
                self.records.append((tag, "POST" if post else "GET", outcome, text))

    def bad(self) -> list:
        bad = []
        for tag, method, outcome, text in self.records:
            count = int(tag.split("-")[1])
            if method == "POST":
                body = post_body(tag, count)
                expected = f"post:{tag}:{len(body)}:{zlib.crc32(body):08x}:"
            else:
                expected = f"echo:{tag}:"
            if outcome != 200 or not text.startswith(expected):
                bad.append((tag, method, outcome, text[:200]))
        return bad


def report(server, load) -> str:
    bad = load.bad()
    errors = [line for line in server.error_log().splitlines() if "[wsgi:" in line and ":info]" not in line]
    return f"{len(bad)} of {len(load.records)} requests failed: {bad[:10]}\n" + "\n".join(errors[-20:])


# --------------------------------------------------------------------------------------------


REUSE_CONFIG = f"""
WSGIDaemonProcess kept processes=1 threads=4
WSGIScriptAlias /kept {APP} process-group=kept application-group=%{{GLOBAL}}
"""


def test_connections_are_reused_between_requests(apache):
    server = apache(REUSE_CONFIG)
    seen: set[int] = set()
    pids = set()
    with requests.Session() as session:
        for _ in range(40):
            r = get(server, "/kept/sockets", session=session)
            assert r.status_code == 200, r.text[:300]
            pids.add(r.json()["pid"])
            seen.update(r.json()["sockets"])
    assert len(pids) == 1, pids
    # One connection per request would show at least 40 connection sockets (plus the
    # listening socket) over the 40 requests; kept connections, a handful at most.
    assert 2 <= len(seen) <= 6, sorted(seen)


MULTI_CONFIG = f"""
WSGIDaemonProcess multi processes=2 threads=1 display-name=%{{GROUP}}
WSGIScriptAlias /multi {APP} process-group=multi application-group=%{{GLOBAL}}
WSGIScriptAlias /multisleep {{apps}}/daemon/info.wsgi process-group=multi
"""


@pytest.mark.parametrize("mpm", ["event", "prefork"])
def test_requests_at_once_spread_over_processes_with_kept_connections(apache, mpm):
    server = apache(MULTI_CONFIG, mpm=mpm)
    warm_up(server, "/multi", parallel=4, rounds=4)
    for _ in range(3):
        with ThreadPoolExecutor(2) as pool:
            served = list(pool.map(
                lambda _: get(server, "/multisleep/sleep?1").json()["pid"], range(2)))
        assert len(set(served)) == 2, served


RECYCLE_CONFIG = f"""
WSGIDaemonProcess recycled processes=2 threads=4 maximum-requests=20 graceful-timeout=5
WSGIScriptAlias /recycled {APP} process-group=recycled application-group=%{{GLOBAL}}
"""


def test_maximum_requests_under_get_and_post_load_loses_no_request(apache):
    server = apache(RECYCLE_CONFIG)
    first = pid_of(server, "/recycled")
    with Load(server, "/recycled", threads=6) as load:
        time.sleep(5.0)
    assert len(load.records) > 100, f"too little load: {len(load.records)} requests"
    assert not load.bad(), report(server, load)
    pids = {text.rsplit(":", 1)[1] for _t, _m, _o, text in load.records}
    assert len(pids) >= 4, pids  # recycled several times
    assert pid_of(server, "/recycled") != first


KILL_CONFIG = f"""
WSGIDaemonProcess killed processes=1 threads=8 display-name=%{{GROUP}}
WSGIScriptAlias /killed {APP} process-group=killed application-group=%{{GLOBAL}}
"""


@pytest.mark.parametrize("run", range(3))
def test_requests_after_a_sigkill_reach_the_replacement(apache, run):
    server = apache(KILL_CONFIG)
    # The Apache parent logs the death; a request cut in flight would log WSGI0146.
    first = pid_of(server, "/killed")
    warm_up(server, "/killed", parallel=8, rounds=3)
    os.kill(first, signal.SIGKILL)
    # As soon as the process looks dead (its threads may still hold the connections open).
    assert wait_for(lambda: not alive(first), 10)
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda n: get(server, f"/killed/echo?after{n}"), range(24)))
    bad = [(r.status_code, r.text[:200]) for r in results
           if r.status_code != 200 or not r.text.startswith("echo:after")]
    assert not bad, bad
    assert {int(r.text.rsplit(":", 1)[1]) for r in results} != {first}


IDLE_CONFIG = f"""
WSGIDaemonProcess idle threads=4 inactivity-timeout=2
WSGIScriptAlias /idle {APP} process-group=idle application-group=%{{GLOBAL}}
"""


def test_idle_kept_connections_do_not_hold_off_inactivity_timeout(apache):
    server = apache(IDLE_CONFIG)
    first = pid_of(server, "/idle")
    warm_up(server, "/idle", parallel=4, rounds=2)
    server.wait_log(rf"Daemon process 'idle' \(pid={first}\) stopping: inactivity-timeout", 10)
    assert pid_of(server, "/idle") != first

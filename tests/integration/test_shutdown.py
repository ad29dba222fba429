"""Cleanup when a child process exits: atexit handlers run in every interpreter, sub
interpreters end before the main one, and an application's never-ending thread does not hang
the exit (mod_wsgi docs: "Registering Cleanup Code"; issue 3, "Cleanup").

A child exits on stop, on graceful restart and when MaxConnectionsPerChild is reached.
"""

import time

import pytest
import requests

from conftest import wait_for
from group_helpers import one_process

CONFIG = """
SetEnv TEST_TMP {tmp}
WSGIScriptAlias /a {apps}/groups/atexit.wsgi application-group=exit-a
WSGIScriptAlias /b {apps}/groups/atexit.wsgi application-group=exit-b
WSGIScriptAlias /main {apps}/groups/atexit.wsgi application-group=%{GLOBAL}
WSGIScriptAlias /hang-sub {apps}/groups/hang.wsgi application-group=hang-group
WSGIScriptAlias /hang-main {apps}/groups/hang.wsgi application-group=%{GLOBAL}
"""

LABELS = ("exit-a", "exit-b", "global")


def pid_of(session, server, path: str) -> int:
    r = session.get(server.url(path), timeout=15)
    assert r.status_code == 200, (path, r.status_code, r.text[:500])
    return int(r.text)


def register(server, paths, *, session=None) -> int:
    """Request every path (registering its handlers) over one connection; returns the pid."""
    own = session is None
    session = session or requests.Session()
    try:
        pids = {pid_of(session, server, path) for path in paths}
    finally:
        if own:
            session.close()
    assert len(pids) == 1, f"requests reached several processes: {pids}"
    return pids.pop()


def exit_order(server, pid: int) -> list[str]:
    path = server.tmp / f"exit-order-{pid}"
    if not path.exists():
        return []
    lines = [line.split() for line in path.read_text().splitlines() if line.strip()]
    return [label for label, _stamp in sorted(lines, key=lambda item: int(item[1]))]


def assert_clean_exit(server, pid: int, labels=LABELS) -> None:
    for label in labels:
        assert (server.tmp / f"atexit-{label}-{pid}").exists(), (
            f"atexit handler of {label!r} in process {pid} did not run; ran: {exit_order(server, pid)}"
        )
    order = exit_order(server, pid)
    if "global" in labels:
        # Sub interpreters end before the main interpreter does.
        assert order[-1] == "global", f"the main interpreter ended before a sub interpreter: {order}"


def test_atexit_runs_in_every_interpreter_at_stop(apache, mpm):
    server = apache(CONFIG + one_process(mpm))
    # The main interpreter registers last: were all handlers in one interpreter, its handler
    # would run first (atexit is last in, first out).
    pid = register(server, ["/a", "/b", "/main"])
    assert server.stop() == []
    assert_clean_exit(server, pid)
    assert sorted(exit_order(server, pid)) == sorted(LABELS), "a handler ran twice"


def test_atexit_runs_when_a_child_retires(apache):
    server = apache(CONFIG + one_process("event") + "MaxConnectionsPerChild 3\n")
    # One connection per request (a retiring child turns keep-alive off anyway), alternating
    # between the main and a sub interpreter, until a new child answers. The harness's start-up
    # probe may have been the first child's first connection, so it served two or three.
    served: dict[int, set[str]] = {}
    pids = []
    for i in range(8):
        path = ("/a", "/main")[i % 2]
        pid = register(server, [path])
        served.setdefault(pid, set()).add(path)
        pids.append(pid)
        if len(served) > 1:
            break
    assert len(served) > 1, f"the child never retired: {pids}"
    first = pids[0]
    assert served[first] == {"/a", "/main"}, served
    found = wait_for(lambda: len(exit_order(server, first)) == 2, 15)
    assert found, f"retired child {first} did not run its atexit handlers: {exit_order(server, first)}"
    assert_clean_exit(server, first, labels=("exit-a", "global"))


def test_atexit_runs_on_graceful_restart(apache, mpm):
    server = apache(CONFIG + one_process(mpm))
    pid = register(server, ["/a", "/b", "/main"])
    server.graceful()
    found = wait_for(lambda: len(exit_order(server, pid)) == len(LABELS), 15)
    assert found, f"old child {pid} did not run every atexit handler: {exit_order(server, pid)}"
    assert_clean_exit(server, pid)
    assert register(server, ["/a"]) != pid


@pytest.mark.parametrize("hang_path", ["/hang-sub", "/hang-main"])
def test_never_ending_thread_does_not_hang_the_exit(apache, mpm, hang_path):
    server = apache(CONFIG + one_process(mpm))
    # The hanging interpreter is touched last, so it is the newest: ended first when sub
    # interpreters end newest first, and every other interpreter still has to end after it.
    pid = register(server, ["/a", "/main", hang_path])
    started = time.monotonic()
    assert server.stop() == [], "the server did not stop"
    elapsed = time.monotonic() - started
    assert elapsed < 15, f"stopping took {elapsed:.1f}s"
    # The harness fails the test on AH00046 (the parent SIGKILLed the child) and on crashes.
    labels = ("exit-a", "global") if hang_path == "/hang-sub" else ("exit-a",)
    assert_clean_exit(server, pid, labels=labels)

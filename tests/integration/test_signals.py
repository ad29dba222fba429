"""mod_wsgi.subscribe_signals() (mod_wsgi 6 release notes): in a daemon process, SIGUSR2 and
SIGHUP reach the subscribers of every interpreter as process_signal {signame, signum} (the
subscribe_events callbacks too), on a thread of their own, and the process goes on serving.
Without a subscriber SIGHUP stops the process as SIGTERM does. In an Apache child the call is
logged and registers nothing."""

import json
import os
import signal
import threading
import time

import requests

from conftest import wait_for

CONFIG = """
SetEnv TEST_TMP {tmp}
WSGIDaemonProcess signals threads=2 shutdown-timeout=1 graceful-timeout=15
WSGIScriptAlias /main {apps}/groups/signals.wsgi process-group=signals application-group=%{GLOBAL}
WSGIScriptAlias /sub {apps}/groups/signals.wsgi process-group=signals application-group=sub
WSGIScriptAlias /plain {apps}/groups/signals.wsgi process-group=signals application-group=plain
WSGIScriptAlias /embedded {apps}/groups/signals.wsgi
"""


def get(server, path):
    r = requests.get(server.url(path), timeout=15)
    assert r.status_code == 200, (r.status_code, r.text[:500])
    return r.text


def events(server, label, pid):
    path = server.tmp / f"signal-{label}-{pid}"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


def wait_events(server, label, pid, count):
    assert wait_for(lambda: len(events(server, label, pid)) >= count, 10), events(server, label, pid)
    return events(server, label, pid)


def test_sigusr2_reaches_every_interpreter(apache):
    server = apache(CONFIG)
    pid, subscribed, count = get(server, "/main/subscribe").split()
    assert (subscribed, count) == ("True", "1")
    assert get(server, "/sub/subscribe").split()[0] == pid
    os.kill(int(pid), signal.SIGUSR2)
    for label in ("global", "sub"):
        got = wait_events(server, label, pid, 2)
        assert sorted(e["source"] for e in got) == ["events", "signals"], got
        for event in got:
            assert event["name"] == "process_signal"
            assert event["signame"] == "SIGUSR2" and event["signum"] == signal.SIGUSR2
    assert get(server, "/main/pid") == pid, "the process goes on"


def test_sighup_with_a_subscriber_is_delivered_not_a_stop(apache):
    server = apache(CONFIG)
    pid = get(server, "/main/subscribe").split()[0]
    os.kill(int(pid), signal.SIGHUP)
    got = wait_events(server, "global", pid, 2)
    assert {e["signame"] for e in got} == {"SIGHUP"} and {e["signum"] for e in got} == {1}
    assert get(server, "/main/pid") == pid


def test_sighup_while_draining_is_delivered_and_the_drain_goes_on(apache):
    # SIGUSR1 starts a graceful drain (up to graceful-timeout, 15 s) of a 4 s request; the
    # subscriber's SIGHUP meanwhile is published and does not cut it to shutdown-timeout.
    server = apache(CONFIG)
    pid = get(server, "/main/subscribe").split()[0]
    result = {}
    thread = threading.Thread(target=lambda: result.update(r=get(server, "/main/sleep?4")),
                              daemon=True)
    thread.start()
    time.sleep(1.0)  # the request is in the daemon process
    os.kill(int(pid), signal.SIGUSR1)
    time.sleep(0.5)
    os.kill(int(pid), signal.SIGHUP)
    thread.join(20)
    assert result.get("r") == pid, "the request in flight was cut"
    assert any(e["signame"] == "SIGHUP" for e in events(server, "global", pid))


def test_a_slow_subscriber_does_not_keep_the_process_from_stopping(apache):
    # The callback sleeps 60 s on its own thread: the process still serves, and SIGTERM
    # still ends it within shutdown-timeout and a second.
    server = apache(CONFIG)
    pid = get(server, "/main/slow")
    os.kill(int(pid), signal.SIGUSR2)
    time.sleep(0.5)
    assert get(server, "/main/pid") == pid, "serving while the callback runs"
    started = time.monotonic()
    os.kill(int(pid), signal.SIGTERM)
    assert wait_for(lambda: not os.path.exists(f"/proc/{pid}"), 15), "still running"
    assert time.monotonic() - started < 8


def test_sighup_without_a_subscriber_stops_the_process(apache):
    server = apache(CONFIG)
    pid = get(server, "/plain/pid")
    os.kill(int(pid), signal.SIGHUP)
    assert wait_for(lambda: get(server, "/plain/pid") != pid, 15), "the process was not replaced"
    server.wait_log(rf"Daemon process 'signals' \(pid={pid}\) stopping: shutdown signal", expect=False)


def test_embedded_mode_registers_nothing(apache):
    server = apache(CONFIG)
    pid, returned, count = get(server, "/embedded/subscribe").split()
    assert (returned, count) == ("True", "0")  # returned as a decorator would need, not kept
    line = server.wait_log(r"WSGI0026: mod_wsgi.subscribe_signals\(\) does nothing in embedded mode",
                           expect=False)
    assert line
    server.wait_log(r"signals.wsgi\", line \d+, in application", expect=False)

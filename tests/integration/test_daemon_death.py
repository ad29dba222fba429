"""A daemon process that dies under a request: the request gets 502 and one log line naming
the process group, the pid and how it died (a signal, an exit status, a memory limit); the
parent starts a new process."""

import os
import re
import signal
import threading
import time

import requests

CONFIG = """
WSGIDaemonProcess dying threads=2
WSGIScriptAlias /dying {apps}/timeouts/sleepy.wsgi process-group=dying
"""


def test_death_before_headers_is_502_naming_pid_and_signal(apache):
    server = apache(CONFIG)
    server.expect_log(r"WSGI0146")
    pid = int(requests.get(server.url("/dying/pid"), timeout=10).text)
    result = {}

    def slow():
        result["response"] = requests.get(server.url("/dying/sleep?10"), timeout=20)

    worker = threading.Thread(target=slow, daemon=True)
    worker.start()
    time.sleep(0.5)
    os.kill(pid, signal.SIGKILL)
    worker.join(20)
    assert result["response"].status_code == 502
    line = server.wait_log(
        rf"WSGI0146: Daemon process 'dying': .*pid={pid} terminated by signal 9"
    ).group(0)
    assert "dying" in line
    # Service resumes with a new process.
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        r = requests.get(server.url("/dying/pid"), timeout=10)
        if r.status_code == 200 and int(r.text) != pid:
            break
        time.sleep(0.2)
    else:
        raise AssertionError("no new daemon process served the group")


ENDING_CONFIG = """
WSGIDaemonProcess ending threads=1
WSGIScriptAlias /ending {apps}/death/ending.wsgi process-group=ending
WSGIDaemonProcess limited threads=1 memory-limit=268435456
WSGIScriptAlias /limited {apps}/death/ending.wsgi process-group=limited
"""


def _new_pid(server, prefix: str, old: int) -> int:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        r = requests.get(server.url(f"{prefix}/pid"), timeout=10)
        if r.status_code == 200 and int(r.text) != old:
            return int(r.text)
        time.sleep(0.2)
    raise AssertionError(f"no new daemon process served {prefix}")


def test_exit_status_is_told_from_a_signal(apache):
    # httpd hands the parent either an exit status or a signal number, not which: os._exit(3)
    # must not read "terminated by signal 3 (Quit)", nor os._exit(9) "signal 9 (Killed)".
    server = apache(ENDING_CONFIG)
    server.expect_log(r"WSGI0146")
    pid = int(requests.get(server.url("/ending/pid"), timeout=10).text)
    for status in (3, 9):
        r = requests.get(server.url(f"/ending/exit?{status}"), timeout=20)
        assert r.status_code == 502, (r.status_code, r.text[:300])
        line = server.wait_log(rf"WSGI0146: Daemon process 'ending': .*pid={pid} [^\n]*", 5).group(0)
        assert f"pid={pid} exited with status {status}" in line, line
        parent = server.wait_log(
            rf"Daemon process 'ending' \(pid={pid}\) [^;]*; restarting it", 5, expect=False
        ).group(0)
        assert f"exited with status {status}; restarting it" in parent, parent
        assert "signal" not in parent, parent
        pid = _new_pid(server, "/ending", pid)


def test_a_signal_at_the_memory_limit_names_the_limit(apache):
    server = apache(ENDING_CONFIG)
    server.expect_log(r"WSGI0146")
    pid = int(requests.get(server.url("/limited/pid"), timeout=10).text)
    server.tolerate_log(rf"AH00052: child pid {pid} exit signal Abort \(6\)")
    r = requests.get(server.url("/limited/abort-at-limit"), timeout=30)
    assert r.status_code == 502, (r.status_code, r.text[:300])
    line = server.wait_log(rf"WSGI0146: Daemon process 'limited': .*pid={pid} [^\n]*", 5).group(0)
    m = re.search(
        rf"pid={pid} terminated by signal 6 \(Aborted\) at its memory-limit "
        r"\(using (\d+) of 256 MiB\)",
        line,
    )
    assert m, line
    assert 230 <= int(m.group(1)) <= 256, line
    server.wait_log(
        rf"Daemon process 'limited' \(pid={pid}\) terminated by signal 6 \(Aborted\) at its "
        r"memory-limit \(using \d+ of 256 MiB\)",
        5,
        expect=False,
    )
    _new_pid(server, "/limited", pid)
    # Without a memory limit a signal is only a signal; a kill -9 is not mistaken for an exit.
    pid = int(requests.get(server.url("/ending/pid"), timeout=10).text)
    os.kill(pid, signal.SIGKILL)
    line = server.wait_log(
        rf"Daemon process 'ending' \(pid={pid}\) [^;]*; restarting it", 5, expect=False
    ).group(0)
    assert f"pid={pid}) terminated by signal 9 (Killed); restarting it" in line, line

"""A daemon process that dies under a request: the request gets 502 and one log line naming
the process group, the pid and how it died; the parent starts a new process."""

import os
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

"""Daemon process options that bound requests: request-timeout restarts a process whose
request is stuck; queue-timeout refuses a request that waited too long for a thread."""

import threading
import time

import requests

CONFIG = """
WSGIDaemonProcess stuck threads=1 request-timeout=2 shutdown-timeout=1
WSGIScriptAlias /stuck {apps}/timeouts/sleepy.wsgi process-group=stuck
WSGIDaemonProcess queued threads=1 queue-timeout=1
WSGIScriptAlias /queued {apps}/timeouts/sleepy.wsgi process-group=queued
"""


def test_request_timeout_restarts_a_stuck_process(apache):
    server = apache(CONFIG)
    server.expect_log(r"WSGI0121|WSGI0146|WSGI0148|closed the connection")
    first = int(requests.get(server.url("/stuck/pid"), timeout=10).text)
    started = time.monotonic()
    stuck = requests.get(server.url("/stuck/sleep?30"), timeout=20)
    elapsed = time.monotonic() - started
    # The stuck request does not wait its 30 s: the process is restarted after ~2 s.
    assert elapsed < 12, elapsed
    assert stuck.status_code == 504  # answered at once; the stuck thread is left behind
    server.wait_log(r"WSGI0121: Daemon process 'stuck'")
    deadline = time.monotonic() + 15
    pid = first
    while pid == first and time.monotonic() < deadline:
        r = requests.get(server.url("/stuck/pid"), timeout=10)
        assert r.status_code == 200
        pid = int(r.text)
    assert pid != first, "the stuck daemon process was not replaced"


def test_queue_timeout_refuses_a_request_that_waited_too_long(apache):
    server = apache(CONFIG)
    server.expect_log(r"WSGI0125")
    requests.get(server.url("/queued/pid"), timeout=10)  # process up
    busy = threading.Thread(
        target=lambda: requests.get(server.url("/queued/sleep?3"), timeout=20), daemon=True
    )
    busy.start()
    time.sleep(0.5)  # the only thread is now busy for 3 s
    waited = requests.get(server.url("/queued/pid"), timeout=20)
    busy.join(20)
    assert waited.status_code == 504
    server.wait_log(r"WSGI0125: Request waited longer than queue-timeout")

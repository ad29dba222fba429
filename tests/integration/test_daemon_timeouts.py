"""Daemon process options that bound requests: request-timeout restarts a process whose
request is stuck, or with interrupt-timeout first raises mod_wsgi.RequestTimeout in it;
queue-timeout refuses a request that waited too long for a thread."""

import socket
import threading
import time

import pytest
import requests

CONFIG = """
WSGIDaemonProcess stuck threads=1 request-timeout=2 shutdown-timeout=1
WSGIScriptAlias /stuck {apps}/timeouts/sleepy.wsgi process-group=stuck
WSGIDaemonProcess queued threads=1 queue-timeout=1
WSGIScriptAlias /queued {apps}/timeouts/sleepy.wsgi process-group=queued
WSGIDaemonProcess interrupted threads=2 request-timeout=2 interrupt-timeout=3 shutdown-timeout=1
WSGIScriptAlias /interrupted {apps}/timeouts/sleepy.wsgi process-group=interrupted
WSGIDaemonProcess scaled threads=4 request-timeout=1 shutdown-timeout=1
WSGIScriptAlias /scaled {apps}/timeouts/sleepy.wsgi process-group=scaled
WSGIDaemonProcess full threads=1 listen-backlog=1 connect-timeout=2
WSGIScriptAlias /full {apps}/timeouts/sleepy.wsgi process-group=full
WSGIDaemonProcess slowclient threads=2 response-socket-timeout=1
WSGIScriptAlias /slowclient {apps}/daemon/body.wsgi process-group=slowclient
"""


def assert_replaced(server, prefix: str, first: int) -> None:
    """Waits (bounded) until `prefix`/pid is served by a process other than `first`."""
    deadline = time.monotonic() + 15
    pid = first
    while pid == first and time.monotonic() < deadline:
        r = requests.get(server.url(f"{prefix}/pid"), timeout=10)
        assert r.status_code == 200
        pid = int(r.text)
    assert pid != first, f"the daemon process behind {prefix} was not replaced"


@pytest.mark.parametrize("group", ["stuck", "interrupted"])
def test_request_timeout_restarts_a_stuck_process(apache, group):
    # The stuck request does not wait its 30 s: answered 504 at once, the process restarted
    # after ~2 s (its thread is left behind). With interrupt-timeout ("interrupted") the
    # request, blocked in C code (time.sleep), cannot take mod_wsgi.RequestTimeout within it,
    # and the same follows.
    server = apache(CONFIG)
    server.expect_log(r"WSGI0121|WSGI0126|WSGI0146|WSGI0148|closed the connection")
    first = int(requests.get(server.url(f"/{group}/pid"), timeout=10).text)
    started = time.monotonic()
    stuck = requests.get(server.url(f"/{group}/sleep?30"), timeout=20)
    elapsed = time.monotonic() - started
    assert elapsed < 15, elapsed
    assert stuck.status_code == 504
    server.wait_log(rf"WSGI0121: Daemon process '{group}'")
    assert_replaced(server, f"/{group}", first)


def test_request_timeout_grows_with_the_threads(apache):
    # mod_wsgi docs: request-timeout * (1 + ln(threads)); with 4 threads and 1 s, 2.4 s.
    server = apache(CONFIG)
    server.expect_log(r"WSGI0121|WSGI0146|WSGI0148|closed the connection")
    assert requests.get(server.url("/scaled/sleep?1.6"), timeout=20).status_code == 200
    assert "WSGI0121" not in server.error_log()
    assert requests.get(server.url("/scaled/sleep?30"), timeout=20).status_code == 504
    server.wait_log(r"WSGI0121: Daemon process 'scaled' .* ran longer than 2\.4 s "
                    r"\(request-timeout 1 s, 4 threads\)")


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


def test_connect_timeout_bounds_the_wait_for_a_full_backlog(apache):
    # One thread, busy for 12 s, and a backlog of 1: the requests that find no room are
    # answered 503 after connect-timeout (2 s), not held until the thread is free.
    server = apache(CONFIG)
    server.expect_log(r"WSGI0116")
    requests.get(server.url("/full/pid"), timeout=10)  # process up
    busy = threading.Thread(
        target=lambda: requests.get(server.url("/full/sleep?12"), timeout=30), daemon=True
    )
    busy.start()
    time.sleep(1.0)  # the only thread is busy now
    results = []

    def attempt():
        started = time.monotonic()
        status = requests.get(server.url("/full/pid"), timeout=30).status_code
        results.append((status, time.monotonic() - started))

    waiting = [threading.Thread(target=attempt, daemon=True) for _ in range(6)]
    for thread in waiting:
        thread.start()
    for thread in waiting:
        thread.join(30)
    busy.join(30)
    refused = [elapsed for status, elapsed in results if status == 503]
    assert refused, results
    assert max(refused) < 8, results  # connect-timeout, not the 12 s the thread was busy
    server.wait_log(r"WSGI0116: Unable to connect to WSGI daemon process 'full' .* within "
                    r"connect-timeout")


def test_interrupt_timeout_unwinds_the_request_and_keeps_the_process(apache):
    # mod_wsgi.RequestTimeout (a BaseException: `except Exception` does not stop it) ends the
    # request with 504; the other thread's request and the process are untouched.
    server = apache(CONFIG)
    server.expect_log(r"WSGI0126|WSGI0002|RequestTimeout|Traceback|File |spin|sum\(|\^")
    first = int(requests.get(server.url("/interrupted/pid"), timeout=10).text)
    sibling = {}
    thread = threading.Thread(target=lambda: sibling.update(
        r=requests.get(server.url("/interrupted/sleep?1"), timeout=20)), daemon=True)
    thread.start()
    started = time.monotonic()
    spun = requests.get(server.url("/interrupted/spin?30"), timeout=20)
    elapsed = time.monotonic() - started
    thread.join(20)
    assert spun.status_code == 504
    assert elapsed < 10, elapsed  # not the 30 s it asked for
    assert sibling["r"].status_code == 200 and int(sibling["r"].text) == first
    server.wait_log(r"WSGI0126: Daemon process 'interrupted' .* raising mod_wsgi.RequestTimeout")
    assert int(requests.get(server.url("/interrupted/pid"), timeout=10).text) == first
    assert "WSGI0121" not in server.error_log(), "the process was restarted"


def test_response_socket_timeout_gives_up_on_a_client_that_stops_reading(apache):
    # Each write of the response to the client waits at most response-socket-timeout (1 s),
    # not Apache's Timeout (20 s): a client that stops reading loses the connection.
    server = apache(CONFIG)
    server.expect_log(r"WSGI014[4-9]|closed the connection|timed out|timeout|Broken pipe")
    blocks = 64  # 64 MiB: far more than the socket buffers hold
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        s.sendall(f"GET /slowclient/download?{blocks} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                  "Connection: close\r\n\r\n".encode())
        received = len(s.recv(65536))
        time.sleep(5)  # the writes stall for longer than the timeout
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                chunk = s.recv(1 << 20)
            except ConnectionResetError:
                break
            if not chunk:
                break
            received += len(chunk)
    assert received < blocks << 20, "the whole response arrived: no write timed out"

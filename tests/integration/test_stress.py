"""Stress: 64 concurrent clients across three application groups (the main interpreter, a named
sub interpreter and a %{RESOURCE} one) under mpm_event, for a bounded time.

Every response must be a 200 naming the right group and echoing the client's token (and, for a
POST, the body's digest); no client may hang (a deadlock); one interpreter must always answer
for one group in one process; the harness fails the test on crashed children (AH00052).
"""

import hashlib
import os
import random
import threading
import time
import uuid

import requests

from group_helpers import resource_group

CONFIG = """
WSGIScriptAlias /s-main {apps}/groups/stress.wsgi application-group=%{GLOBAL}
WSGIScriptAlias /s-named {apps}/groups/stress.wsgi application-group=stress-named
WSGIScriptAlias /s-res {apps}/groups/stress.wsgi
StartServers 2
ServerLimit 4
ThreadLimit 16
ThreadsPerChild 16
MaxRequestWorkers 64
MinSpareThreads 16
MaxSpareThreads 64
"""

CLIENTS = 64
REQUESTS_PER_CLIENT = 50
# A bound for the whole run that only a hang reaches (a request times out after 20 s): this is
# not a speed test, and a busy CI machine makes the run several times slower than a quiet one.
DEADLINE_SECONDS = 120.0


def test_concurrent_clients_across_three_groups(apache):
    server = apache(CONFIG, mpm="event")
    groups = {"/s-main": "", "/s-named": "stress-named", "/s-res": resource_group(server, "/s-res")}
    paths = sorted(groups)
    errors: list[str] = []
    # (pid, group) -> interpreter markers seen
    markers: dict[tuple[int, str], set[str]] = {}
    done = [0]
    lock = threading.Lock()
    deadline = time.monotonic() + DEADLINE_SECONDS

    def fail(message: str) -> None:
        with lock:
            errors.append(message)

    def client(index: int) -> None:
        rng = random.Random(index)
        with requests.Session() as session:
            # A connection per request: mpm_event closes idle keep-alive connections when its
            # workers are all busy, and a request racing that close would fail on the client.
            session.headers["Connection"] = "close"
            for i in range(REQUESTS_PER_CLIENT):
                if time.monotonic() > deadline:
                    fail(f"client {index}: deadline passed after {i} requests")
                    return
                path = paths[(index + i) % len(paths)]
                token = uuid.uuid4().hex
                body = None
                if i % 4 == 3:
                    body = os.urandom(rng.randint(1, 64 * 1024))
                try:
                    if body is None:
                        r = session.get(server.url(f"{path}?{token}"), timeout=20)
                    else:
                        r = session.post(server.url(f"{path}?{token}"), data=body, timeout=20)
                except requests.RequestException as e:
                    fail(f"client {index} {path}: {type(e).__name__}: {e}")
                    return
                if r.status_code != 200:
                    fail(f"client {index} {path}: status {r.status_code}: {r.text[:200]!r}")
                    continue
                lines = r.text.split("\n")
                want_lines = 7 if body is not None else 6
                if len(lines) != want_lines:
                    fail(f"client {index} {path}: malformed body {r.text[:300]!r}")
                    continue
                environ_group, module_group, echoed, marker, pid = lines[:5]
                expected = groups[path]
                if (environ_group, module_group, echoed) != (expected, expected, token):
                    fail(f"client {index} {path}: wanted {expected!r}/{token}, got {lines[:3]}")
                    continue
                if body is not None and lines[5] != hashlib.sha256(body).hexdigest():
                    fail(f"client {index} {path}: request body digest differs")
                    continue
                with lock:
                    markers.setdefault((int(pid), expected), set()).add(marker)
                    done[0] += 1

    threads = [threading.Thread(target=client, args=(n,), name=f"client-{n}") for n in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()) + 25)
    stuck = [t.name for t in threads if t.is_alive()]
    assert not stuck, f"{len(stuck)} clients still waiting for an answer (deadlock?): {stuck[:5]}"
    assert not errors, f"{len(errors)} bad responses, e.g.:\n" + "\n".join(errors[:10])
    assert done[0] == CLIENTS * REQUESTS_PER_CLIENT

    # One interpreter per group and process, and never one interpreter for two groups.
    for (pid, group), seen in markers.items():
        assert len(seen) == 1, f"process {pid} answered for group {group!r} from {len(seen)} interpreters"
    by_pid: dict[int, dict[str, str]] = {}
    for (pid, group), seen in markers.items():
        by_pid.setdefault(pid, {})[group] = next(iter(seen))
    for pid, per_group in by_pid.items():
        assert len(set(per_group.values())) == len(per_group), (
            f"process {pid}: two groups share an interpreter: {per_group}"
        )

    # The server is still healthy afterwards.
    for path, expected in groups.items():
        r = requests.get(server.url(f"{path}?after"), timeout=10)
        assert r.status_code == 200 and r.text.split("\n")[0] == expected

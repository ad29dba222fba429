"""Says which interpreter served a request, for the stress test.

The answer is five lines: the environ's application group, mod_wsgi.application_group, the
query string (the client's token), a marker made once per interpreter, and the pid; for a POST a
sixth line holds the SHA-256 of the request body. Each request also does a little Python work
under a module lock, so that threads of one interpreter contend for it.
"""

import hashlib
import os
import sys
import threading
import uuid

import mod_wsgi

if not hasattr(sys, "_stress_marker"):
    sys._stress_marker = uuid.uuid4().hex  # one per interpreter: each has its own sys

_lock = threading.Lock()
_served = 0


def application(environ, start_response):
    global _served
    with _lock:
        _served += 1
    total = sum(i * i for i in range(200))  # some bytecode between the GIL switches
    lines = [
        environ["mod_wsgi.application_group"],
        mod_wsgi.application_group,
        environ["QUERY_STRING"],
        sys._stress_marker,
        str(os.getpid()),
    ]
    if environ["REQUEST_METHOD"] == "POST":
        length = int(environ.get("CONTENT_LENGTH") or 0)
        lines.append(hashlib.sha256(environ["wsgi.input"].read(length)).hexdigest())
    body = ("\n".join(lines) + "\n").encode("utf-8")
    assert total == 2646700
    start_response("200 OK", [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))])
    return [body]

"""Registers, on its first request in an interpreter, an atexit handler recording the exit.

The handler writes <TEST_TMP>/atexit-<group>-<pid> ("global" for the main interpreter) and
appends "<group> <time.monotonic_ns()>" to <TEST_TMP>/exit-order-<pid>, so a test can tell the
order in which the interpreters of one process ended.

/  -- registers (once per interpreter) and answers the pid.
"""

import atexit
import os
import threading
import time

_registered = False
_lock = threading.Lock()


def _at_exit(tmp, label, pid):
    with open(os.path.join(tmp, f"atexit-{label}-{pid}"), "w") as f:
        f.write("atexit ran\n")
    fd = os.open(os.path.join(tmp, f"exit-order-{pid}"), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.write(fd, f"{label} {time.monotonic_ns()}\n".encode())
    finally:
        os.close(fd)


def application(environ, start_response):
    global _registered
    with _lock:
        if not _registered:
            label = environ["mod_wsgi.application_group"] or "global"
            atexit.register(_at_exit, environ["TEST_TMP"], label, os.getpid())
            _registered = True
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [str(os.getpid()).encode()]

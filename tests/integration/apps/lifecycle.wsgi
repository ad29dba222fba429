"""Process lifecycle probes.

/atexit  -- registers an atexit handler that writes <TEST_TMP>/atexit-<pid> at interpreter exit;
/slow    -- writes <TEST_TMP>/slow-started-<id>, sleeps 2 s in Python, writes slow-finished-<id>;
/fast    -- answers at once.
"""

import atexit
import os
import time

_registered = False


def _mark(environ, name):
    path = os.path.join(environ["TEST_TMP"], name)
    with open(path, "w") as f:
        f.write(str(os.getpid()))


def _at_exit(path):
    with open(path, "w") as f:
        f.write("atexit ran\n")


def application(environ, start_response):
    global _registered
    mode = environ["PATH_INFO"]
    token = environ["QUERY_STRING"]
    if mode == "/atexit":
        if not _registered:
            atexit.register(_at_exit, os.path.join(environ["TEST_TMP"], f"atexit-{os.getpid()}"))
            _registered = True
        body = str(os.getpid()).encode()
    elif mode == "/slow":
        _mark(environ, f"slow-started-{token}")
        time.sleep(2)
        _mark(environ, f"slow-finished-{token}")
        body = b"slow"
    elif mode == "/fast":
        body = b"fast"
    else:
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"unknown mode"]
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [body]

"""Starts, on its first request in an interpreter, a non-daemon thread that never ends.

Python's shutdown of the interpreter waits for non-daemon threads; the process must still exit
in bounded time.

/  -- starts the thread (once per interpreter) and answers the pid.
"""

import os
import threading
import time

_started = False
_lock = threading.Lock()


def _forever():
    while True:
        time.sleep(0.05)


def application(environ, start_response):
    global _started
    with _lock:
        if not _started:
            threading.Thread(target=_forever, name="never-ends", daemon=False).start()
            _started = True
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [str(os.getpid()).encode()]

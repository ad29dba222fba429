"""Imports threading from a request thread and runs a daemon thread, like many frameworks do.

The process must still shut down promptly: threading records the thread that first imported it
as the main thread, and interpreter shutdown waits on that thread.  An atexit handler writes
<TEST_TMP>/threads-atexit-<pid> to show Python finalised.
"""

import atexit
import os
import threading
import time


def _background():
    while True:
        time.sleep(0.1)


threading.Thread(target=_background, name="background", daemon=True).start()


def _at_exit(path):
    with open(path, "w") as f:
        f.write("finalised\n")


_registered = set()


def application(environ, start_response):
    pid = os.getpid()
    if pid not in _registered:
        atexit.register(_at_exit, os.path.join(environ["TEST_TMP"], f"threads-atexit-{pid}"))
        _registered.add(pid)
    body = f"{pid} {threading.active_count()}".encode()
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [body]

"""Fault-injection app.

/pid        the daemon process's pid
/echo?X     answers "echo:X:<pid>" (the test checks the body it asked for)
/sleep?N    sleeps N seconds in Python (the GIL is released)
/gil?N      sleeps N seconds in C with the GIL held (ctypes.PyDLL keeps it): a stuck GIL
/segv       reads address 0 (ctypes): the daemon process dies of SIGSEGV, as with a crashing C
            extension

Every request first appends its pid to $MARKER_DIR/ran (MARKER_DIR comes from SetEnv), so a
test can tell whether application code ran at all.
"""

import ctypes
import os
import time


def application(environ, start_response):
    marker_dir = environ.get("MARKER_DIR")
    if marker_dir:
        with open(os.path.join(marker_dir, "ran"), "a") as f:
            f.write(f"{os.getpid()} uid={os.getuid()} {environ.get('PATH_INFO', '')}\n")
    path = environ.get("PATH_INFO", "")
    query = environ.get("QUERY_STRING", "")
    if path == "/sleep":
        time.sleep(float(query or "30"))
    elif path == "/gil":
        ctypes.PyDLL(None).sleep(int(query or "60"))
    elif path == "/segv":
        ctypes.string_at(0)
    if path == "/echo":
        body = f"echo:{query}:{os.getpid()}"
    else:
        body = str(os.getpid())
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [body.encode()]

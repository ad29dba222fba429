"""/sleep?N sleeps N seconds in Python; /spin?N loops in Python for N seconds, catching
every Exception on the way (as careless code does); anything else answers with the daemon's
pid."""

import os
import time


def spin(seconds):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            sum(range(1000))
        except Exception:  # noqa: BLE001 - the point: mod_wsgi.RequestTimeout is not one
            pass


def application(environ, start_response):
    if environ["PATH_INFO"] == "/sleep":
        time.sleep(float(environ["QUERY_STRING"] or "30"))
    if environ["PATH_INFO"] == "/spin":
        spin(float(environ["QUERY_STRING"] or "30"))
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [str(os.getpid()).encode()]

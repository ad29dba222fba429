"""Registers shutdown callbacks on its first request; they write files into TEST_TMP.

subscribe_shutdown(callback) writes stopping-<group>-<pid> ("global" for the main interpreter)
holding JSON: the event name and payload; a subscribe_events() callback writes
stopping-events-<group>-<pid> holding the names of the process-level events it saw (events of
requests are left out).

/  -- registers (once) and answers the pid.
"""

import json
import os
import threading

import mod_wsgi

_registered = False
_lock = threading.Lock()


def _label():
    return mod_wsgi.application_group or "global"


def _register(tmp):
    label = _label()
    pid = os.getpid()

    def on_shutdown(name, **event):
        payload = {key: value for key, value in event.items() if isinstance(value, (str, int, float))}
        with open(os.path.join(tmp, f"stopping-{label}-{pid}"), "w") as f:
            json.dump({"name": name, "payload": payload}, f)

    def on_event(name, **event):
        if "request_data" in event or name.startswith(("request_", "response_")):
            return
        with open(os.path.join(tmp, f"stopping-events-{label}-{pid}"), "a") as f:
            f.write(name + "\n")

    assert mod_wsgi.subscribe_shutdown(on_shutdown) is on_shutdown
    mod_wsgi.subscribe_events(on_event)


def application(environ, start_response):
    global _registered
    with _lock:
        if not _registered:
            _register(environ["TEST_TMP"])
            _registered = True
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [str(os.getpid()).encode()]

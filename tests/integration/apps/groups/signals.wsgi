"""mod_wsgi.subscribe_signals() (mod_wsgi 6): records the process_signal events it gets.

/subscribe  -- subscribes (once per interpreter) a subscribe_signals() callback and a
               subscribe_events() one; each appends a JSON line to
               TEST_TMP/signal-<group>-<pid> ("global" for the main interpreter, '/' as '_'): the source,
               the event name and its payload. Answers "<pid> <returned is callback>
               <len(mod_wsgi.signal_callbacks)>".
/slow       -- subscribes (once) a subscribe_signals() callback that sleeps 60 s.
/sleep?N    -- sleeps N seconds, then answers the pid.
/pid        -- answers the pid.
"""

import json
import os
import threading
import time

import mod_wsgi

_subscribed = None
_slow = False
_lock = threading.Lock()


def _recorder(tmp, source):
    label = (mod_wsgi.application_group or "global").replace("/", "_")

    def record(name, **event):
        if "request_data" in event or name.startswith(("request_", "response_")):
            return
        with open(os.path.join(tmp, f"signal-{label}-{os.getpid()}"), "a") as f:
            f.write(json.dumps({"source": source, "name": name, **event}) + "\n")

    return record


def _sleep(name, **event):
    time.sleep(60)


def application(environ, start_response):
    global _subscribed, _slow
    body = str(os.getpid())
    if environ["PATH_INFO"] == "/sleep":
        time.sleep(float(environ["QUERY_STRING"]))
    if environ["PATH_INFO"] == "/slow":
        with _lock:
            if not _slow:
                mod_wsgi.subscribe_signals(_sleep)
                _slow = True
    if environ["PATH_INFO"] == "/subscribe":
        with _lock:
            if _subscribed is None:
                callback = _recorder(environ["TEST_TMP"], "signals")
                _subscribed = mod_wsgi.subscribe_signals(callback) is callback
                mod_wsgi.subscribe_events(_recorder(environ["TEST_TMP"], "events"))
        body += f" {_subscribed} {len(mod_wsgi.signal_callbacks)}"
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [body.encode()]

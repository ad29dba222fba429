"""Reports the metrics functions of the mod_wsgi module.

/before  -- JSON: request_metrics() and process_metrics() before recording was started (null when
            they return None) and whether start_recording_metrics exists.
/after   -- starts recording (when the function exists), then JSON: process_metrics(),
            request_metrics() and server_metrics(), with non-JSON values as their type names.
"""

import json

import mod_wsgi


def _plain(value):
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return type(value).__name__


def application(environ, start_response):
    mode = environ["PATH_INFO"]
    has_start = hasattr(mod_wsgi, "start_recording_metrics")
    if mode == "/before":
        data = {
            "has_start": has_start,
            "request_metrics": _plain(mod_wsgi.request_metrics()),
            "process_metrics": _plain(mod_wsgi.process_metrics()),
        }
    elif mode == "/after":
        if has_start:
            mod_wsgi.start_recording_metrics()
        data = {
            "process_metrics": _plain(mod_wsgi.process_metrics()),
            "request_metrics": _plain(mod_wsgi.request_metrics()),
            "server_metrics": _plain(mod_wsgi.server_metrics()),
        }
    else:
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"unknown mode"]
    body = json.dumps(data).encode()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [body]

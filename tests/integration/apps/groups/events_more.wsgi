"""More of the mod_wsgi module: a raising subscriber, response_started, active_requests, the
environ keys of mod_wsgi, server_metrics() and request_metrics().

Events are filed under the request's query string (read from the environ at request_started).

/hello?T        -- 200 "hello T" (two headers)
/active?T       -- JSON: what mod_wsgi.active_requests holds for this request
/environ?T      -- JSON: mod_wsgi.request_id, thread_id, thread_requests, total_requests
/teapot?T       -- 418 with a body read from the request
/report?T       -- JSON: the events filed under T
/server         -- JSON: server_metrics() summarised
/metrics        -- starts recording (once), then JSON: request_metrics()
"""

import json
import os
import threading

import mod_wsgi

_events = {}
_lock = threading.Lock()


def _token(event):
    data = event.get("request_data")
    return data.get("token") if isinstance(data, dict) else None


def first(name, **event):
    if name == "request_started":
        environ = event["request_environ"]
        if environ["PATH_INFO"] != "/report":
            event["request_data"]["token"] = environ["QUERY_STRING"]
        if environ["PATH_INFO"] == "/hello":
            raise RuntimeError("subscriber failed on purpose " + environ["QUERY_STRING"])


def second(name, **event):
    token = _token(event)
    if token is None:
        return
    record = {"name": name}
    if name == "response_started":
        record.update(
            status=event["response_status"],
            headers=[list(h) for h in event["response_headers"]],
            exc_info=event["exception_info"],
            has_request_id="request_id" in event,
        )
    elif name == "request_finished":
        record.update(
            status=event["status"],
            input_length=event["input_length"],
            input_reads=event["input_reads"],
            output_writes=event["output_writes"],
            has_cpu="cpu_time" in event,
            request_id=event.get("request_id"),
        )
    elif name == "request_started":
        record.update(request_id=event.get("request_id"), thread_id=event["thread_id"])
    with _lock:
        _events.setdefault(token, []).append(record)


mod_wsgi.subscribe_events(first)
mod_wsgi.subscribe_events(second)

_recording = False


def _json(start_response, data, status="200 OK"):
    body = json.dumps(data).encode()
    start_response(status, [("Content-Type", "application/json")])
    return [body]


def application(environ, start_response):
    global _recording
    mode = environ["PATH_INFO"]
    token = environ["QUERY_STRING"]
    if mode == "/hello":
        start_response("200 OK", [("Content-Type", "text/plain"), ("X-Token", token)])
        return [f"hello {token}".encode()]
    if mode == "/active":
        active = mod_wsgi.active_requests
        mine = active.get(environ["mod_wsgi.request_id"])
        return _json(
            start_response,
            {
                "count": len(active),
                "found": mine is not None,
                "is_request_data": mine is mod_wsgi.request_data(),
            },
        )
    if mode == "/environ":
        return _json(
            start_response,
            {
                "request_id": environ.get("mod_wsgi.request_id"),
                "thread_id": environ.get("mod_wsgi.thread_id"),
                "thread_requests": environ.get("mod_wsgi.thread_requests"),
                "total_requests": environ.get("mod_wsgi.total_requests"),
                "server_pid": environ.get("mod_wsgi.server_pid"),
                "pid": os.getpid(),
            },
        )
    if mode == "/teapot":
        body = environ["wsgi.input"].read()
        start_response("418 I'm a teapot", [("Content-Type", "text/plain")])
        return [body]
    if mode == "/report":
        with _lock:
            return _json(start_response, _events.get(token, []))
    if mode == "/server":
        metrics = mod_wsgi.server_metrics()
        if metrics is None:
            return _json(start_response, None)
        mine = [p for p in metrics["processes"] if p["pid"] == os.getpid()]
        return _json(
            start_response,
            {
                "keys": sorted(k for k in metrics if k != "processes"),
                "mine": len(mine),
                "worker_keys": sorted(mine[0]["workers"][0]) if mine else [],
                "statuses": sorted({w["status"] for p in mine for w in p["workers"]}),
            },
        )
    if mode == "/metrics":
        if not _recording:
            mod_wsgi.start_recording_metrics()
            _recording = True
        return _json(start_response, mod_wsgi.request_metrics())
    start_response("404 Not Found", [("Content-Type", "text/plain")])
    return [b"unknown mode"]

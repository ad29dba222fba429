"""Subscribes to mod_wsgi events at import and reports what the subscribers received.

Events are filed under the request's token: the query string, which the first subscriber
stores in the request's request_data() dict at request_started (except for /report requests).

/hello?T    -- 200 "hello T"
/post?T     -- reads the request body and answers its length
/boom?T     -- raises ValueError("boom T")
/wrapped?T  -- the first subscriber swaps application_object for a wrapper adding "wrapped: "
/data?T     -- JSON: the keys request_data() held when the application started, and whether
               it is the very dict the subscribers got; then stores "app" in it
/report?T   -- JSON: the events filed under T
/outside    -- calls request_data() on a thread that serves no request: the exception's type
/subscribe  -- JSON: whether subscribe_events() returned the callback it was given
"""

import json
import os
import threading

import mod_wsgi

_events = {}
_lock = threading.Lock()


def _file(token, record):
    with _lock:
        _events.setdefault(token, []).append(record)


def _wrap(inner):
    def wrapper(environ, start_response):
        return [b"wrapped: " + b"".join(inner(environ, start_response))]

    return wrapper


def first(name, **event):
    data = event.get("request_data")
    if name == "request_started":
        environ = event["request_environ"]
        if environ["PATH_INFO"] != "/report":  # reports are not filed under their own token
            data["token"] = environ["QUERY_STRING"]
        data["started_by_subscriber"] = data
        if environ["PATH_INFO"] == "/wrapped":
            return {"application_object": _wrap(event["application_object"]), "first_ran": True}
        return {"first_ran": True}
    return None


def second(name, **event):
    data = event.get("request_data")
    token = data.get("token") if isinstance(data, dict) else None
    record = {"name": name, "keys": sorted(event)}
    if name == "request_started":
        record.update(
            first_ran=event.get("first_ran", False),
            is_application=event["application_object"] is application,
            server_pid_is_me=event["server_pid"] == os.getpid(),
            start_order=event["request_start"] <= event["application_start"],
            thread_id=event["thread_id"],
        )
    elif name == "request_finished":
        record.update(
            status=event["status"],
            output_length=event["output_length"],
            input_length=event["input_length"],
            application_time=event["application_time"],
            finish_order=event["application_start"] <= event["application_finish"],
            app_wrote=data.get("app"),
            gil_wait_time=event["gil_wait_time"],
            gil_wait_count=event["gil_wait_count"],
        )
    elif name == "request_exception":
        info = event["exception_info"]
        record.update(exception=[len(info), info[0].__name__, str(info[1])])
    if token is not None:
        _file(token, record)


SUBSCRIBE_RETURNS_CALLBACK = (
    mod_wsgi.subscribe_events(first) is first and mod_wsgi.subscribe_events(second) is second
)


def _json(start_response, data):
    body = json.dumps(data).encode()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [body]


def _outside():
    result = {}

    def call():
        try:
            mod_wsgi.request_data()
            result["error"] = None
        except Exception as e:  # noqa: BLE001 -- the type is what is reported
            result["error"] = type(e).__name__

    thread = threading.Thread(target=call)
    thread.start()
    thread.join(10)
    return result


def application(environ, start_response):
    mode = environ["PATH_INFO"]
    token = environ["QUERY_STRING"]
    if mode in ("/hello", "/wrapped"):
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [f"hello {token}".encode()]
    if mode == "/post":
        length = len(environ["wsgi.input"].read())
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [str(length).encode()]
    if mode == "/boom":
        raise ValueError(f"boom {token}")
    if mode == "/data":
        data = mod_wsgi.request_data()
        before = sorted(data)
        same = data.get("started_by_subscriber") is data
        data["app"] = "set by the application"
        return _json(start_response, {"keys": before, "same_dict": same})
    if mode == "/report":
        with _lock:
            return _json(start_response, _events.get(token, []))
    if mode == "/subscribe":
        return _json(start_response, {"returns_callback": SUBSCRIBE_RETURNS_CALLBACK})
    if mode == "/outside":
        return _json(start_response, _outside())
    start_response("404 Not Found", [("Content-Type", "text/plain")])
    return [b"unknown mode"]

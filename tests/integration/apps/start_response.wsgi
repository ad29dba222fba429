"""start_response validation.  PATH_INFO names the case.

Every call that the server must refuse is wrapped so the raised exception is written to
wsgi.errors as "SR-CASE <case> raised <ExceptionType>" (or "SR-CASE <case> accepted"), then
re-raised so the server has to turn it into a 500.
"""

import sys
import time

BAD_STATUS = {
    "status-no-space": "200OK",
    "status-four-digits": "2000 OK",
    "status-no-code": "OK",
    "status-crlf": "200 OK\r\nX-Injected: status",
    "status-not-str": b"200 OK",
    # Interim responses are the server's: as the application's response they would split the
    # stream (a client takes the body that follows a 100 for the next response).
    "status-100": "100 Continue",
    "status-103": "103 Early Hints",
    "status-099": "099 Low",
    "status-600": "600 High",
}
BAD_HEADERS = {
    "name-space": [("Bad Name", "v")],
    "name-colon": [("Bad:Name", "v")],
    "name-control": [("Bad\x01Name", "v")],
    "value-crlf": [("X-Ok", "v\r\nX-Injected: header")],
    "value-lf": [("X-Ok", "v\nX-Injected: header")],
    "value-nul": [("X-Ok", "v\0X-Injected: header")],
    "value-int": [("X-Ok", 42)],
    "value-bytes": [("X-Ok", b"v")],
    "value-none": [("X-Ok", None)],
    "name-bytes": [(b"X-Ok", "v")],
    "not-a-tuple": ["X-Ok: v"],
    "headers-dict": {"X-Ok": "v"},
    "content-length-abc": [("Content-Length", "abc")],
    "content-length-negative": [("Content-Length", "-1")],
    "content-length-twice": [("Content-Length", "5"), ("Content-Length", "6")],
}

# exc_info values that hold no exception, or not in the usual form, passed once headers went
# out: start_response must raise something the application can catch, never crash.
ODD_EXC_INFO = {
    "exc-info-three-nones": (None, None, None),  # sys.exc_info() outside an except block
    "exc-info-instance-as-type": (ValueError("x"), None, None),
    "exc-info-ints": (1, 2, 3),
    "exc-info-class-and-message": (ValueError, "message", None),
    "exc-info-bad-traceback": (KeyError, KeyError("k"), 5),
}


def checked(environ, case, func, *args):
    errors = environ["wsgi.errors"]
    try:
        result = func(*args)
    except BaseException as e:
        errors.write(f"SR-CASE {case} raised {type(e).__name__}\n")
        errors.flush()
        raise
    errors.write(f"SR-CASE {case} accepted\n")
    errors.flush()
    return result


def application(environ, start_response):
    case = environ["PATH_INFO"].lstrip("/")
    if case in BAD_STATUS:
        checked(environ, case, start_response, BAD_STATUS[case], [("Content-Type", "text/plain")])
        return [b"should not be sent"]
    if case in BAD_HEADERS:
        checked(environ, case, start_response, "200 OK", BAD_HEADERS[case])
        return [b"should not be sent"]
    if case == "twice":
        start_response("200 OK", [("Content-Type", "text/plain")])
        checked(environ, case, start_response, "201 Created", [("Content-Type", "text/plain")])
        return [b"should not be sent"]
    if case == "exc-info-before-headers":
        start_response("200 OK", [("Content-Type", "text/plain"), ("X-Old", "1")])
        try:
            raise KeyError("oops")
        except KeyError:
            start_response("500 Oops", [("Content-Type", "text/plain"), ("X-New", "1")], sys.exc_info())
        return [b"replaced"]
    if case == "exc-info-after-headers":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return late_error(environ, start_response)
    if case in ODD_EXC_INFO:
        write = start_response("200 OK", [("Content-Type", "text/plain")])
        write(b"first;")
        try:
            start_response("500 Too Late", [("Content-Type", "text/plain")], ODD_EXC_INFO[case])
        except BaseException as e:
            environ["wsgi.errors"].write(f"SR-CASE {case} raised {type(e).__name__}\n")
        return [b"after"]
    if case == "write":
        write = start_response("200 OK", [("Content-Type", "text/plain")])
        write(b"one,")
        write(b"two,")
        return [b"three"]
    if case == "write-flush":
        write = start_response("200 OK", [("Content-Type", "text/plain")])
        write(b"early;")
        time.sleep(1.5)
        return [b"late"]
    if case == "ok":
        start_response("299 Custom Reason", [("Content-Type", "text/plain"), ("X-Ok", "v \t v")])
        return [b"fine"]
    start_response("404 Not Found", [("Content-Type", "text/plain")])
    return [b"unknown case"]


def late_error(environ, start_response):
    yield b"first block;"
    try:
        raise ZeroDivisionError("late failure")
    except ZeroDivisionError:
        exc_info = sys.exc_info()
        try:
            start_response("500 Too Late", [("Content-Type", "text/plain")], exc_info)
        except ZeroDivisionError:
            environ["wsgi.errors"].write("SR-CASE exc-info-after-headers reraised\n")
            raise
        environ["wsgi.errors"].write("SR-CASE exc-info-after-headers returned\n")
    yield b"never sent"

"""WSGIDispatchScript: choose per request from the query string."""
from urllib.parse import parse_qs


def _q(environ, key):
    value = parse_qs(environ.get("QUERY_STRING", "")).get(key, [None])[0]
    if value is not None and _q_bytes(environ):
        return value.encode()  # as scripts written for mod_wsgi under Python 2 return them
    return value


def _q_bytes(environ):
    return "bytes=1" in environ.get("QUERY_STRING", "")


def process_group(environ):
    if _q(environ, "raise"):
        raise RuntimeError("dispatch failed")
    return _q(environ, "pg")


def application_group(environ):
    return _q(environ, "ag")


def callable_object(environ):
    return _q(environ, "co")

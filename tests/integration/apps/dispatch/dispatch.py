"""WSGIDispatchScript: choose per request from the query string."""
from urllib.parse import parse_qs


def _q(environ, key):
    return parse_qs(environ.get("QUERY_STRING", "")).get(key, [None])[0]


def process_group(environ):
    if _q(environ, "raise"):
        raise RuntimeError("dispatch failed")
    return _q(environ, "pg")


def application_group(environ):
    return _q(environ, "ag")


def callable_object(environ):
    return _q(environ, "co")

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
    if _q(environ, "ag") == "probe":
        # What mod_wsgi gives a dispatch script, as a group name the application reports:
        # the Apache child's empty process group, the version tuples, script reloading as
        # the application's environ has it, and no callable object.
        checks = (
            environ["mod_wsgi.process_group"] == "",
            isinstance(environ.get("mod_wsgi.version"), tuple),
            isinstance(environ.get("apache.version"), tuple),
            environ.get("mod_wsgi.script_reloading") == "1",
            "mod_wsgi.callable_object" not in environ,
        )
        return "probe-" + "".join("1" if ok else "0" for ok in checks)
    return _q(environ, "ag")


def callable_object(environ):
    if _q(environ, "co") == "EMPTY":
        return ""
    return _q(environ, "co")

"""WSGIAccessScript: allow the addresses in ALLOWED; /raise raises."""

ALLOWED = {"192.0.2.1"}


def allow_access(environ, host):
    if environ.get("PATH_INFO", "").endswith("/raise") or environ.get("REQUEST_URI", "").endswith("/raise"):
        raise RuntimeError("access database unavailable")
    if environ.get("HTTP_X_UNDECIDED"):
        return None
    return host in ALLOWED

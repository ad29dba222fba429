"""WSGIAccessScript: allow the addresses in ALLOWED; /raise raises."""

ALLOWED = {"127.0.0.1"}


def allow_access(environ, host):
    if environ.get("PATH_INFO", "").endswith("/raise") or environ.get("REQUEST_URI", "").endswith("/raise"):
        raise RuntimeError("access database unavailable")
    if environ.get("HTTP_X_UNDECIDED"):
        return None
    if environ.get("HTTP_X_CHECK_ENVIRON"):
        # The keys mod_wsgi gives an access script beyond the request's variables; the header
        # names the application group expected ("main": the main interpreter's, '').
        group = environ["HTTP_X_CHECK_ENVIRON"]
        return (isinstance(environ.get("mod_wsgi.version"), tuple)
                and len(environ["mod_wsgi.version"]) == 3
                and isinstance(environ.get("apache.version"), tuple)
                and environ["apache.version"][:2] == (2, 4)
                and environ.get("mod_wsgi.script_reloading") == 1
                and environ.get("mod_wsgi.process_group") == ""
                and environ.get("mod_wsgi.application_group") == ("" if group == "main" else group)
                and host in ALLOWED)
    return host in ALLOWED

"""Calls mod_wsgi.request_data() while the script is being imported (at the first request, as
mod_wsgi allows), and reports what it saw as JSON."""

import json

import mod_wsgi

try:
    mod_wsgi.request_data()["seen_at_import"] = True
    AT_IMPORT = "request_data"
except RuntimeError:
    AT_IMPORT = "no request"


def application(environ, start_response):
    body = json.dumps({
        "at_import": AT_IMPORT,
        "same_request": mod_wsgi.request_data().get("seen_at_import", False),
    }).encode()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [body]

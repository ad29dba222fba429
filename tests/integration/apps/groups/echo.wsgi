"""Answers three lines: the environ's application group, mod_wsgi.application_group and the
query string.

Imports nothing but mod_wsgi, so that a new application group costs as little as it can.
"""

import mod_wsgi


def application(environ, start_response):
    body = "\n".join(
        (environ["mod_wsgi.application_group"], mod_wsgi.application_group, environ["QUERY_STRING"])
    )
    start_response("200 OK", [("Content-Type", "text/plain; charset=utf-8")])
    return [body.encode("utf-8")]

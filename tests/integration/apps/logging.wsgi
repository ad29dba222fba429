"""Writes ?<marker> to wsgi.errors, sys.stdout (print) and sys.stderr."""

import sys


def application(environ, start_response):
    marker = environ["QUERY_STRING"]
    environ["wsgi.errors"].write(f"ERRORS-{marker}\n")
    environ["wsgi.errors"].writelines([f"LINES-{marker}-a\n", f"LINES-{marker}-b\n"])
    environ["wsgi.errors"].flush()
    print(f"STDOUT-{marker}")
    print(f"STDERR-{marker}", file=sys.stderr)
    sys.stdout.flush()
    sys.stderr.flush()
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"logged"]

"""Writes ?<marker> to wsgi.errors, sys.stdout (print) and sys.stderr.

PATH_INFO /partial-err, /partial-out: only a line without its newline, to sys.stderr or
sys.stdout; /buffer: a line written as bytes to sys.stdout.buffer.
"""

import sys


def application(environ, start_response):
    marker = environ["QUERY_STRING"]
    mode = environ.get("PATH_INFO", "")
    if mode == "/partial-err":
        sys.stderr.write(f"PARTIAL-ERR-{marker}")
    elif mode == "/partial-out":
        print(f"PARTIAL-OUT-{marker}", end="")
    elif mode == "/buffer":
        sys.stdout.buffer.write(f"BUFFER-{marker}\n".encode())
    else:
        environ["wsgi.errors"].write(f"ERRORS-{marker}\n")
        environ["wsgi.errors"].writelines([f"LINES-{marker}-a\n", f"LINES-{marker}-b\n"])
        environ["wsgi.errors"].flush()
        print(f"STDOUT-{marker}")
        print(f"STDERR-{marker}", file=sys.stderr)
        sys.stdout.flush()
        sys.stderr.flush()
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"logged"]

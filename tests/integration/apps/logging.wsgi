"""Writes ?<marker> to wsgi.errors, sys.stdout (print) and sys.stderr.

PATH_INFO /partial-err, /partial-out: only a line without its newline, to sys.stderr or
sys.stdout; /buffer: a line written as bytes to sys.stdout.buffer; /textio: answers what
io.TextIOWrapper's interface gives on the three streams.
"""

import io
import json
import sys


def textio(environ):
    """Uses the three streams as code written for io.TextIOWrapper does."""
    out = {}
    for name, stream in (("stdout", sys.stdout), ("stderr", sys.stderr),
                         ("errors", environ["wsgi.errors"])):
        stream.reconfigure(encoding="utf-8", line_buffering=True)
        try:
            stream.reconfigure(bogus=True)
            refused = False
        except TypeError:
            refused = True
        out[name] = {
            "textiobase": isinstance(stream, io.TextIOBase),
            "newlines": stream.newlines,
            "refuses_unknown": refused,
        }
    return out


def application(environ, start_response):
    marker = environ["QUERY_STRING"]
    mode = environ.get("PATH_INFO", "")
    if mode == "/textio":
        start_response("200 OK", [("Content-Type", "application/json")])
        return [json.dumps(textio(environ)).encode()]
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

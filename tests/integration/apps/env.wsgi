"""Returns the environ as JSON: {key: [type name, str value or repr]} plus the process id."""

import json
import os


def application(environ, start_response):
    out = {}
    for key, value in environ.items():
        out[key] = [type(value).__name__, value if isinstance(value, str) else repr(value)]
    out["__pid__"] = ["int", str(os.getpid())]
    body = json.dumps(out).encode("utf-8")
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]

"""Application group probe: says which interpreter and application group serve a request.

/info      -- JSON: the group from the environ and from the mod_wsgi module, the process group,
              the interpreter id (0 is the main interpreter), id(sys), id(sys.modules), the pid,
              this module's VALUE and request count, whether groupmarker is imported in this
              interpreter and groupshared.VALUE.
/set?V     -- stores V in this module's global VALUE.
/import    -- imports groupmarker (from this directory) into this interpreter.
/share?V   -- stores V in groupshared.VALUE (a module every script of the interpreter sees).
/has?NAME  -- /info plus "has": whether sys.modules holds NAME.
"""

import json
import os
import sys

import _xxsubinterpreters
import mod_wsgi

_HERE = os.path.dirname(os.path.abspath(__file__))
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

import groupshared  # noqa: E402  (needs _HERE on sys.path)

VALUE = None
HITS = 0


def _info(environ):
    return {
        "environ_group": environ["mod_wsgi.application_group"],
        "module_group": mod_wsgi.application_group,
        "process_group": environ["mod_wsgi.process_group"],
        "interpreter_id": int(_xxsubinterpreters.get_current()),
        "sys_id": id(sys),
        "modules_id": id(sys.modules),
        "pid": os.getpid(),
        "value": VALUE,
        "hits": HITS,
        "marker": "groupmarker" in sys.modules,
        "shared": groupshared.VALUE,
        "module_name": __name__,
        "script_name": environ["SCRIPT_NAME"],
    }


def application(environ, start_response):
    global VALUE, HITS
    HITS += 1
    mode = environ["PATH_INFO"]
    query = environ["QUERY_STRING"]
    if mode == "/set":
        VALUE = query
    elif mode == "/import":
        import groupmarker  # noqa: F401
    elif mode == "/share":
        groupshared.VALUE = query
    elif mode not in ("/info", "/has"):
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"unknown mode"]
    data = _info(environ)
    if mode == "/has":
        data["has"] = query in sys.modules
    body = json.dumps(data).encode()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [body]

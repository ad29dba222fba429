"""A second script for the sharing tests: reports and sets groupshared.VALUE and its own VALUE.

/info     -- JSON like probe.wsgi's /info (fewer keys).
/share?V  -- stores V in groupshared.VALUE.
"""

import json
import os
import sys

import _xxsubinterpreters

_HERE = os.path.dirname(os.path.abspath(__file__))
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

import groupshared  # noqa: E402

VALUE = None


def application(environ, start_response):
    mode = environ["PATH_INFO"]
    if mode == "/share":
        groupshared.VALUE = environ["QUERY_STRING"]
    body = json.dumps(
        {
            "environ_group": environ["mod_wsgi.application_group"],
            "interpreter_id": int(_xxsubinterpreters.get_current()),
            "pid": os.getpid(),
            "shared": groupshared.VALUE,
            "value": VALUE,
            "marker": "groupmarker" in sys.modules,
        }
    ).encode()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [body]

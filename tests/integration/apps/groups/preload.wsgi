"""Preloaded by WSGIImportScript at process start, and also served by WSGIScriptAlias.

At import it appends the load to sys.modules["preload_state"].loads (a module that outlives
this one) and writes <server root>/tmp/preload-<group>-<pid> ("global" for the main
interpreter) holding JSON: group, interpreter id, pid, time. There is no environ at process
start, so the server root comes from the -d argument on the process's command line.

/  -- JSON: the loads recorded in this interpreter, the pid, the interpreter id, the group, and
      when Apache read the request (mod_wsgi.request_start).
"""

import json
import os
import sys
import time
import types

import _xxsubinterpreters
import mod_wsgi


def _server_tmp():
    with open("/proc/self/cmdline", "rb") as f:
        args = f.read().split(b"\0")
    return os.path.join(os.fsdecode(args[args.index(b"-d") + 1]), "tmp")


_state = sys.modules.setdefault("preload_state", types.ModuleType("preload_state"))
_load = {
    "group": mod_wsgi.application_group,
    "interpreter_id": int(_xxsubinterpreters.get_current()),
    "pid": os.getpid(),
    "time": time.time(),
}
_state.__dict__.setdefault("loads", []).append(_load)
_label = mod_wsgi.application_group or "global"
with open(os.path.join(_server_tmp(), f"preload-{_label}-{os.getpid()}"), "w") as _f:
    json.dump(_load, _f)


def application(environ, start_response):
    body = json.dumps(
        {
            "loads": _state.loads,
            "pid": os.getpid(),
            "interpreter_id": int(_xxsubinterpreters.get_current()),
            "group": environ["mod_wsgi.application_group"],
            "request_start": environ["mod_wsgi.request_start"],
        }
    ).encode()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [body]

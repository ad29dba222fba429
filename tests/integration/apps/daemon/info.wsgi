"""Reports the process a request ran in, as JSON.

PATH_INFO picks what is returned:
  /pid             just os.getpid(), as text (cheap enough for load tests)
  /sleep?S         sleeps S seconds (at most 5), then reports like /
  /create?NAME     creates the file NAME in the directory SetEnv DAEMON_TMP names, then reports
  /?import=MOD     also imports MOD and reports its VALUE attribute (or the ImportError)
  / (anything)     pid, parent pid, process title, mod_wsgi process and application group,
                   wsgi.multithread/multiprocess, uid/gid, groups, cwd, umask, LANG, LC_ALL,
                   the current LC_CTYPE, sys.prefix, sys.base_prefix and sys.path
"""

import importlib
import json
import locale
import os
import sys
import time
from urllib.parse import parse_qs


def process_title():
    """argv[0] as ps shows it: what display-name= sets (padding blanks removed)."""
    with open("/proc/self/cmdline", "rb") as f:
        argv0 = f.read().split(b"\0")[0]
    return argv0.decode("utf-8", "replace").strip()


def current_umask():
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def report(environ):
    out = {
        "pid": os.getpid(),
        "ppid": os.getppid(),
        "title": process_title(),
        "process_group": environ.get("mod_wsgi.process_group"),
        "application_group": environ.get("mod_wsgi.application_group"),
        "multithread": environ["wsgi.multithread"],
        "multiprocess": environ["wsgi.multiprocess"],
        "uid": os.getuid(),
        "euid": os.geteuid(),
        "gid": os.getgid(),
        "egid": os.getegid(),
        "groups": sorted(os.getgroups()),
        "cwd": os.getcwd(),
        "umask": current_umask(),
        "LANG": os.environ.get("LANG"),
        "LC_ALL": os.environ.get("LC_ALL"),
        "lc_ctype": locale.setlocale(locale.LC_CTYPE),
        "prefix": sys.prefix,
        "base_prefix": sys.base_prefix,
        "path": sys.path,
        "instants": {
            key: environ.get(f"mod_wsgi.{key}")
            for key in ("request_start", "queue_start", "daemon_start", "application_start")
        },
    }
    name = parse_qs(environ.get("QUERY_STRING", "")).get("import", [None])[0]
    if name:
        try:
            out["imported"] = getattr(importlib.import_module(name), "VALUE", None)
        except ImportError as exc:
            out["imported"] = None
            out["import_error"] = str(exc)
    return out


def application(environ, start_response):
    case = environ.get("PATH_INFO", "")
    if case == "/pid":
        body = str(os.getpid()).encode()
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
        return [body]
    if case == "/sleep":
        time.sleep(min(float(environ.get("QUERY_STRING") or 0), 5.0))
    if case == "/create":
        name = environ["QUERY_STRING"]
        if not name.isalnum():
            start_response("400 Bad Request", [("Content-Type", "text/plain")])
            return [b"bad name\n"]
        with open(os.path.join(environ["DAEMON_TMP"], name), "w") as f:
            f.write("created\n")
    body = json.dumps(report(environ)).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]

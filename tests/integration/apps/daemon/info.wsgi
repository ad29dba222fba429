"""Reports the process a request ran in, as JSON.

PATH_INFO picks what is returned:
  /pid             just os.getpid(), as text (cheap enough for load tests)
  /sleep?S         sleeps S seconds (at most 5), then reports like /
  /create?NAME     creates the file NAME in the directory SetEnv DAEMON_TMP names, then reports
  /children        starts a subprocess and a forked multiprocessing child, stops each with
                   SIGTERM and reports how they ended, with the signals this thread blocks
  /?import=MOD     also imports MOD and reports its VALUE attribute (or the ImportError)
  / (anything)     pid, parent pid, process title, mod_wsgi process and application group,
                   wsgi.multithread/multiprocess, uid/gid, groups, cwd, umask, LANG, LC_ALL,
                   HOME, USER, LOGNAME, the current LC_CTYPE and LC_TIME, sys.prefix,
                   sys.base_prefix, sys.path, sys.argv and the mod_wsgi module's process limits
"""

import importlib
import json
import locale
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from urllib.parse import parse_qs

import mod_wsgi


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
        "HOME": os.environ.get("HOME"),
        "USER": os.environ.get("USER"),
        "LOGNAME": os.environ.get("LOGNAME"),
        "lc_ctype": locale.setlocale(locale.LC_CTYPE),
        "lc_time": locale.setlocale(locale.LC_TIME),
        "argv": sys.argv,
        "maximum_processes": mod_wsgi.maximum_processes,
        "threads_per_process": mod_wsgi.threads_per_process,
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


def blocked_signals():
    """The signal numbers this thread blocks (SigBlk of /proc/thread-self/status)."""
    with open("/proc/thread-self/status") as f:
        mask = next(int(line.split()[1], 16) for line in f if line.startswith("SigBlk:"))
    return [number for number in range(1, 65) if mask & (1 << (number - 1))]


def children():
    """Starts a process with subprocess and one with multiprocessing (fork), sends each
    SIGTERM and reports how they ended (-15: killed by it; None: still running after 5 s)."""
    proc = subprocess.Popen(["sleep", "30"])
    proc.terminate()
    try:
        popen_status = proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        popen_status = None
        proc.kill()
        proc.wait()
    forked = multiprocessing.get_context("fork").Process(target=time.sleep, args=(30,))
    forked.start()
    forked.terminate()
    forked.join(5)
    fork_status = forked.exitcode
    if fork_status is None:
        os.kill(forked.pid, signal.SIGKILL)
        forked.join()
    return {"popen": popen_status, "fork": fork_status, "blocked": blocked_signals()}


def application(environ, start_response):
    case = environ.get("PATH_INFO", "")
    if case == "/children":
        body = json.dumps(children()).encode()
        start_response("200 OK", [("Content-Type", "application/json")])
        return [body]
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

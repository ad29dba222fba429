# Written by mod_wsgi-express for --reload-on-changes and loaded with WSGIImportScript into the
# application's daemon process group and application group, so it sees the modules the
# application imports.
#
# A daemon thread looks at the file of every module in sys.modules once a second. When one
# changes, it sends SIGINT to its own daemon process: the process stops (waiting up to
# shutdown-timeout for requests in flight) and the Apache parent forks a new one, which imports
# the new code. Requests arriving meanwhile wait in the daemon socket's backlog.
#
# For development only: every poll stats every loaded module.

import os
import signal
import sys
import threading
import time

_INTERVAL = 1.0
# A file first seen with an mtime after this moment changed after the process started (between
# the import and the first poll that saw the module), so it counts as a change too.
_STARTED = time.time()


def _module_files():
    for module in list(sys.modules.values()):
        path = getattr(module, "__file__", None)
        if isinstance(path, str) and path:
            yield path[:-1] if path.endswith((".pyc", ".pyo")) else path


def _changed_file(seen):
    for path in _module_files():
        try:
            mtime = os.stat(path).st_mtime
        except OSError:
            continue
        known = seen.get(path)
        if known is None:
            seen[path] = mtime
            if mtime > _STARTED:
                return path
        elif mtime != known:
            return path
    return None


def _monitor():
    seen = {}
    while True:
        path = _changed_file(seen)
        if path is not None:
            print(
                "mod_wsgi-express: %s changed; restarting daemon process (pid=%d)"
                % (path, os.getpid()),
                file=sys.stderr,
                flush=True,
            )
            os.kill(os.getpid(), signal.SIGINT)
            return
        time.sleep(_INTERVAL)


threading.Thread(target=_monitor, name="mod_wsgi-express reloader", daemon=True).start()

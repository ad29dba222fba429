"""Probes WSGIRestrictStdin, WSGIRestrictStdout and WSGIRestrictSignal.

/stdin   -- sys.stdin.read(): "ok <repr>" or "<ExceptionType>: <message>"
/stdout  -- print() to sys.stdout: "ok" or "<ExceptionType>: <message>"
/signal  -- signal.signal(SIGUSR2, handler): the returned value's repr, then whether the
            handler is installed afterwards ("installed" / "not installed")
/signal-function -- "original" when signal.signal is the signal module's own function
"""

import signal
import sys


def _handler(signum, frame):
    pass


def _attempt(action):
    try:
        return "ok " + repr(action())
    except Exception as e:  # the restriction's error is what the test wants to see
        return f"{type(e).__name__}: {e}"


def application(environ, start_response):
    mode = environ["PATH_INFO"]
    if mode == "/stdin":
        body = _attempt(lambda: sys.stdin.read(1))
    elif mode == "/stdout":
        body = _attempt(lambda: print("printed to sys.stdout", flush=True))
    elif mode == "/signal":
        try:
            returned = signal.signal(signal.SIGUSR2, _handler)
        except ValueError as e:  # unrestricted, outside the main thread of the main interpreter
            returned = e
        installed = signal.getsignal(signal.SIGUSR2) is _handler
        body = f"{returned!r} {'installed' if installed else 'not installed'}"
    elif mode == "/signal-function":
        # The signal module's own signal() is a Python function defined in it.
        body = "original" if getattr(signal.signal, "__module__", None) == "signal" else "replaced"
    else:
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"unknown mode"]
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [body.encode()]

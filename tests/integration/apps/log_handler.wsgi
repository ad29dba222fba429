"""mod_wsgi.LogHandler (mod_wsgi 6): Python logging records at Apache's matching log levels.

/levels?M    -- logs "LEVEL-M" at every level from DEBUG to CRITICAL
/thread?M    -- logs "thread-M" at WARNING from a thread serving no request
/exception?M -- logger.exception("failed-M") inside an except block (a multi-line record)
/type        -- what LogHandler is: "<is a logging.Handler> <its __module__>"
"""

import logging
import threading

import mod_wsgi

logger = logging.getLogger("loghandler-test")
logger.setLevel(logging.DEBUG)
logger.propagate = False
handler = mod_wsgi.LogHandler()
handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
logger.addHandler(handler)


def application(environ, start_response):
    mode = environ["PATH_INFO"]
    marker = environ["QUERY_STRING"]
    body = "logged"
    if mode == "/levels":
        for level in ("debug", "info", "warning", "error", "critical"):
            getattr(logger, level)(f"{level.upper()}-{marker}")
    elif mode == "/thread":
        thread = threading.Thread(target=logger.warning, args=(f"thread-{marker}",))
        thread.start()
        thread.join()
    elif mode == "/exception":
        try:
            raise ValueError(f"raised-{marker}")
        except ValueError:
            logger.exception(f"failed-{marker}")
    elif mode == "/type":
        body = f"{isinstance(handler, logging.Handler)} {type(handler).__module__}"
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [body.encode()]

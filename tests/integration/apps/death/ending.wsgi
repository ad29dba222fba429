"""Ends its daemon process on demand, in the ways the Apache parent must tell apart.

/exit?N          os._exit(N) under the request (an exit status, not a signal)
/abort-at-limit  allocates 1 MiB blocks until memory-limit refuses one, then os.abort()
                 (SIGABRT), as C code does when malloc fails
anything else    the daemon process's pid
"""

import os


def application(environ, start_response):
    path = environ["PATH_INFO"]
    if path == "/exit":
        os._exit(int(environ["QUERY_STRING"]))
    if path == "/abort-at-limit":
        blocks = []
        try:
            while True:
                blocks.append(bytearray(1024 * 1024))
        except MemoryError:
            os.abort()
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [str(os.getpid()).encode()]

"""Kept connections between Apache children and daemon processes.

/sockets    the daemon process's pid and the inodes of the sockets it has open now (the
            group's listening socket and its connections from Apache children), as JSON
/echo?X     answers "echo:X:<pid>"
/post?X     reads the whole body and answers "post:X:<body length>:<its CRC-32, hex>:<pid>"
"""

import json
import os
import zlib


def socket_inodes():
    inodes = []
    for name in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{name}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.append(int(target[8:-1]))
    return sorted(inodes)


def application(environ, start_response):
    path = environ.get("PATH_INFO", "")
    query = environ.get("QUERY_STRING", "")
    if path == "/sockets":
        body = json.dumps({"pid": os.getpid(), "sockets": socket_inodes()})
    elif path == "/post":
        data = environ["wsgi.input"].read()
        body = f"post:{query}:{len(data)}:{zlib.crc32(data):08x}:{os.getpid()}"
    else:
        body = f"echo:{query}:{os.getpid()}"
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [body.encode()]

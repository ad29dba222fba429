"""Exercises wsgi.input.

PATH_INFO picks the mode:
  /ops?read:3,readline,readline:2,readlines,iter,read  -- run the listed calls in order and
        return JSON [[call, result]] with bytes results decoded as latin-1;
  /sha256  -- read the body in 64 KiB blocks until b'' and return "<length> <sha256 hex>";
  /all     -- read() everything at once and return "<length> <sha256 hex>".
  /late    -- wait 0.3 s for the whole body to arrive, then read it as /sha256 does and return
              "<length> <sha256 hex> <pid of the process>".
  /small   -- as /late, reading 1000 bytes at a time.
"""

import hashlib
import json
import os
import time


def run_ops(stream, ops):
    results = []
    for op in ops.split(","):
        name, _, arg = op.partition(":")
        if name == "iter":
            value = [line.decode("latin-1") for line in stream]
        elif name == "readlines":
            value = [line.decode("latin-1") for line in stream.readlines()]
        else:
            method = getattr(stream, name)
            data = method(int(arg)) if arg else method()
            if not isinstance(data, bytes):
                value = "NOT-BYTES:" + type(data).__name__
            else:
                value = data.decode("latin-1")
        results.append([op, value])
    return results


def read_blocks(stream, size=65536):
    digest, length = hashlib.sha256(), 0
    for _ in range(100000):  # bounded: 6 GiB at 64 KiB a read
        block = stream.read(size)
        if not block:
            break
        digest.update(block)
        length += len(block)
    return f"{length} {digest.hexdigest()}"


def application(environ, start_response):
    stream = environ["wsgi.input"]
    mode = environ["PATH_INFO"]
    if mode == "/ops":
        body = json.dumps(run_ops(stream, environ["QUERY_STRING"])).encode()
    elif mode == "/sha256":
        body = read_blocks(stream).encode()
    elif mode == "/late":
        time.sleep(0.3)
        body = f"{read_blocks(stream)} {os.getpid()}".encode()
    elif mode == "/small":
        time.sleep(0.3)
        body = f"{read_blocks(stream, 1000)} {os.getpid()}".encode()
    elif mode == "/all":
        data = stream.read()
        body = f"{len(data)} {hashlib.sha256(data).hexdigest()}".encode()
    else:
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"unknown mode"]
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]

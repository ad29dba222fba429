"""Request and response bodies through a daemon process.  PATH_INFO names the case:

  /echo        the request body sent back unchanged (application/octet-stream)
  /digest      the request body read in 64 KiB blocks: {"length", "sha256"} as JSON
  /download?N  N blocks of 1 MiB (see block()), yielded one at a time, no Content-Length
  /cookies     three Set-Cookie headers
  /sized       a body with a Content-Length (for HEAD)
  /single      a one-item list, no Content-Length
  /missing     a 404 with a body of its own
  /stream      b"first;", then one second later b"second"
  /disconnect  1000 blocks of 64 KiB, 5 ms apart; close() appends "<id> <blocks sent>" to the
               file SetEnv CLOSE_LOG names (?id=<token>)
  /raise       raises before start_response
  /pid         os.getpid() as text
  /not-modified  a 304 with an ETag and a Content-Length of 12, no body
  /no-content    a 204 with a Content-Length of 10, no body
  /delegate?URL  a 200 with Location: URL and the body b"ignored" (the local redirect of
                 "Delegating File Serving To Apache"); /delegate-302?URL the same as a 302
"""

import hashlib
import json
import os
import time
from urllib.parse import parse_qs

BLOCK_SIZE = 1 << 20
_PATTERN = hashlib.sha256(b"mod_wsgi daemon mode").digest() * (BLOCK_SIZE // 32)


def block(index):
    """Block `index` of a download: 1 MiB, its first 8 bytes the big-endian index."""
    return index.to_bytes(8, "big") + _PATTERN[8:]


def download(count):
    for index in range(count):
        yield block(index)


class CloseRecorder:
    def __init__(self, environ):
        self.path = environ["CLOSE_LOG"]
        self.id = parse_qs(environ.get("QUERY_STRING", "")).get("id", ["-"])[0]
        self.sent = 0

    def __iter__(self):
        for _ in range(1000):
            time.sleep(0.005)
            self.sent += 1
            yield b"x" * 65536

    def close(self):
        with open(self.path, "a") as f:
            f.write(f"{self.id} {self.sent}\n")


def slow_stream():
    yield b"first;"
    time.sleep(1.0)
    yield b"second"


def text(start_response, status, body, extra=()):
    start_response(status, [("Content-Type", "text/plain"), *extra])
    return [body]


def application(environ, start_response):
    case = environ.get("PATH_INFO", "")
    if case == "/echo":
        body = environ["wsgi.input"].read()
        start_response("200 OK", [("Content-Type", "application/octet-stream"),
                                  ("Content-Length", str(len(body)))])
        return [body]
    if case == "/digest":
        digest = hashlib.sha256()
        length = 0
        stream = environ["wsgi.input"]
        while True:
            data = stream.read(65536)
            if not data:
                break
            length += len(data)
            digest.update(data)
        body = json.dumps({"length": length, "sha256": digest.hexdigest()}).encode()
        start_response("200 OK", [("Content-Type", "application/json")])
        return [body]
    if case == "/download":
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return download(int(environ["QUERY_STRING"]))
    if case == "/cookies":
        return text(start_response, "200 OK", b"cookies\n", [
            ("Set-Cookie", "first=1; Path=/"),
            ("Set-Cookie", "second=2; Path=/; HttpOnly"),
            ("Set-Cookie", "third=3, with a comma; Path=/"),
        ])
    if case == "/sized":
        return text(start_response, "200 OK", b"sized body\n", [("Content-Length", "11")])
    if case == "/single":
        return text(start_response, "200 OK", b"single item")
    if case == "/missing":
        return text(start_response, "404 Not Found", b"no such daemon page\n")
    if case == "/stream":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return slow_stream()
    if case == "/disconnect":
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return CloseRecorder(environ)
    if case == "/raise":
        raise RuntimeError("DAEMON-CASE failure before start_response")
    if case == "/not-modified":
        start_response("304 Not Modified", [("ETag", '"v1"'), ("Content-Length", "12")])
        return []
    if case == "/no-content":
        start_response("204 No Content", [("Content-Length", "10")])
        return []
    if case in ("/delegate", "/delegate-302"):
        status = "200 OK" if case == "/delegate" else "302 Found"
        return text(start_response, status, b"ignored", [("Location", environ["QUERY_STRING"])])
    if case == "/pid":
        return text(start_response, "200 OK", str(os.getpid()).encode())
    return text(start_response, "404 Not Found", b"unknown case\n")

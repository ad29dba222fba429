"""The response iterable.  PATH_INFO names the case; ?id=<token> tags close() records.

close() of the Recorder iterable appends "<id> <blocks yielded>" to the file named by the
CLOSE_LOG environ variable (set with SetEnv).
"""

import time
from urllib.parse import parse_qs


class Recorder:
    """A response iterable with close(), yielding `blocks` and optionally failing."""

    def __init__(self, environ, blocks, fail_after=None, delay=0.0, close_fails=False):
        self.path = environ["CLOSE_LOG"]
        self.id = parse_qs(environ["QUERY_STRING"]).get("id", ["-"])[0]
        self.blocks = blocks
        self.fail_after = fail_after
        self.delay = delay
        self.close_fails = close_fails
        self.sent = 0

    def __iter__(self):
        for block in self.blocks:
            if self.fail_after is not None and self.sent >= self.fail_after:
                raise RuntimeError("RESP-CASE failure in the middle of the response")
            if self.delay:
                time.sleep(self.delay)
            self.sent += 1
            yield block

    def close(self):
        with open(self.path, "a") as f:
            f.write(f"{self.id} {self.sent}\n")
        if self.close_fails:
            raise RuntimeError("RESP-CASE close() failed")


def stream():
    yield b"first;"
    time.sleep(1.0)
    yield b"second"


def str_after_first():
    yield b"ok;"
    yield "a str is not bytes"


def application(environ, start_response):
    case = environ["PATH_INFO"].lstrip("/")
    text = [("Content-Type", "text/plain")]
    if case == "str-first":
        start_response("200 OK", text)
        return ["a str is not bytes"]
    if case == "str-after":
        start_response("200 OK", text)
        return str_after_first()
    if case == "none":
        start_response("200 OK", text)
        return None
    if case == "close-normal":
        start_response("200 OK", text)
        return Recorder(environ, [b"a", b"b", b"c"])
    if case == "close-raise":
        start_response("200 OK", text)
        return Recorder(environ, [b"before;", b"after"], fail_after=1)
    if case == "close-fails":
        start_response("200 OK", text)
        return Recorder(environ, [b"a", b"b"], close_fails=True)
    if case == "close-fails-empty":
        start_response("200 OK", text)
        return Recorder(environ, [], close_fails=True)
    if case == "close-disconnect":
        start_response("200 OK", text)
        return Recorder(environ, [b"x" * 65536] * 1000, delay=0.005)
    if case == "cl-over":
        start_response("200 OK", text + [("Content-Length", "5")])
        return [b"01234", b"56789"]
    if case == "cl-under":
        start_response("200 OK", text + [("Content-Length", "10")])
        return [b"01234"]
    if case == "sized":
        start_response("200 OK", text + [("Content-Length", "11"), ("X-Method", environ["REQUEST_METHOD"])])
        return [b"sized body\n"]
    if case == "stream":
        start_response("200 OK", text)
        return stream()
    if case == "single":
        start_response("200 OK", text)
        return [b"single item"]
    start_response("404 Not Found", text)
    return [b"unknown case"]

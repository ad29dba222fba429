"""The WSGI application every server in the benchmark runs (bench/bench.py).

One module for all servers: Apache's WSGIScriptAlias points at this file, Gunicorn imports
``bench_app:application`` and uWSGI loads it with ``--wsgi-file``. The workload is chosen by
PATH_INFO; every response body is exactly the bytes of the file the static-Apache ceiling
serves at the same URL (written by bench.py into the data directory named by BENCH_DATA).
"""

import os

DATA = os.environ.get("BENCH_DATA") or os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")

HELLO = b"Hello world\n"  # 12 bytes
BLOCK = b"x" * 65536
BLOCKS = 16  # 16 x 64 KiB = 1 MiB
ENVIRON_BODY = b"environ ok\n"
FILE_10M = os.path.join(DATA, "file10m")


def hello(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "12")])
    return [HELLO]


def one_mib(environ, start_response):
    start_response(
        "200 OK",
        [("Content-Type", "application/octet-stream"), ("Content-Length", str(BLOCKS * len(BLOCK)))],
    )

    def blocks():
        for _ in range(BLOCKS):
            yield BLOCK

    return blocks()


def file10m(environ, start_response):
    f = open(FILE_10M, "rb")
    size = os.fstat(f.fileno()).st_size
    start_response(
        "200 OK", [("Content-Type", "application/octet-stream"), ("Content-Length", str(size))]
    )
    return environ["wsgi.file_wrapper"](f, 65536)


def post(environ, start_response):
    length = int(environ.get("CONTENT_LENGTH") or 0)
    data = environ["wsgi.input"].read(length)
    body = b"%d\n" % len(data)
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


def environ_app(environ, start_response):
    # Touch every key and value, as a framework building its request object would.
    n = 0
    for key in list(environ.keys()):
        value = environ[key]
        if isinstance(value, str):
            n += len(value)
    body = ENVIRON_BODY
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


ROUTES = {
    "/hello": hello,
    "/1m": one_mib,
    "/file10m": file10m,
    "/post": post,
    "/environ": environ_app,
}


def application(environ, start_response):
    app = ROUTES.get(environ.get("PATH_INFO", ""))
    if app is None:
        start_response("404 Not Found", [("Content-Type", "text/plain"), ("Content-Length", "10")])
        return [b"not found\n"]
    return app(environ, start_response)

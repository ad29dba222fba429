"""wsgi.file_wrapper.  /file?name=<file in TEST_TMP>&seek=N&cl=N, /bytesio?size=N;
/attributes: the wrapper's filelike and blksize attributes, as text."""

import io
import os
from urllib.parse import parse_qs


def application(environ, start_response):
    query = {k: v[0] for k, v in parse_qs(environ["QUERY_STRING"]).items()}
    headers = [("Content-Type", "application/octet-stream")]
    if "cl" in query:
        headers.append(("Content-Length", query["cl"]))
    mode = environ["PATH_INFO"]
    if mode == "/file":
        f = open(os.path.join(environ["TEST_TMP"], os.path.basename(query["name"])), "rb")
        if "seek" in query:
            f.seek(int(query["seek"]))
    elif mode == "/attributes":
        f = io.BytesIO(b"wrapped")
        wrapper = environ["wsgi.file_wrapper"](f, 777)
        body = f"{wrapper.filelike is f} {wrapper.blksize}".encode()
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [body]
    elif mode == "/bytesio":
        f = io.BytesIO(bytes(i % 251 for i in range(int(query["size"]))))
    else:
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"unknown mode"]
    start_response("200 OK", headers)
    return environ["wsgi.file_wrapper"](f, 32768)

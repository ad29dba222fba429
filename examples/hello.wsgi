# The smallest WSGI application (PEP 3333): answers every request with a
# plain-text greeting. Served by scripts/serve.sh.


def application(environ, start_response):
    body = b"Hello World!\n"
    start_response("200 OK", [
        ("Content-Type", "text/plain; charset=utf-8"),
        ("Content-Length", str(len(body))),
    ])
    return [body]

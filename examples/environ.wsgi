# Shows the WSGI environ the module built for this request, one key a line,
# sorted. Handy to see what Apache and mod_wsgi pass to an application:
#     scripts/serve.sh --app examples/environ.wsgi


def application(environ, start_response):
    lines = ["%s = %r" % (key, environ[key]) for key in sorted(environ)]
    body = ("\n".join(lines) + "\n").encode("utf-8")
    start_response("200 OK", [
        ("Content-Type", "text/plain; charset=utf-8"),
        ("Content-Length", str(len(body))),
    ])
    return [body]

"""Several callables in one script, to check which one mod_wsgi picks."""


def _reply(start_response, text):
    body = text.encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


def application(environ, start_response):
    return _reply(start_response, "callable=application")


def other(environ, start_response):
    return _reply(start_response, "callable=other")


def third(environ, start_response):
    return _reply(start_response, "callable=third")

import json
import os


def application(environ, start_response):
    body = json.dumps({
        "REMOTE_USER": environ.get("REMOTE_USER"),
        "AUTH_TYPE": environ.get("AUTH_TYPE"),
        "HTTP_AUTHORIZATION": environ.get("HTTP_AUTHORIZATION"),
        "process_group": environ.get("mod_wsgi.process_group"),
        "pid": os.getpid(),
    }).encode()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [body]

import json
import os


def _body(environ, callable_name):
    return json.dumps({
        "pid": os.getpid(),
        "process_group": environ.get("mod_wsgi.process_group"),
        "application_group": environ.get("mod_wsgi.application_group"),
        "callable": callable_name,
        "handler_script": environ.get("mod_wsgi.handler_script"),
        "script_filename": environ.get("SCRIPT_FILENAME"),
    }).encode()


def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "application/json")])
    return [_body(environ, "application")]


def other(environ, start_response):
    start_response("200 OK", [("Content-Type", "application/json")])
    return [_body(environ, "other")]


def handle_request(environ, start_response):
    start_response("200 OK", [("Content-Type", "application/json")])
    return [_body(environ, "handle_request")]

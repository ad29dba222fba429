import json


def application(environ, start_response):
    keys = ("REMOTE_ADDR", "wsgi.url_scheme", "HTTP_HOST", "SERVER_NAME", "SERVER_PORT",
            "SCRIPT_NAME", "mod_wsgi.mount_point", "HTTPS")
    info = {k: environ.get(k) for k in keys}
    info["headers"] = sorted(k for k in environ if k.startswith("HTTP_X_"))
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps(info).encode()]

"""Which process and process group served the request (JSON); served from its own directory so
a <Directory> block can choose its process group."""

import json
import os


def application(environ, start_response):
    body = json.dumps({"pid": os.getpid(), "process_group": environ.get("mod_wsgi.process_group")})
    start_response("200 OK", [("Content-Type", "application/json")])
    return [body.encode()]

"""JSON: the mod_wsgi and apache module attributes, the matching environ keys, the pid and the
ids of per-interpreter objects (the mod_wsgi module, wsgi.file_wrapper)."""

import json
import os

import apache
import mod_wsgi


def application(environ, start_response):
    data = {
        "version": list(mod_wsgi.version),
        "process_group": mod_wsgi.process_group,
        "application_group": mod_wsgi.application_group,
        "maximum_processes": mod_wsgi.maximum_processes,
        "threads_per_process": mod_wsgi.threads_per_process,
        "environ_version": list(environ["mod_wsgi.version"]),
        "environ_application_group": environ["mod_wsgi.application_group"],
        "environ_process_group": environ["mod_wsgi.process_group"],
        "apache_version": list(apache.version),
        "apache_maximum_processes": apache.maximum_processes,
        "apache_threads_per_process": apache.threads_per_process,
        "pid": os.getpid(),
        "module_id": id(mod_wsgi),
        "file_wrapper_id": id(environ["wsgi.file_wrapper"]),
    }
    body = json.dumps(data).encode()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [body]

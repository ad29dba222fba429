"""Reports the Python runtime settings the WSGIPython* directives control, as JSON.

Query string: names of modules to try importing (comma-separated); each is reported as the
module's __file__ or the ImportError text.
"""

import json
import os
import sys


def _asserts_kept():
    try:
        assert False
    except AssertionError:
        return True
    return False


def _imports(names):
    result = {}
    for name in filter(None, names.split(",")):
        try:
            module = __import__(name)
            result[name] = getattr(module, "__file__", None)
        except ImportError as e:
            result[name] = f"ImportError: {e}"
    return result


def application(environ, start_response):
    body = {
        "pid": os.getpid(),
        "prefix": sys.prefix,
        "base_prefix": sys.base_prefix,
        "executable": sys.executable,
        "version": list(sys.version_info[:3]),
        "path": sys.path,
        "optimize": sys.flags.optimize,
        "asserts": _asserts_kept(),
        "hash_randomization": sys.flags.hash_randomization,
        "hash_x": hash("x"),
        "warnoptions": sys.warnoptions,
        "dont_write_bytecode": sys.dont_write_bytecode,
        "egg_cache": os.environ.get("PYTHON_EGG_CACHE"),
        "imports": _imports(environ.get("QUERY_STRING", "")),
        "switch_interval": sys.getswitchinterval(),
        "application_group": environ["mod_wsgi.application_group"],
    }
    data = json.dumps(body).encode()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [data]

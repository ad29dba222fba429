"""Script reloading: a changed script file is loaded again (WSGIScriptReloading, default On)."""

import os
import time

import pytest
import requests

CONFIG = """
WSGIScriptAlias /reload {tmp}/reload.wsgi
WSGIScriptAlias /noreload {tmp}/noreload.wsgi
<Location /noreload>
    WSGIScriptReloading Off
</Location>
"""

VERSION = """
def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"version %d " + environ["mod_wsgi.script_reloading"].encode()]
"""


@pytest.fixture(scope="module")
def server(module_apache):
    return module_apache(CONFIG)


def write(server, name: str, version: int) -> None:
    path = server.tmp / name
    path.write_text(VERSION % version)
    os.chmod(path, 0o644)
    stamp = time.time() + version  # a distinct modification time for every version
    os.utime(path, (stamp, stamp))


def get(server, path):
    r = requests.get(server.url(path), timeout=10)
    assert r.status_code == 200, r.text
    return r.text


def test_changed_script_is_reloaded(server):
    write(server, "reload.wsgi", 1)
    assert get(server, "/reload") == "version 1 1"
    assert get(server, "/reload") == "version 1 1"
    write(server, "reload.wsgi", 2)
    assert get(server, "/reload") == "version 2 1"


def test_no_reload_when_reloading_is_off(server):
    write(server, "noreload.wsgi", 1)
    # Every child process that serves the first requests loads version 1 ...
    assert {get(server, "/noreload") for _ in range(6)} == {"version 1 0"}
    write(server, "noreload.wsgi", 2)
    # ... and keeps it.
    assert {get(server, "/noreload") for _ in range(6)} == {"version 1 0"}

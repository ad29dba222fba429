"""Script reloading: a changed script file is loaded again (WSGIScriptReloading, default On)."""

import os
import re
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


# -------------------------------------------------------------------------------------------
# One child process: every request meets the same interpreters, so module state can be traced
# across reloads.

ONE_CONFIG = """
WSGIScriptAlias /r-touch {tmp}/r-touch.wsgi
WSGIScriptAlias /r-hook {tmp}/r-hook.wsgi
WSGIScriptAlias /r-raise {tmp}/r-raise.wsgi
WSGIScriptAlias /r-broken {tmp}/r-broken.wsgi
WSGIScriptAlias /r-off {tmp}/r-off.wsgi
<Location /r-off>
    WSGIScriptReloading Off
</Location>
WSGIScriptAlias /r-group {tmp}/r-group.wsgi application-group=reload-group
WSGIScriptAlias /r-sibling {tmp}/r-sibling.wsgi application-group=reload-group
StartServers 1
ServerLimit 1
MaxRequestWorkers 8
"""

# Reports its version, its request count and every load of this script in this interpreter
# (weak references kept in a registry module that outlives reloads). reload_required() records
# its argument and answers True while <script>.flag exists, raises while <script>.raise exists.
TRACED = """
import gc
import json
import os
import re
import sys
import types
import weakref

import _xxsubinterpreters

VERSION = %(version)d
HITS = 0
_HERE = os.path.dirname(os.path.abspath(__file__))
_NAME = os.path.basename(__file__)

_registry = sys.modules.setdefault("_reload_registry", types.ModuleType("_reload_registry"))
_registry.__dict__.setdefault(_NAME, []).append(weakref.ref(sys.modules[__name__]))


def reload_required(resource):
    with open(os.path.join(_HERE, _NAME + ".resource"), "w") as f:
        f.write(resource)
    if os.path.exists(os.path.join(_HERE, _NAME + ".raise")):
        raise ValueError("reload check failed for " + _NAME)
    return os.path.exists(os.path.join(_HERE, _NAME + ".flag"))


def application(environ, start_response):
    global HITS
    HITS += 1
    gc.collect()
    loads = _registry.__dict__[_NAME]
    body = json.dumps(
        {
            "version": VERSION,
            "hits": HITS,
            "loads": len(loads),
            "alive": sum(1 for ref in loads if ref() is not None),
            "interpreter_id": int(_xxsubinterpreters.get_current()),
            "group": environ["mod_wsgi.application_group"],
        }
    ).encode()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [body]
"""

_stamp = [time.time()]


def write_traced(server, name: str, version: int, text: str | None = None):
    """Write {tmp}/<name>.wsgi with a modification time distinct from every earlier write."""
    path = server.tmp / f"{name}.wsgi"
    path.write_text(TRACED % {"version": version} if text is None else text)
    os.chmod(path, 0o644)
    _stamp[0] += 10
    os.utime(path, (_stamp[0], _stamp[0]))
    return path


def traced(server, name: str) -> dict:
    r = requests.get(server.url(f"/{name}"), timeout=15)
    assert r.status_code == 200, (r.status_code, r.text[:2000])
    return r.json()


@pytest.fixture(scope="module")
def one_server(module_apache):
    return module_apache(ONE_CONFIG)


def test_touched_script_is_loaded_again_and_the_old_module_is_gone(one_server):
    server = one_server
    path = write_traced(server, "r-touch", 1)
    for hits in (1, 2, 3):
        data = traced(server, "r-touch")
        assert (data["version"], data["hits"], data["loads"]) == (1, hits, 1)
    write_traced(server, "r-touch", 2)
    data = traced(server, "r-touch")
    assert (data["version"], data["hits"], data["loads"]) == (2, 1, 2), "module state survived"
    data = traced(server, "r-touch")
    assert (data["version"], data["hits"], data["loads"]) == (2, 2, 2)
    assert data["alive"] == 1, "the module object of version 1 is still referenced"
    server.wait_log(rf"\[wsgi:info\].*Reloading WSGI script '{re.escape(str(path))}'", expect=False)


def test_same_modification_time_means_no_reload(one_server):
    server = one_server
    path = write_traced(server, "r-touch", 3)
    assert traced(server, "r-touch")["version"] == 3
    stamp = path.stat().st_mtime
    path.write_text(TRACED % {"version": 4})
    os.utime(path, (stamp, stamp))  # new content, same modification time: not a change
    data = traced(server, "r-touch")
    assert data["version"] == 3 and data["hits"] == 2


def test_reload_required_forces_a_reload_without_a_change(one_server):
    server = one_server
    path = write_traced(server, "r-hook", 1)
    flag = server.tmp / "r-hook.wsgi.flag"
    assert traced(server, "r-hook")["hits"] == 1
    assert traced(server, "r-hook")["hits"] == 2
    flag.touch()
    try:
        data = traced(server, "r-hook")
        assert (data["hits"], data["loads"]) == (1, 2), "reload_required() returning True was ignored"
        data = traced(server, "r-hook")
        assert (data["hits"], data["loads"]) == (1, 3)
    finally:
        flag.unlink()
    data = traced(server, "r-hook")
    assert (data["hits"], data["loads"]) == (2, 3)
    # The hook is given the script's path.
    assert (server.tmp / "r-hook.wsgi.resource").read_text() == str(path)


def test_raising_reload_required_keeps_the_module_and_is_logged(one_server):
    server = one_server
    write_traced(server, "r-raise", 1)
    assert traced(server, "r-raise")["hits"] == 1
    server.expect_log(r"reload check failed for r-raise\.wsgi|reload_required")
    marker = server.tmp / "r-raise.wsgi.raise"
    marker.touch()
    try:
        data = traced(server, "r-raise")
        assert (data["hits"], data["loads"]) == (2, 1), "a raising reload_required() reloaded"
    finally:
        marker.unlink()
    server.wait_log(r"ValueError: reload check failed for r-raise\.wsgi")
    assert traced(server, "r-raise")["hits"] == 3


def test_failed_reload_gives_500_until_the_script_is_fixed(one_server):
    server = one_server
    path = write_traced(server, "r-broken", 1)
    assert traced(server, "r-broken")["version"] == 1
    server.expect_log(re.escape(str(path)))
    server.expect_log(r"SyntaxError")
    write_traced(server, "r-broken", 2, text="def application(environ, start_response:\n    pass\n")
    for attempt in (1, 2):
        r = requests.get(server.url("/r-broken"), timeout=15)
        assert r.status_code == 500, (attempt, r.status_code, r.text[:500])
        assert "version" not in r.text, "the old module answered"
    log = server.wait_log(r"SyntaxError").string
    assert re.search(rf'File "{re.escape(str(path))}", line 1', log), log[-3000:]
    # Retried on every request: two failures, two tracebacks.
    assert len(re.findall(r"SyntaxError", log)) >= 2, log[-3000:]
    write_traced(server, "r-broken", 3)
    data = traced(server, "r-broken")
    assert data["version"] == 3 and data["hits"] == 1


def test_reloading_off_ignores_reload_required(one_server):
    server = one_server
    write_traced(server, "r-off", 1)
    assert traced(server, "r-off")["hits"] == 1
    flag = server.tmp / "r-off.wsgi.flag"
    flag.touch()
    try:
        write_traced(server, "r-off", 2)
        data = traced(server, "r-off")
        assert (data["version"], data["hits"], data["loads"]) == (1, 2, 1)
    finally:
        flag.unlink()
    assert not (server.tmp / "r-off.wsgi.resource").exists(), "reload_required() was consulted"


def test_reload_stays_in_the_scripts_sub_interpreter(one_server):
    server = one_server
    write_traced(server, "r-group", 1)
    write_traced(server, "r-sibling", 1)
    first = traced(server, "r-group")
    sibling = traced(server, "r-sibling")
    assert first["group"] == sibling["group"] == "reload-group"
    assert first["interpreter_id"] != 0, "application-group=reload-group ran in the main interpreter"
    assert sibling["interpreter_id"] == first["interpreter_id"]
    write_traced(server, "r-group", 2)
    data = traced(server, "r-group")
    assert (data["version"], data["hits"], data["loads"]) == (2, 1, 2)
    assert data["interpreter_id"] == first["interpreter_id"], "a reload made a new interpreter"
    # Only the touched script is loaded again; the other script of the group keeps its state.
    data = traced(server, "r-sibling")
    assert (data["version"], data["hits"], data["loads"]) == (1, 2, 1)

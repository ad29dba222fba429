"""Picking the WSGI callable and loading the script (errors, retry after an import failure)."""

import os
import time

import pytest
import requests

from conftest import APPS

CONFIG = """
WSGIScriptAlias /default {apps}/callables.wsgi
WSGIScriptAlias /option {apps}/callables.wsgi callable-object=third
WSGIScriptAlias /directive {apps}/callables.wsgi
<Location /directive>
    WSGICallableObject other
</Location>
WSGIScriptAlias /missing-callable {apps}/callables.wsgi callable-object=nosuch
WSGIScriptAlias /importerr {tmp}/importerr.wsgi
"""


@pytest.fixture(scope="module")
def server(module_apache):
    return module_apache(CONFIG)


def get(server, path):
    return requests.get(server.url(path), timeout=10)


def test_default_callable_is_application(server):
    r = get(server, "/default")
    assert (r.status_code, r.text) == (200, "callable=application")


def test_wsgi_callable_object_directive(server):
    r = get(server, "/directive")
    assert (r.status_code, r.text) == (200, "callable=other")


def test_callable_object_option(server):
    r = get(server, "/option")
    assert (r.status_code, r.text) == (200, "callable=third")


def test_missing_callable_is_500_and_logged(server):
    # mod_wsgi 4.x answers 404 here; this project answers 500 (issue 2: a script without its
    # callable is a server-side error, not a missing resource) with a WSGI0006 line naming
    # the script and the name looked for.
    script = str(APPS / "callables.wsgi")
    server.expect_log(r"nosuch")
    r = get(server, "/missing-callable")
    assert r.status_code == 500
    assert "callable=" not in r.text
    line = server.wait_log(r"^.*nosuch.*$").group(0)
    assert script in line, f"log line should name the script {script}: {line}"


def write_script(server, text: str) -> None:
    path = server.tmp / "importerr.wsgi"
    path.write_text(text)
    os.chmod(path, 0o644)
    # Make sure the modification time differs from the previous version's.
    stamp = time.time() + (1 + len(text)) % 5
    os.utime(path, (stamp, stamp))


def test_import_error_is_500_logged_and_retried(server):
    server.expect_log(r"IMPORT-FAIL")
    write_script(server, "raise RuntimeError('IMPORT-FAIL while loading')\n")
    for attempt in (1, 2):
        r = get(server, "/importerr")
        assert r.status_code == 500
        wait = time.monotonic() + 5
        while server.error_log().count("IMPORT-FAIL while loading") < attempt and time.monotonic() < wait:
            time.sleep(0.05)
        assert server.error_log().count("IMPORT-FAIL while loading") >= attempt, (
            f"import was not retried on request {attempt}"
        )
    log = server.error_log()
    assert "Traceback (most recent call last)" in log
    assert str(server.tmp / "importerr.wsgi") in log

    write_script(
        server,
        "def application(environ, start_response):\n"
        "    start_response('200 OK', [('Content-Type', 'text/plain')])\n"
        "    return [b'fixed']\n",
    )
    r = get(server, "/importerr")
    assert (r.status_code, r.text) == (200, "fixed")

"""WSGIDispatchScript and WSGIHandlerScript (issue 6)."""

import pytest
import requests

from conftest import APPS

D = APPS / "dispatch"

CONFIG = f"""
WSGIDaemonProcess pg-one threads=2
WSGIDaemonProcess pg-two threads=2
WSGIScriptAlias /app {D}/app.wsgi
WSGIScriptAlias /plain {D}/app.wsgi
WSGIScriptAlias /app-pg {D}/app.wsgi process-group=pg-one
<Location /app>
    WSGIDispatchScript {D}/dispatch.py
</Location>
<Location /app-pg>
    WSGIDispatchScript {D}/dispatch.py
</Location>

WSGIHandlerScript wsgi-resource {D}/app.wsgi
WSGIHandlerScript wsgi-resource-daemon {D}/app.wsgi process-group=pg-two application-group=%{{GLOBAL}}
Alias /res {D}
<Location /res>
    AddHandler wsgi-resource .res
</Location>
Alias /dres {D}
<Location /dres>
    SetHandler wsgi-resource-daemon
</Location>
"""


@pytest.fixture(scope="module")
def server(module_apache):
    return module_apache(CONFIG)


def get(server, path):
    r = requests.get(server.url(path), timeout=10)
    assert r.status_code == 200, r.text
    return r.json()


def test_no_choice_keeps_configuration(server):
    info = get(server, "/app")
    assert info["process_group"] == ""
    assert info["callable"] == "application"


def test_dispatch_chooses_process_group_per_request(server):
    one = get(server, "/app?pg=pg-one")
    two = get(server, "/app?pg=pg-two")
    embedded = get(server, "/app?pg=%25{GLOBAL}")
    assert one["process_group"] == "pg-one"
    assert two["process_group"] == "pg-two"
    assert embedded["process_group"] == ""
    assert len({one["pid"], two["pid"], embedded["pid"]}) == 3


def test_dispatch_chooses_application_group_and_callable(server):
    info = get(server, "/app?pg=pg-one&ag=chosen&co=other")
    assert info["application_group"] == "chosen"
    assert info["callable"] == "other"
    assert get(server, "/app?ag=%25{GLOBAL}")["application_group"] == ""


def test_dispatch_choices_may_be_bytes(server):
    # mod_wsgi 4.9.4 takes byte strings from the dispatch functions too.
    info = get(server, "/app?pg=pg-one&ag=chosen&co=other&bytes=1")
    assert info["process_group"] == "pg-one"
    assert info["application_group"] == "chosen"
    assert info["callable"] == "other"


def test_dispatch_script_environ(server):
    # The dispatch script runs in the Apache child whatever process group the URL has.
    info = get(server, "/app-pg?ag=probe")
    assert info["application_group"] == "probe-11111"
    assert info["process_group"] == "pg-one"


@pytest.mark.parametrize("path", ["/app", "/app-pg"])
def test_dispatch_empty_callable_names_none(server, path):
    # '' does not fall back to 'application' (mod_wsgi: the script has no callable '').
    server.expect_log(r"WSGI0006: Target WSGI script '[^']*app.wsgi' does not contain WSGI "
                      r"application ''")
    assert requests.get(server.url(path + "?co=EMPTY"), timeout=10).status_code == 500


def test_dispatch_unknown_group_is_500(server):
    server.expect_log(r"WSGI0150")
    assert requests.get(server.url("/app?pg=missing"), timeout=10).status_code == 500


def test_dispatch_exception_is_500(server):
    server.expect_log(r"WSGI0202: Exception raised by process_group\(\)")
    server.expect_log(r"dispatch failed|Traceback|File |raise |RuntimeError|\^")
    assert requests.get(server.url("/app?raise=1"), timeout=10).status_code == 500


def test_no_dispatch_script_outside_its_location(server):
    assert get(server, "/plain?pg=pg-one")["process_group"] == ""


def test_handler_script_embedded(server):
    info = get(server, "/res/thing.res")
    assert info["callable"] == "handle_request"
    assert info["handler_script"] == str(D / "app.wsgi")
    assert info["script_filename"] == str(D / "thing.res")
    assert info["process_group"] == ""


def test_handler_script_daemon(server):
    info = get(server, "/dres/thing.res")
    assert info["callable"] == "handle_request"
    assert info["process_group"] == "pg-two"
    assert info["application_group"] == ""

"""Access control scripts (issue 6): WSGIAuthUserScript as the authn provider "wsgi" for
Basic and Digest, WSGIAuthGroupScript behind `Require wsgi-group`, WSGIAccessScript in the
access-check phase; the same scripts protect a static file; REMOTE_USER / AUTH_TYPE reach
the application in embedded and daemon mode.
"""

import base64
import time

import pytest
import requests
from requests.auth import HTTPDigestAuth

from conftest import APPS, raw_request, split_response

AUTH = APPS / "auth"
MODULES = ("auth_basic", "auth_digest", "authn_core", "authz_user", "authz_groupfile")

CONFIG = f"""
WSGIDaemonProcess authd threads=2
WSGIScriptAlias /basic {AUTH}/whoami.wsgi
WSGIScriptAlias /daemon-basic {AUTH}/whoami.wsgi process-group=authd
WSGIScriptAlias /digest {AUTH}/whoami.wsgi
WSGIScriptAlias /admins {AUTH}/whoami.wsgi
WSGIScriptAlias /staff-neutral {AUTH}/whoami.wsgi
WSGIScriptAlias /allowed {AUTH}/whoami.wsgi
WSGIScriptAlias /denied {AUTH}/whoami.wsgi
Alias /static {AUTH}/static

<Location /basic>
    AuthType Basic
    AuthName "wsgi test"
    AuthBasicProvider wsgi
    WSGIAuthUserScript {AUTH}/users.wsgi
    Require valid-user
</Location>
<Location /daemon-basic>
    AuthType Basic
    AuthName "wsgi test"
    AuthBasicProvider wsgi
    WSGIAuthUserScript {AUTH}/users.wsgi application-group=auth-users
    Require valid-user
</Location>
<Location /digest>
    AuthType Digest
    AuthName "wsgi realm"
    AuthDigestProvider wsgi
    WSGIAuthUserScript {AUTH}/users.wsgi
    Require valid-user
</Location>
<Location /admins>
    AuthType Basic
    AuthName "wsgi test"
    AuthBasicProvider wsgi
    WSGIAuthUserScript {AUTH}/users.wsgi
    WSGIAuthGroupScript {AUTH}/users.wsgi
    Require wsgi-group admins
</Location>
<Location /staff-neutral>
    AuthType Basic
    AuthName "wsgi test"
    AuthBasicProvider wsgi
    WSGIAuthUserScript {AUTH}/users.wsgi
    WSGIAuthGroupScript {AUTH}/users.wsgi
    WSGIGroupAuthoritative Off
    Require wsgi-group "no such group" staff
</Location>
<Location /allowed>
    WSGIAccessScript {AUTH}/access.wsgi
</Location>
<Location /denied>
    WSGIAccessScript {AUTH}/access_deny.wsgi
</Location>
<Location /static>
    AuthType Basic
    AuthName "wsgi test"
    AuthBasicProvider wsgi
    WSGIAuthUserScript {AUTH}/users.wsgi
    WSGIAuthGroupScript {AUTH}/users.wsgi
    WSGIAccessScript {AUTH}/access.wsgi
    Require wsgi-group staff
</Location>
"""


@pytest.fixture(scope="module")
def server(module_apache):
    return module_apache(CONFIG, modules=MODULES)


def basic(user: bytes, password: bytes) -> dict:
    return {"Authorization": "Basic " + base64.b64encode(user + b":" + password).decode()}


@pytest.mark.parametrize("path", ["/basic", "/daemon-basic"])
def test_basic_right_password(server, path):
    r = requests.get(server.url(path), auth=("alice", "secret"), timeout=10)
    assert r.status_code == 200, r.text
    info = r.json()
    assert info["REMOTE_USER"] == "alice"
    assert info["AUTH_TYPE"] == "Basic"
    assert info["HTTP_AUTHORIZATION"] is None  # WSGIPassAuthorization Off
    assert info["process_group"] == ("authd" if path.startswith("/daemon") else "")


@pytest.mark.parametrize("user,password", [("alice", "wrong"), ("nobody", "secret"), ("", "")])
def test_basic_refused(server, user, password):
    r = requests.get(server.url("/basic"), auth=(user, password), timeout=10)
    assert r.status_code == 401
    assert "Basic" in r.headers.get("WWW-Authenticate", "")


def test_basic_without_credentials(server):
    assert requests.get(server.url("/basic"), timeout=10).status_code == 401


def test_basic_non_utf8_credentials(server):
    ok = requests.get(server.url("/basic"), headers=basic(b"\xff\xfeodd", b"p\xe9ss"), timeout=10)
    assert ok.status_code == 200, ok.text
    assert ok.json()["REMOTE_USER"] == "\xff\xfeodd"  # the environ's latin-1 view of the bytes
    bad = requests.get(server.url("/basic"), headers=basic(b"\xc3\x28", b"\x80\x81"), timeout=10)
    assert bad.status_code == 401


def test_basic_script_raising_is_500(server):
    server.expect_log(r"WSGI0202: Exception raised by check_password\(\)")
    server.expect_log(r"user database unavailable|Traceback|File |raise |RuntimeError|\^")
    r = requests.get(server.url("/basic"), auth=("raise", "x"), timeout=10)
    assert r.status_code == 500
    server.wait_log(r"RuntimeError: user database unavailable")


def test_basic_script_bad_result_is_500(server):
    server.expect_log(r"WSGI0203: .*check_password\(\) must return")
    r = requests.get(server.url("/basic"), auth=("weird", "x"), timeout=10)
    assert r.status_code == 500


def test_basic_script_empty_user_name_is_500_saying_so(server):
    # An empty name is refused rather than made the authenticated user; the log says why
    # (it once said a user name was expected, which '' is, in form).
    server.expect_log(r"WSGI0203: .*check_password\(\) returned an empty user name")
    r = requests.get(server.url("/basic"), auth=("nameless", "x"), timeout=10)
    assert r.status_code == 500
    server.wait_log(r"check_password\(\) returned an empty user name")


def test_digest(server):
    ok = requests.get(server.url("/digest"), auth=HTTPDigestAuth("alice", "secret"), timeout=10)
    assert ok.status_code == 200, ok.text
    assert ok.json()["REMOTE_USER"] == "alice"
    assert ok.json()["AUTH_TYPE"] == "Digest"
    wrong = requests.get(server.url("/digest"), auth=HTTPDigestAuth("alice", "nope"), timeout=10)
    assert wrong.status_code == 401
    unknown = requests.get(server.url("/digest"), auth=HTTPDigestAuth("zed", "x"), timeout=10)
    assert unknown.status_code == 401


def _digest_header(server, user: bytes, password: bytes, uri: bytes = b"/digest") -> bytes:
    """A real Digest Authorization header for raw bytes credentials (requests needs str)."""
    import hashlib
    import re

    challenge = requests.get(server.url(uri.decode()), timeout=10).headers["WWW-Authenticate"]
    realm = re.search(r'realm="([^"]*)"', challenge).group(1).encode("latin-1")
    nonce = re.search(r'nonce="([^"]*)"', challenge).group(1).encode()
    md5 = lambda b: hashlib.md5(b).hexdigest().encode()
    ha1 = md5(user + b":" + realm + b":" + password)
    ha2 = md5(b"GET:" + uri)
    cnonce, nc = b"0a4f113b", b"00000001"
    response = md5(ha1 + b":" + nonce + b":" + nc + b":" + cnonce + b":auth:" + ha2)
    return (b'Authorization: Digest username="' + user + b'", realm="' + realm + b'", nonce="' +
            nonce + b'", uri="' + uri + b'", qop=auth, nc=' + nc + b', cnonce="' + cnonce +
            b'", response="' + response + b'"\r\n')


def test_digest_non_utf8_user(server):
    for password, expected in ((b"p\xe9ss", "200"), (b"wrong", "401")):
        header = _digest_header(server, b"\xff\xfeodd", password)
        raw = raw_request(server.port, b"GET /digest HTTP/1.1\r\nHost: x\r\n" + header +
                          b"Connection: close\r\n\r\n")
        status, _headers, _body = split_response(raw)
        assert f" {expected} " in status, status
    server.expect_log(r"AH01790|AH01788|user .* password mismatch")


def test_require_wsgi_group(server):
    assert requests.get(server.url("/admins"), auth=("alice", "secret"), timeout=10).status_code == 200
    # bob is authenticated but not an admin: 401 (Apache asks for other credentials).
    assert requests.get(server.url("/admins"), auth=("bob", "hunter2"), timeout=10).status_code == 401
    assert requests.get(server.url("/staff-neutral"), auth=("bob", "hunter2"), timeout=10).status_code == 200


def test_group_script_raising_is_500(server):
    server.expect_log(r"WSGI0202: Exception raised by groups_for_user\(\)")
    server.expect_log(r"group database unavailable|Traceback|File |raise |RuntimeError|\^")
    r = requests.get(server.url("/admins"), auth=("bob", "hunter2"),
                     headers={"X-Break-Groups": "1"}, timeout=10)
    assert r.status_code == 500


def test_access_script_allows_and_denies_by_address(server):
    assert requests.get(server.url("/allowed"), timeout=10).status_code == 200
    server.expect_log(r"Access denied by WSGIAccessScript|AH01797|client denied")
    assert requests.get(server.url("/denied"), timeout=10).status_code == 403
    # None leaves the decision to Apache (here: granted).
    assert requests.get(server.url("/denied"), headers={"X-Undecided": "1"}, timeout=10).status_code == 200


def test_access_script_environ_has_mod_wsgi_keys(server):
    # As mod_wsgi's: the version tuples, script reloading as an int, the Apache child's empty
    # process group and the script's application group (here the default, the main
    # interpreter's).
    r = requests.get(server.url("/allowed"), headers={"X-Check-Environ": "main"}, timeout=10)
    assert r.status_code == 200


def test_access_script_raising_denies(server):
    server.expect_log(r"WSGI0202: Exception raised by allow_access\(\)")
    server.expect_log(r"access database unavailable|Traceback|File |raise |RuntimeError|\^")
    assert requests.get(server.url("/allowed/raise"), timeout=10).status_code == 403


def test_static_file_protected_by_the_scripts(server):
    assert requests.get(server.url("/static/file.txt"), timeout=10).status_code == 401
    r = requests.get(server.url("/static/file.txt"), auth=("bob", "hunter2"), timeout=10)
    assert r.status_code == 200 and r.text == "static content\n"
    assert requests.get(server.url("/static/file.txt"), auth=("bob", "x"), timeout=10).status_code == 401


def test_auth_script_reloads_when_touched(apache, tmp_path_factory):
    import shutil
    import tempfile
    from pathlib import Path

    site = Path(tempfile.mkdtemp(prefix="mod-wsgi-auth-"))
    try:
        site.chmod(0o755)
        script = site / "users.wsgi"
        script.write_text("def check_password(environ, user, password):\n    return password == 'one'\n")
        script.chmod(0o644)
        server = apache(f"""
WSGIScriptAlias /app {AUTH}/whoami.wsgi
<Location /app>
    AuthType Basic
    AuthName "reload"
    AuthBasicProvider wsgi
    WSGIAuthUserScript {script}
    Require valid-user
</Location>
""", modules=MODULES)
        assert requests.get(server.url("/app"), auth=("u", "one"), timeout=10).status_code == 200
        script.write_text("def check_password(environ, user, password):\n    return password == 'two'\n")
        later = time.time() + 5
        import os
        os.utime(script, (later, later))
        assert requests.get(server.url("/app"), auth=("u", "two"), timeout=10).status_code == 200
        assert requests.get(server.url("/app"), auth=("u", "one"), timeout=10).status_code == 401
        server.stop()
    finally:
        shutil.rmtree(site, ignore_errors=True)

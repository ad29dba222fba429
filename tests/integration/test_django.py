"""A real Django project (apps/djangoproj) served through mod_wsgi in embedded mode.

The project keeps its SQLite database in a directory the test creates and migrates with
Debian's python3 before Apache starts; the directory is made writable for the unprivileged user
the Apache children run as, and passed to the project with SetEnv. One Apache per MPM serves
every test in this module, mounted at /django so SCRIPT_NAME matters for URL reversing.
"""

import os
import re
import subprocess
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

from conftest import APPS

PROJECT = APPS / "djangoproj"
PYTHON = "/usr/bin/python3"
ADMIN_USER = "admin"
ADMIN_PASSWORD = "correct horse battery staple"
TOKEN_INPUT = re.compile(r'<input type="hidden" name="csrfmiddlewaretoken" value="([^"]+)"')

CONFIG = """
WSGIScriptAlias /django {apps}/djangoproj/django.wsgi
SetEnv DJANGO_DATA_DIR %s
"""


def manage(data_dir: Path, *args: str, **env: str) -> None:
    """Run the project's manage.py with Debian's python3 against `data_dir`."""
    proc = subprocess.run(
        [PYTHON, "manage.py", *args],
        cwd=PROJECT,
        env={
            "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
            "LANG": "C.UTF-8",
            "DJANGO_DATA_DIR": str(data_dir),
            "PYTHONDONTWRITEBYTECODE": "1",
            **env,
        },
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=120,
    )
    assert proc.returncode == 0, f"manage.py {' '.join(args)} failed:\n{proc.stdout}{proc.stderr}"


@pytest.fixture(scope="module")
def data_dir(server_base):
    """A migrated database with one superuser, writable by whatever user Apache runs as."""
    path = Path(tempfile.mkdtemp(prefix="django-data-", dir=server_base))
    manage(path, "migrate", "--noinput")
    manage(path, "createsuperuser", "--noinput", "--username", ADMIN_USER,
           "--email", "admin@example.com", DJANGO_SUPERUSER_PASSWORD=ADMIN_PASSWORD)
    # SQLite writes the database and a journal beside it: both need write access.
    os.chmod(path, 0o777)
    os.chmod(path / "db.sqlite3", 0o666)
    return path


@pytest.fixture(scope="module")
def django_server(module_apache, mpm, data_dir):
    server = module_apache(CONFIG % data_dir, mpm=mpm)
    yield server
    assert server.stop() == []


def get(session, server, path, **kwargs):
    kwargs.setdefault("timeout", 30)
    kwargs.setdefault("allow_redirects", False)
    return session.get(server.url(path), **kwargs)


def post(session, server, path, data, **kwargs):
    kwargs.setdefault("timeout", 30)
    kwargs.setdefault("allow_redirects", False)
    return session.post(server.url(path), data=data, **kwargs)


def form_token(html: str) -> str:
    match = TOKEN_INPUT.search(html)
    assert match, f"no csrfmiddlewaretoken in page:\n{html}"
    return match.group(1)


def test_root_redirects_to_the_form_under_the_mount_point(django_server):
    with requests.Session() as s:
        r = get(s, django_server, "/django/")
    assert r.status_code == 302
    assert urlsplit(r.headers["Location"]).path == "/django/sign/"


def test_append_slash_redirect_keeps_the_mount_point(django_server):
    with requests.Session() as s:
        r = get(s, django_server, "/django/sign")
    assert r.status_code == 301
    assert urlsplit(r.headers["Location"]).path == "/django/sign/"


def test_form_page_carries_csrf_token_and_cookie(django_server):
    with requests.Session() as s:
        r = get(s, django_server, "/django/sign/")
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "text/html; charset=utf-8"
    assert '<form method="post" action="/django/sign/">' in r.text
    assert form_token(r.text)
    assert r.cookies.get("csrftoken")
    assert r.headers["X-Frame-Options"] == "DENY"


def test_post_with_csrf_token_signs_and_starts_a_session(django_server):
    with requests.Session() as s:
        page = get(s, django_server, "/django/sign/")
        assert s.cookies.get("csrftoken")
        data = {"csrfmiddlewaretoken": form_token(page.text), "name": "Ada",
                "message": "Hello from mod_wsgi ✓"}
        r = post(s, django_server, "/django/sign/", data)
        assert r.status_code == 200
        assert "<h1>Thank you, Ada!</h1>" in r.text
        assert "Hello from mod_wsgi ✓" in r.text
        assert "Signed 1 time in this session." in r.text
        assert r.cookies.get("guestbook_name") == "Ada"
        assert r.cookies.get("sessionid")

        # The session was stored in SQLite by the Apache child and is read back.
        again = get(s, django_server, "/django/sign/")
        assert again.status_code == 200
        assert '<p id="signed-by">Last signed by Ada</p>' in again.text
        data["csrfmiddlewaretoken"] = form_token(again.text)
        second = post(s, django_server, "/django/sign/", data)
        assert second.status_code == 200
        assert "Signed 2 times in this session." in second.text


def test_invalid_form_is_shown_again(django_server):
    with requests.Session() as s:
        page = get(s, django_server, "/django/sign/")
        r = post(s, django_server, "/django/sign/",
                 {"csrfmiddlewaretoken": form_token(page.text), "name": ""})
    assert r.status_code == 200
    assert "This field is required." in r.text
    assert "sessionid" not in r.cookies


def test_post_without_csrf_token_is_403(django_server):
    with requests.Session() as s:
        get(s, django_server, "/django/sign/")
        assert s.cookies.get("csrftoken")
        r = post(s, django_server, "/django/sign/", {"name": "Mallory"})
    assert r.status_code == 403
    assert "CSRF verification failed" in r.text
    assert "guestbook_name" not in r.cookies


def test_post_without_csrf_cookie_is_403(django_server):
    with requests.Session() as s:
        page = get(s, django_server, "/django/sign/")
        token = form_token(page.text)
    # A fresh client: the form token alone, without the cookie it pairs with.
    r = requests.post(django_server.url("/django/sign/"),
                      data={"csrfmiddlewaretoken": token, "name": "Mallory"},
                      allow_redirects=False, timeout=30)
    assert r.status_code == 403
    assert "CSRF verification failed" in r.text


def test_unknown_url_is_django_404_page(django_server):
    with requests.Session() as s:
        r = get(s, django_server, "/django/no/such/page/")
    assert r.status_code == 404
    assert "<h1>Not Found</h1>" in r.text
    assert "The requested resource was not found on this server." in r.text
    # DEBUG=False: no technical 404 page naming the URLconf.
    assert "URLconf" not in r.text


def test_admin_redirects_anonymous_users_to_login(django_server):
    with requests.Session() as s:
        r = get(s, django_server, "/django/admin/")
    assert r.status_code == 302
    location = urlsplit(r.headers["Location"])
    assert location.path == "/django/admin/login/"
    assert location.query == "next=/django/admin/"


def test_admin_login_page(django_server):
    with requests.Session() as s:
        r = get(s, django_server, "/django/admin/login/")
    assert r.status_code == 200
    assert "<title>Log in | Django site admin</title>" in r.text
    assert 'name="username"' in r.text
    assert 'name="password"' in r.text
    assert form_token(r.text)


def test_admin_login_with_superuser(django_server):
    with requests.Session() as s:
        page = get(s, django_server, "/django/admin/login/?next=/django/admin/")
        r = post(s, django_server, "/django/admin/login/?next=/django/admin/",
                 {"csrfmiddlewaretoken": form_token(page.text), "username": ADMIN_USER,
                  "password": ADMIN_PASSWORD, "next": "/django/admin/"})
        assert r.status_code == 302, r.text
        assert urlsplit(r.headers["Location"]).path == "/django/admin/"
        index = get(s, django_server, "/django/admin/")
    assert index.status_code == 200
    assert "Site administration" in index.text
    assert ADMIN_USER in index.text


def test_admin_login_with_wrong_password_is_refused(django_server):
    with requests.Session() as s:
        page = get(s, django_server, "/django/admin/login/")
        r = post(s, django_server, "/django/admin/login/",
                 {"csrfmiddlewaretoken": form_token(page.text), "username": ADMIN_USER,
                  "password": "wrong"})
    assert r.status_code == 200
    assert "Please enter the correct username and password" in r.text

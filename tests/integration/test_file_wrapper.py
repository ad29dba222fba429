"""wsgi.file_wrapper (PEP 3333 "Optional Platform-Specific File Handling")."""

import os

import pytest
import requests

CONFIG = """
SetEnv TEST_TMP {tmp}
WSGIScriptAlias /fw {apps}/file_wrapper.wsgi
WSGIScriptAlias /sendfile {apps}/file_wrapper.wsgi
<Location /sendfile>
    WSGIEnableSendfile On
</Location>
# Daemon mode: the daemon process passes the open file to the Apache child (SCM_RIGHTS).
WSGIDaemonProcess fw threads=4
WSGIScriptAlias /daemon {apps}/file_wrapper.wsgi process-group=fw
WSGIScriptAlias /daemonsendfile {apps}/file_wrapper.wsgi process-group=fw
<Location /daemonsendfile>
    WSGIEnableSendfile On
</Location>
"""

SIZE = 1024 * 1024 + 4093


@pytest.fixture(scope="module")
def server(module_apache, mpm):
    server = module_apache(CONFIG, mpm=mpm)
    (server.tmp / "data.bin").write_bytes(os.urandom(SIZE))
    os.chmod(server.tmp / "data.bin", 0o644)
    yield server
    module_apache.release(server)


@pytest.fixture(params=["/fw", "/sendfile", "/daemon", "/daemonsendfile"])
def prefix(request):
    return request.param


def data(server) -> bytes:
    return (server.tmp / "data.bin").read_bytes()


def test_whole_file(server, prefix):
    r = requests.get(server.url(f"{prefix}/file?name=data.bin"), timeout=30)
    assert r.status_code == 200
    assert r.content == data(server)
    assert r.headers.get("Content-Length") == str(SIZE)


def test_wrapper_exposes_filelike_and_blksize(server, prefix):
    # As wsgiref's FileWrapper and mod_wsgi's do.
    r = requests.get(server.url(f"{prefix}/attributes"), timeout=30)
    assert r.status_code == 200
    assert r.text == "True 777"


def test_starts_at_current_file_position(server, prefix):
    r = requests.get(server.url(f"{prefix}/file?name=data.bin&seek=1000"), timeout=30)
    assert r.status_code == 200
    assert r.content == data(server)[1000:]
    assert r.headers.get("Content-Length") == str(SIZE - 1000)


def test_declared_content_length_limits_the_body(server, prefix):
    r = requests.get(server.url(f"{prefix}/file?name=data.bin&cl=100000"), timeout=30)
    assert r.status_code == 200
    assert r.headers["Content-Length"] == "100000"
    assert r.content == data(server)[:100000]


def test_declared_content_length_with_offset(server, prefix):
    r = requests.get(server.url(f"{prefix}/file?name=data.bin&seek=7&cl=70000"), timeout=30)
    assert r.content == data(server)[7:70007]


def test_empty_file(server, prefix):
    (server.tmp / "empty.bin").write_bytes(b"")
    os.chmod(server.tmp / "empty.bin", 0o644)
    r = requests.get(server.url(f"{prefix}/file?name=empty.bin"), timeout=30)
    assert r.status_code == 200
    assert r.content == b""


def test_object_without_fileno_is_iterated(server, prefix):
    r = requests.get(server.url(f"{prefix}/bytesio?size=200000"), timeout=30)
    assert r.status_code == 200
    assert r.content == bytes(i % 251 for i in range(200000))

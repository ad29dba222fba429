"""`cmake --install` puts the module where Debian's Apache looks for modules and the
wsgi.load / wsgi.conf pair into mods-available, so `a2enmod wsgi` works."""

import os
import subprocess
from pathlib import Path

import pytest

from conftest import REPO


def apxs(query: str) -> str:
    return subprocess.run(["apxs", "-q", query], capture_output=True, text=True,
                          check=True).stdout.strip()


def test_cmake_install_layout(tmp_path):
    build = REPO / "build"
    if not (build / "cmake_install.cmake").exists():
        pytest.skip("build/ is not a CMake build tree")
    env = dict(os.environ, DESTDIR=str(tmp_path))
    result = subprocess.run(["cmake", "--install", str(build)], env=env, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    libexec = Path(apxs("LIBEXECDIR"))
    sysconf = Path(apxs("SYSCONFDIR"))
    module = tmp_path / libexec.relative_to("/") / "mod_wsgi.so"
    load = tmp_path / sysconf.relative_to("/") / "mods-available" / "wsgi.load"
    conf = tmp_path / sysconf.relative_to("/") / "mods-available" / "wsgi.conf"
    assert module.is_file()
    assert module.read_bytes() == (build / "mod_wsgi.so").read_bytes()
    assert load.read_text().split() == ["LoadModule", "wsgi_module", str(libexec / "mod_wsgi.so")]
    assert "<IfModule mod_wsgi.c>" in conf.read_text()
    # The installed module exports the record Apache looks up.
    symbols = subprocess.run(["nm", "-D", "--defined-only", str(module)], capture_output=True,
                             text=True, check=True).stdout
    assert any(line.split()[-1] == "wsgi_module" for line in symbols.splitlines())


def test_ifmodule_mod_wsgi_c_matches(apache, tmp_path):
    # Debian's wsgi.conf and many existing configurations guard their directives with
    # <IfModule mod_wsgi.c>: the module must be known by that name, as mod_wsgi is.
    server = apache("""
<IfModule mod_wsgi.c>
    WSGIScriptAlias /hello {apps}/hello.wsgi
</IfModule>
""")
    import requests
    r = requests.get(server.url("/hello"), timeout=10)
    assert r.status_code == 200

"""Per-directory WSGI* directives in .htaccess files (AllowOverride FileInfo)."""

import shutil
import tempfile
from pathlib import Path

import requests

from conftest import APPS


def make_site(htaccess: str) -> Path:
    """A directory Apache's child user can traverse (pytest's tmp_path is private to root),
    with the groups probe application and `htaccess` as its .htaccess."""
    site = Path(tempfile.mkdtemp(prefix="mod-wsgi-htaccess-"))
    for name in ("probe.wsgi", "groupshared.py", "groupmarker.py"):
        shutil.copy(APPS / "groups" / name, site / name)
    (site / ".htaccess").write_text(htaccess)
    site.chmod(0o755)
    for path in site.iterdir():
        path.chmod(0o644)
    return site


def site_server(apache, site: Path):
    """A server with the probe of `site` at /probe and its .htaccess read (FileInfo)."""
    return apache(
        f"""
WSGIScriptAlias /probe {site}/probe.wsgi
<Directory {site}>
    AllowOverride FileInfo
    Require all granted
</Directory>
"""
    )


def test_application_group_from_htaccess(apache):
    site = make_site("WSGIApplicationGroup from-htaccess\n")
    try:
        server = site_server(apache, site)
        info = requests.get(server.url("/probe/info"), timeout=10).json()
        assert info["environ_group"] == "from-htaccess", info
        server.stop()
    finally:
        shutil.rmtree(site, ignore_errors=True)


def test_htaccess_cannot_name_python_code_to_run(apache):
    # WSGIHandlerScript, WSGIDispatchScript and WSGIPassApacheRequest belong to the server's
    # configuration (as with mod_wsgi): a .htaccess author could otherwise run any Python file
    # in the Apache child, without Options ExecCGI.
    for line in ("WSGIHandlerScript h {site}/groupmarker.py\nSetHandler h\n",
                 "WSGIDispatchScript {site}/groupmarker.py\n",
                 "WSGIPassApacheRequest On\n"):
        site = make_site("")
        try:
            (site / ".htaccess").write_text(line.format(site=site))
            server = site_server(apache, site)
            server.tolerate_log(r"\[core:alert\] .*\.htaccess: \w+ not allowed here")
            r = requests.get(server.url("/probe/info"), timeout=10)
            assert r.status_code == 500, (line, r.status_code, r.text[:300])
            name = line.split()[0]
            assert server.wait_log(rf"\.htaccess: {name} not allowed here", expect=False)
            server.stop()
        finally:
            shutil.rmtree(site, ignore_errors=True)

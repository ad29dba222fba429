"""Per-directory WSGI* directives in .htaccess files (AllowOverride FileInfo)."""

import shutil
import tempfile
from pathlib import Path

import requests

from conftest import APPS


def test_application_group_from_htaccess(apache):
    # A directory Apache's child user can traverse (pytest's tmp_path is private to root).
    site = Path(tempfile.mkdtemp(prefix="mod-wsgi-htaccess-"))
    try:
        for name in ("probe.wsgi", "groupshared.py", "groupmarker.py"):
            shutil.copy(APPS / "groups" / name, site / name)
        (site / ".htaccess").write_text("WSGIApplicationGroup from-htaccess\n")
        site.chmod(0o755)
        for path in site.iterdir():
            path.chmod(0o644)
        server = apache(
            f"""
WSGIScriptAlias /probe {site}/probe.wsgi
<Directory {site}>
    AllowOverride FileInfo
    Require all granted
</Directory>
"""
        )
        info = requests.get(server.url("/probe/info"), timeout=10).json()
        assert info["environ_group"] == "from-htaccess", info
        server.stop()
    finally:
        shutil.rmtree(site, ignore_errors=True)

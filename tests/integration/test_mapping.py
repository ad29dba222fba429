"""URL to script mapping: WSGIScriptAlias forms, handlers, SCRIPT_NAME / PATH_INFO."""

import os
import shutil
import tempfile
from pathlib import Path

import pytest
import requests

from conftest import APPS, environ_of

PREFIX_CONFIG = """
WSGIScriptAlias /app {apps}/env.wsgi
WSGIScriptAlias /dir/ {apps}/dir/
WSGIScriptAlias /missing {apps}/no-such-script.wsgi
WSGIScriptAliasMatch ^/match/([^/]+) {apps}/$1.wsgi
Alias /h1 {apps}/handler
Alias /h2 {apps}/handler
Alias /h3 {apps}/sethandler
<Directory {apps}/handler>
    Options +ExecCGI
    AddHandler wsgi-script .wsgi
</Directory>
<Location /h2>
    Options -ExecCGI
</Location>
<Directory {apps}/sethandler>
    Options +ExecCGI
    SetHandler wsgi-script
</Directory>
"""

ROOT_CONFIG = """
Alias /static {root}/static
WSGIScriptAlias / {apps}/env.wsgi
"""


@pytest.fixture(scope="module")
def prefix_server(module_apache):
    return module_apache(PREFIX_CONFIG)


@pytest.fixture(scope="module")
def root_server(module_apache):
    return module_apache(ROOT_CONFIG)


def get(server, path):
    return requests.get(server.url(path), timeout=10)


@pytest.mark.parametrize(
    "path, script_name, path_info",
    [
        ("/app", "/app", ""),
        ("/app/", "/app", "/"),
        ("/app/a/b", "/app", "/a/b"),
        ("/app//a//b", "/app", "/a/b"),
        ("/app/a%20b", "/app", "/a b"),
        ("/app/%E9", "/app", "/\xe9"),
        ("/app/caf%C3%A9", "/app", "/caf\xc3\xa9"),
    ],
)
def test_prefix_mount_splits_script_name_and_path_info(prefix_server, path, script_name, path_info):
    env = environ_of(get(prefix_server, path))
    assert (env["SCRIPT_NAME"], env["PATH_INFO"]) == (script_name, path_info)


def test_prefix_mount_passes_query_string_untouched(prefix_server):
    env = environ_of(get(prefix_server, "/app/q?a=1&b=%20x&c"))
    assert env["QUERY_STRING"] == "a=1&b=%20x&c"
    assert env["PATH_INFO"] == "/q"


def test_prefix_is_matched_on_segment_boundary(prefix_server):
    r = get(prefix_server, "/appx")
    assert r.status_code == 404
    assert "SCRIPT_NAME" not in r.text


@pytest.mark.parametrize(
    "path, script_name, path_info",
    [("/", "", "/"), ("/x", "", "/x"), ("/x/y/", "", "/x/y/")],
)
def test_root_mount(root_server, path, script_name, path_info):
    env = environ_of(get(root_server, path))
    assert (env["SCRIPT_NAME"], env["PATH_INFO"]) == (script_name, path_info)


def test_alias_beside_root_mount_still_serves_static_files(root_server):
    r = get(root_server, "/static/hello.txt")
    assert r.status_code == 200
    assert r.text == "static hello\n"


def test_directory_form_picks_script_by_next_segment(prefix_server):
    one = get(prefix_server, "/dir/one.wsgi/x/y").json()
    assert one == {"script": "one", "SCRIPT_NAME": "/dir/one.wsgi", "PATH_INFO": "/x/y"}
    two = get(prefix_server, "/dir/two.wsgi").json()
    assert two == {"script": "two", "SCRIPT_NAME": "/dir/two.wsgi", "PATH_INFO": ""}


def test_directory_form_missing_script_is_404(prefix_server):
    prefix_server.expect_log(r"no-such|not found|unable to stat|does not exist")
    assert get(prefix_server, "/dir/no-such.wsgi").status_code == 404


def test_file_form_missing_script_is_404(prefix_server):
    prefix_server.expect_log(r"no-such-script|not found|unable to stat|does not exist")
    assert get(prefix_server, "/missing").status_code == 404


def test_script_alias_match_substitutes_groups(prefix_server):
    r = get(prefix_server, "/match/hello")
    assert r.status_code == 200
    assert r.text == "Hello World!"
    env = environ_of(get(prefix_server, "/match/env/extra/path"))
    assert (env["SCRIPT_NAME"], env["PATH_INFO"]) == ("/match/env", "/extra/path")


def test_script_alias_match_without_match_is_not_handled(prefix_server):
    assert get(prefix_server, "/match").status_code == 404


def test_add_handler_with_exec_cgi(prefix_server):
    r = get(prefix_server, "/h1/where.wsgi/more")
    assert r.status_code == 200
    assert r.json() == {"script": "handler", "SCRIPT_NAME": "/h1/where.wsgi", "PATH_INFO": "/more"}


def test_add_handler_without_exec_cgi_is_forbidden(prefix_server):
    prefix_server.expect_log(r"ExecCGI")
    r = get(prefix_server, "/h2/where.wsgi")
    assert r.status_code == 403
    assert "SCRIPT_NAME" not in r.text


def test_set_handler_runs_any_file_as_script(prefix_server):
    r = get(prefix_server, "/h3/where.py")
    assert r.status_code == 200
    assert r.json() == {"script": "sethandler", "SCRIPT_NAME": "/h3/where.py", "PATH_INFO": ""}


# A script alias whose URL goes on past the script: the module splits the path info off with one
# stat() of the script instead of leaving Apache's directory walk to lstat() each component
# (apache/directory_walk.hpp; a trace3 line says when it did). The request must come out as the
# walk would have left it, the walk's symbolic link checks included.
LINK_CONFIG = """
LogLevel wsgi:trace3
WSGIScriptAlias /follow {site}/follow/env.wsgi
WSGIScriptAlias /strict {site}/strict/env.wsgi
WSGIScriptAlias /bare {apps}/dir
WSGIScriptAlias /nopath {apps}/env.wsgi
WSGIScriptAlias /named {site}/named/env.wsgi
WSGIScriptAlias /exact {site}/exact/env.wsgi
WSGIScriptAlias /fifo {site}/pipe
WSGIScriptAlias /dotdot {site}/jump/../env.wsgi
WSGIScriptAliasMatch ^/m/([a-z]+) {site}/real/$1.wsgi
WSGIScriptAliasMatch ^/long/(.*) {site}/$1$1$1$1$1$1$1$1$1$1$1$1$1$1$1$1$1$1$1$1
<Location /nopath>
    AcceptPathInfo Off
</Location>
<Directory {site}>
    Options +FollowSymLinks
    Require all granted
</Directory>
<Directory {site}/strict>
    Options -FollowSymLinks
</Directory>
<Directory {site}/named/*>
    Require all denied
</Directory>
<Directory {site}/exact/env.wsgi>
    Require all denied
</Directory>
"""

SPLIT = "path info split off at the script"


@pytest.fixture(scope="module")
def link_server(module_apache):
    # A directory Apache's child user can traverse (pytest's tmp_path is private to root).
    site = Path(tempfile.mkdtemp(prefix="mod-wsgi-links-"))
    try:
        for name in ("real", "real/deep", "follow", "strict", "named", "exact"):
            (site / name).mkdir()
        for name in ("real", "named", "exact"):
            shutil.copy(APPS / "env.wsgi", site / name / "env.wsgi")
        os.mkfifo(site / "pipe")
        (site / "follow" / "env.wsgi").symlink_to(site / "real" / "env.wsgi")
        (site / "strict" / "env.wsgi").symlink_to(site / "real" / "env.wsgi")
        (site / "jump").symlink_to(site / "real" / "deep")
        for path in [site, *site.rglob("*")]:
            if not path.is_symlink() and not path.is_fifo():
                path.chmod(0o755 if path.is_dir() else 0o644)
        server = module_apache(LINK_CONFIG.replace("{site}", str(site)))
        server.site = site
        yield server
    finally:
        shutil.rmtree(site, ignore_errors=True)


def split_lines(server, path):
    """The trace lines saying the path info of a request for `path` was split off at the script."""
    return [line for line in server.error_log().splitlines() if SPLIT in line and f"path info {path}" in line]


@pytest.mark.parametrize("path, path_info", [("/follow", ""), ("/follow/x/y", "/x/y"), ("/follow/", "/")])
def test_script_through_allowed_symlink(link_server, path, path_info):
    env = environ_of(get(link_server, path))
    assert (env["SCRIPT_NAME"], env["PATH_INFO"]) == ("/follow", path_info)
    assert env["SCRIPT_FILENAME"] == f"{link_server.site}/follow/env.wsgi"


def test_path_info_is_split_off_at_the_script(link_server):
    env = environ_of(get(link_server, "/follow/split/me"))
    assert env["PATH_INFO"] == "/split/me"
    assert split_lines(link_server, "/split/me"), link_server.error_log()[-2000:]
    env = environ_of(get(link_server, "/m/env/regex/split"))
    assert (env["SCRIPT_NAME"], env["PATH_INFO"]) == ("/m/env", "/regex/split")
    assert split_lines(link_server, "/regex/split")


@pytest.mark.parametrize("path", ["/strict", "/strict/x/y"])
def test_symlinked_script_refused_without_follow_symlinks(link_server, path):
    r = get(link_server, path)
    assert r.status_code == 403
    assert "SCRIPT_NAME" not in r.text
    link_server.wait_log(r"AH00037: Symbolic link not allowed", expect=False)


def test_directory_target_without_trailing_slash(link_server):
    one = get(link_server, "/bare/one.wsgi/x/y").json()
    assert one == {"script": "one", "SCRIPT_NAME": "/bare/one.wsgi", "PATH_INFO": "/x/y"}


def test_accept_path_info_off_refuses_path_info(link_server):
    assert environ_of(get(link_server, "/nopath"))["PATH_INFO"] == ""
    link_server.expect_log(r"WSGI0137")
    assert get(link_server, "/nopath/x").status_code == 404


@pytest.mark.parametrize("name", ["named", "exact"])
def test_directory_section_naming_the_script(link_server, name):
    # Given the script's own path, Apache's directory walk takes the file for one more directory
    # level and applies <Directory> sections that name it (here a wildcard and the exact path);
    # finding it at the end of a longer path, it does not (as with mod_wsgi 4.x). Both stay so:
    # the split is left to the walk.
    assert get(link_server, f"/{name}").status_code == 403
    link_server.wait_log(r"AH01630: client denied by server configuration: " + f"{link_server.site}/{name}/env.wsgi", expect=False)
    assert environ_of(get(link_server, f"/{name}/z{name}"))["PATH_INFO"] == f"/z{name}"
    assert not split_lines(link_server, f"/z{name}")


def test_fifo_target_is_forbidden(link_server):
    # Refused before anything opens it: opening a FIFO to read it would block the thread.
    link_server.expect_log(r"WSGI0138")
    assert get(link_server, "/fifo").status_code == 403
    link_server.wait_log(r"WSGI0138: Target WSGI script is not a regular file")
    assert get(link_server, "/fifo/x").status_code == 403
    link_server.wait_log(r"AH00038: Forbidden: .*pipe doesn't point to a file or directory", expect=False)


def test_dot_dot_in_target_is_resolved_as_text(link_server):
    # {site}/jump/../env.wsgi is {site}/env.wsgi to Apache (which does not exist), though the
    # kernel would follow the symbolic link to {site}/real/deep and find {site}/real/env.wsgi.
    link_server.expect_log(r"WSGI0135")
    assert get(link_server, "/dotdot/x").status_code == 404


def test_script_alias_match_target_too_long(link_server):
    # 20 copies of a 4000-byte match: past the 64 KiB ap_pregsub allows.
    link_server.expect_log(r"WSGI0139")
    assert get(link_server, "/long/" + "a" * 4000).status_code == 500
    link_server.wait_log(r"WSGI0139: WSGIScriptAliasMatch target")

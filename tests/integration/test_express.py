"""mod_wsgi-express: start-server, setup-server and its apachectl, module-config,
install-module, and the errors for bad command lines.

Each server runs from a short temp dir on a free 127.0.0.1 port and is stopped by pid with
bounded waits; afterwards no process of it may be left and its error log may hold no crash.
The launcher and the module are copied into a session directory first (the launcher finds
mod_wsgi.so beside itself), so a rebuild during the run does not change them.
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import textwrap
from pathlib import Path

import pytest
import requests

from conftest import CRASH_PATTERNS, REPO, _pid_alive, free_port, wait_for

BUILT = REPO / "build"
START_TIMEOUT = 15.0
STOP_TIMEOUT = 20.0

APP = textwrap.dedent(
    """\
    import json
    import os


    def application(environ, start_response):
        body = json.dumps({
            "pid": os.getpid(),
            "process_group": environ.get("mod_wsgi.process_group"),
            "scheme": environ["wsgi.url_scheme"],
            "script_name": environ["SCRIPT_NAME"],
            "path_info": environ["PATH_INFO"],
            "greeting": environ.get("GREETING"),
            "ssl_protocol": environ.get("SSL_PROTOCOL"),
            "cwd": os.getcwd(),
        }).encode()
        start_response("200 OK", [("Content-Type", "application/json"),
                                  ("Content-Length", str(len(body)))])
        return [body]
    """
)


@pytest.fixture(scope="session")
def express_bin():
    """A private copy of build/mod_wsgi-express with build/mod_wsgi.so beside it."""
    launcher, module = BUILT / "mod_wsgi-express", BUILT / "mod_wsgi.so"
    if not launcher.exists() or not module.exists():
        pytest.exit(f"build {launcher} and {module} first (cmake --build build)", returncode=2)
    base = Path(tempfile.mkdtemp(prefix="mwx-", dir="/tmp"))
    os.chmod(base, 0o755)
    for f in (launcher, module):
        shutil.copy2(f, base / f.name)
    yield base / launcher.name
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def workdir():
    """A short, world-readable temp dir (Apache's children may run as www-data)."""
    path = Path(tempfile.mkdtemp(prefix="mwx-", dir="/tmp"))
    os.chmod(path, 0o755)
    yield path
    if os.environ.get("MOD_WSGI_TEST_KEEP") != "1":
        shutil.rmtree(path, ignore_errors=True)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    os.chmod(path, 0o644)
    return path


def accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def server_pids(root: Path, port: int) -> list[int]:
    """Live processes of a server: the config path on the command line, or the daemon title."""
    needles = (str(root / "httpd.conf").encode(), f"(wsgi:127.0.0.1:{port}".encode())
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
        except OSError:
            continue
        if any(n in cmdline for n in needles) and _pid_alive(int(entry)):
            found.append(int(entry))
    return found


def log_crashes(root: Path) -> list[str]:
    log = root / "error_log"
    text = log.read_text(errors="replace") if log.exists() else ""
    return [line for line in text.splitlines() if any(p.search(line) for p in CRASH_PATTERNS)]


def assert_gone(root: Path, port: int) -> None:
    left = wait_for(lambda: not server_pids(root, port), 10.0) or server_pids(root, port)
    if left is not True:
        for pid in left:
            os.kill(pid, signal.SIGKILL)
        pytest.fail(f"processes left behind: {left}")
    assert log_crashes(root) == []


class Express:
    """One `mod_wsgi-express start-server` run."""

    def __init__(self, binary: Path, workdir: Path, args: list[str], cwd: Path | None = None):
        self.root = workdir / "root"
        self.port = free_port()
        self.output = workdir / "express.out"
        cmd = [str(binary), "start-server", *args, "--server-root", str(self.root),
               "--host", "127.0.0.1", "--port", str(self.port)]
        with open(self.output, "wb") as out:
            self.proc = subprocess.Popen(cmd, cwd=cwd or workdir, stdout=out,
                                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        up = wait_for(lambda: self.proc.poll() is not None or accepts(self.port), START_TIMEOUT)
        if not up or self.proc.poll() is not None:
            self.stop()
            pytest.fail(f"start-server did not come up:\n{self.text()}\n{self.error_log()}")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def text(self) -> str:
        return self.output.read_text(errors="replace")

    def error_log(self) -> str:
        log = self.root / "error_log"
        return log.read_text(errors="replace") if log.exists() else ""

    def get(self, path: str = "/", **kw) -> requests.Response:
        return requests.get(self.url + path, timeout=10, headers={"Connection": "close"}, **kw)

    def stop(self) -> int | None:
        """SIGTERM to start-server, as a supervisor would; returns its exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = None
        assert_gone(self.root, self.port)
        return rc


@pytest.fixture
def express(express_bin, workdir):
    started: list[Express] = []

    def start(args, cwd=None):
        server = Express(express_bin, workdir, [str(a) for a in args], cwd)
        started.append(server)
        return server

    yield start
    for server in started:
        if server.proc.poll() is None:
            server.stop()


def test_script_target_in_daemon_mode_with_url_aliases(express, workdir):
    script = write(workdir / "app" / "app.wsgi", APP)
    write(workdir / "static" / "style.css", "body {}\n")
    robots = write(workdir / "robots.txt", "User-agent: *\n")
    server = express([script, "--url-alias", "/static", workdir / "static",
                      "--url-alias", "/robots.txt", robots, "--server-status"])
    assert f"Server URL        : http://127.0.0.1:{server.port}/" in server.text()

    report = server.get("/some/path").json()
    assert report["process_group"] == f"127.0.0.1:{server.port}"  # daemon mode by default
    assert report["path_info"] == "/some/path"
    assert report["cwd"] == str(workdir)  # --working-directory defaults to the current dir

    css = server.get("/static/style.css")
    assert css.status_code == 200 and css.text == "body {}\n"
    assert css.headers["Content-Type"].startswith("text/css")
    assert server.get("/robots.txt").text == "User-agent: *\n"
    assert "ServerMPM: event" in server.get("/server-status?auto").text  # not the application

    conf = (server.root / "httpd.conf").read_text()
    assert "WSGIDaemonProcess" in conf and "threads=5" in conf and "request-timeout=60" in conf
    if os.geteuid() == 0:
        assert "\nUser www-data\n" in conf
    assert server.stop() == 0  # SIGTERM: graceful stop, exit status 0


def test_module_target(express, workdir):
    write(workdir / "pkg" / "__init__.py", "")
    write(workdir / "pkg" / "web.py", APP.replace("def application", "def wsgi_app"))
    server = express(["--application-type", "module", "pkg.web:wsgi_app"])
    assert server.get("/").json()["script_name"] == ""
    handler = (server.root / "handler.wsgi").read_text()
    assert 'import_module("pkg.web")' in handler and '"wsgi_app"' in handler


def test_embedded_mode_mount_point_document_root_setenv(express, workdir):
    script = write(workdir / "app.wsgi", APP)
    docroot = workdir / "public"
    write(docroot / "index.html", "front page\n")
    server = express([script, "--embedded-mode", "--mount-point", "/api/",
                      "--document-root", docroot, "--directory-index", "index.html",
                      "--setenv", "GREETING", "hello there", "--access-log"])
    report = server.get("/api/x").json()
    assert report["process_group"] == ""  # embedded mode
    assert report["script_name"] == "/api" and report["path_info"] == "/x"
    assert report["greeting"] == "hello there"
    assert server.get("/").text == "front page\n"
    assert server.get("/index.html").text == "front page\n"
    assert "WSGIDaemonProcess" not in (server.root / "httpd.conf").read_text()
    assert wait_for(lambda: "GET /api/x" in (server.root / "access_log").read_text(), 5)


def test_document_root_files_come_before_the_application_at_root(express, workdir):
    """As mod_wsgi-express: with the application at "/", a URL whose file exists in the
    document root is that file; --directory-index serves a directory holding the index file;
    --url-alias still wins; anything else reaches the application."""
    script = write(workdir / "app.wsgi", APP)
    docroot = workdir / "public"
    write(docroot / "robots.txt", "User-agent: *\n")
    write(docroot / "docs" / "index.html", "docs index\n")
    (docroot / "empty").mkdir()
    write(docroot / "static" / "style.css", "from the document root\n")
    write(workdir / "static" / "style.css", "from the alias\n")
    server = express([script, "--document-root", docroot, "--directory-index", "index.html",
                      "--url-alias", "/static", workdir / "static"])
    robots = server.get("/robots.txt")
    assert robots.text == "User-agent: *\n"
    assert robots.headers["Content-Type"].startswith("text/plain")
    assert server.get("/docs/").text == "docs index\n"
    moved = server.get("/docs", allow_redirects=False)  # mod_dir adds the slash
    assert moved.status_code == 301 and moved.headers["Location"].endswith("/docs/")
    assert server.get("/static/style.css").text == "from the alias\n"
    for path in ("/", "/missing.txt", "/empty/", "/robots.txt/more"):
        report = server.get(path).json()
        assert (report["script_name"], report["path_info"]) == ("", path), path
    assert server.get("/robots.txt?x=1").text == "User-agent: *\n"


def test_document_root_files_under_another_mount_point(express, workdir):
    """Mounted at /api, files under the document root's api/ come first there too, and the
    rest of the document root is static as before."""
    script = write(workdir / "app.wsgi", APP)
    docroot = workdir / "public"
    write(docroot / "api" / "schema.json", "{}\n")
    write(docroot / "about.html", "about\n")
    server = express([script, "--mount-point", "/api", "--document-root", docroot])
    assert server.get("/api/schema.json").text == "{}\n"
    report = server.get("/api/users").json()
    assert (report["script_name"], report["path_info"]) == ("/api", "/users")
    assert server.get("/about.html").text == "about\n"
    assert server.get("/other").status_code == 404


def test_reload_on_changes_picks_up_an_edited_module(express, workdir):
    helper = write(workdir / "helper.py", 'VALUE = "one"\n')
    script = write(workdir / "app.wsgi", textwrap.dedent(
        """\
        import os
        import helper


        def application(environ, start_response):
            body = ("%s %d" % (helper.VALUE, os.getpid())).encode()
            start_response("200 OK", [("Content-Type", "text/plain")])
            return [body]
        """))
    server = express([script, "--reload-on-changes"])
    value, pid = server.get("/").text.split()
    assert value == "one"

    write(helper, 'VALUE = "version-two"\n')  # a different size: no stale bytecode
    def reloaded():
        try:
            return server.get("/").text.split()
        except requests.RequestException:
            return None
    got = wait_for(lambda: (r := reloaded()) and r[0] == "version-two" and r, 15.0)
    assert got, f"no reload:\n{server.error_log()}"
    assert got[1] != pid  # a new daemon process
    assert "helper.py changed" in server.error_log()


def test_setup_server_then_apachectl(express_bin, workdir):
    script = write(workdir / "app.wsgi", APP)
    root, port = workdir / "root", free_port()
    proc = subprocess.run([str(express_bin), "setup-server", str(script), "--server-root",
                           str(root), "--host", "127.0.0.1", "--port", str(port)],
                          capture_output=True, text=True, timeout=30, cwd=workdir)
    assert proc.returncode == 0, proc.stderr
    assert not accepts(port)  # nothing started
    apachectl = root / "apachectl"
    assert os.access(apachectl, os.X_OK)

    def ctl(command):
        return subprocess.run([str(apachectl), command], capture_output=True, text=True,
                              timeout=30, stdin=subprocess.DEVNULL)

    assert ctl("configtest").returncode == 0
    try:
        assert ctl("start").returncode == 0
        assert wait_for(lambda: accepts(port), START_TIMEOUT)
        url = f"http://127.0.0.1:{port}/"
        first = requests.get(url, timeout=10).json()["pid"]

        log = root / "error_log"
        assert ctl("graceful").returncode == 0
        assert wait_for(lambda: log.read_text().count("resuming normal operations") >= 2, 15)
        # Apache restarts daemon processes with a graceful restart too.
        assert wait_for(lambda: requests.get(url, timeout=10).json()["pid"] != first, 15)
    finally:
        pid_file = root / "httpd.pid"
        pid = int(pid_file.read_text()) if pid_file.exists() else None
        assert ctl("stop").returncode == 0
        if pid:
            assert wait_for(lambda: not _pid_alive(pid), STOP_TIMEOUT)
        assert_gone(root, port)


@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
def test_https_with_a_self_signed_certificate(express, workdir):
    cert, key = workdir / "server.crt", workdir / "server.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=localhost", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True, timeout=60)
    os.chmod(key, 0o644)
    script = write(workdir / "app.wsgi", APP)
    docroot = workdir / "public"
    write(docroot / "hello.txt", "static over TLS\n")
    https_port = free_port()
    server = express([script, "--https-port", https_port, "--ssl-certificate-file", cert,
                      "--ssl-certificate-key-file", key, "--ssl-environment",
                      "--document-root", docroot])
    assert wait_for(lambda: accepts(https_port), 5)
    report = requests.get(f"https://127.0.0.1:{https_port}/", verify=False, timeout=10).json()
    assert report["scheme"] == "https"
    # The virtual host inherits the document root rules.
    hello = requests.get(f"https://127.0.0.1:{https_port}/hello.txt", verify=False, timeout=10)
    assert hello.text == "static over TLS\n"
    assert report["ssl_protocol"].startswith("TLS")  # --ssl-environment
    assert server.get("/").json()["scheme"] == "http"


def test_module_config_and_install_module(express_bin, workdir):
    out = subprocess.run([str(express_bin), "module-config"], capture_output=True, text=True,
                         timeout=10).stdout
    module = express_bin.parent / "mod_wsgi.so"
    assert f'LoadModule wsgi_module "{module}"' in out
    assert re.search(r'^WSGIPythonHome "/usr"$', out, re.M)

    modules = workdir / "modules"
    modules.mkdir()
    proc = subprocess.run([str(express_bin), "install-module", "--modules-directory",
                           str(modules)], capture_output=True, text=True, timeout=10)
    assert proc.returncode == 0, proc.stderr
    assert (modules / "mod_wsgi.so").read_bytes() == module.read_bytes()
    assert f'LoadModule wsgi_module "{modules}/mod_wsgi.so"' in proc.stdout


@pytest.mark.parametrize(
    "args, message",
    [
        ([], "no application given"),
        (["missing.wsgi"], "no such WSGI script file: missing.wsgi"),
        (["{app}", "--no-such-option"], "--no-such-option"),
        (["{app}", "--port", "70000"], "--port"),
        (["{app}", "--threads", "many"], "--threads"),
        (["{app}", "--application-type", "paste"], "--application-type"),
        (["--application-type", "module", "not a module"], "is not a Python module name"),
        (["{app}", "--https-port", "8443"], "--https-port needs --ssl-certificate-file"),
        (["{app}", "--url-alias", "/static", "/no/such/dir"], "no such file or directory"),
        (["{app}", "--url-alias", "/static"], "--url-alias"),
        (["{app}", "--mount-point", "api"], "--mount-point needs a URL path"),
        (["{app}", "--user", "no-such-user-xyz"], "no such user"),
    ],
)
def test_bad_command_lines_fail_before_anything_starts(express_bin, workdir, args, message):
    app = write(workdir / "app.wsgi", APP)
    args = [a.replace("{app}", str(app)) for a in args]
    if "--user" in args and os.geteuid() != 0:
        pytest.skip("--user is only checked when started as root")
    root, port = workdir / "root", free_port()
    # Our options first: a trailing "--url-alias /static" must find no value after it.
    ours = ["--server-root", str(root)] + ([] if "--port" in args else ["--port", str(port)])
    proc = subprocess.run([str(express_bin), "start-server", *ours, *args],
                          capture_output=True, text=True, timeout=30, cwd=workdir,
                          stdin=subprocess.DEVNULL)
    assert proc.returncode == 2
    assert message in proc.stderr + proc.stdout
    assert not root.exists()  # nothing written, nothing started
    assert not accepts(port)


def test_as_an_ordinary_user(express_bin, workdir):
    """No User directive and no privileged ports when not started as root."""
    if os.geteuid() != 0:
        user = None
    else:
        try:
            user = pwd.getpwnam("nobody")
        except KeyError:
            pytest.skip("no 'nobody' account")
    app = write(workdir / "app.wsgi", APP)
    root = workdir / "root"

    def as_user():
        if user:
            os.setgid(user.pw_gid)
            os.setgroups([])
            os.setuid(user.pw_uid)

    def run(*args):
        return subprocess.run([str(express_bin), "setup-server", str(app), *args],
                              capture_output=True, text=True, timeout=30, cwd=workdir,
                              preexec_fn=as_user, env={"PATH": "/usr/bin:/bin"})

    if user:
        os.chmod(workdir, 0o777)
    if Path("/proc/sys/net/ipv4/ip_unprivileged_port_start").read_text().strip() == "1024":
        denied = run("--port", "80", "--server-root", str(root))
        assert denied.returncode == 2 and "privileged port" in denied.stderr
    ok = run("--port", str(free_port()), "--server-root", str(root))
    assert ok.returncode == 0, ok.stderr
    conf = (root / "httpd.conf").read_text()
    assert "\nUser " not in conf and "\nGroup " not in conf

"""mod_wsgi-express: start-server, setup-server and its apachectl, module-config,
install-module, and the errors for bad command lines.

Each server runs from a short temp dir on a free 127.0.0.1 port and is stopped by pid with
bounded waits; afterwards no process of it may be left and its error log may hold no crash.
The launcher and the module are copied into a session directory first (the launcher finds
mod_wsgi.so beside itself), so a rebuild during the run does not change them.
"""

from __future__ import annotations

import json
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import textwrap
import time
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
            "passed": environ.get("EXPRESS_PASSED"),
            "client_cn": environ.get("SSL_CLIENT_S_DN_CN"),
            "path": environ["SCRIPT_NAME"] + environ["PATH_INFO"],
            "forwarded": {k: v for k, v in environ.items() if k.startswith("HTTP_X_FORWARDED")},
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


PROBE = textwrap.dedent(
    """\
    import json
    import os
    import sys
    import time

    import mod_wsgi


    def application(environ, start_response):
        path = environ["PATH_INFO"]
        if path.startswith("/status/"):
            code = path.split("/")[2]
            body = ("application says " + code).encode()
            start_response(code + " Whatever", [("Content-Type", "text/plain")])
            return [body]
        if path == "/html":
            body = b"<p>" + b"compressible text " * 500 + b"</p>"
            start_response("200 OK", [("Content-Type", "text/html")])
            return [body]
        if path == "/sleep":
            for _ in range(100):
                time.sleep(0.1)
        if path == "/log":
            chunk = "x" * 4000
            for _ in range(int(environ.get("QUERY_STRING") or "1")):
                print(chunk, file=environ["wsgi.errors"])
            environ["wsgi.errors"].flush()
        body = json.dumps({
            "method": environ["REQUEST_METHOD"],
            "remote_addr": environ["REMOTE_ADDR"],
            "scheme": environ["wsgi.url_scheme"],
            "host": environ.get("HTTP_HOST"),
            "user": environ.get("REMOTE_USER"),
            "body": environ["wsgi.input"].read().decode(),
            "metrics": mod_wsgi.server_metrics() is not None,
            "sendfile": environ.get("mod_wsgi.enable_sendfile"),
            "eggs": os.environ.get("PYTHON_EGG_CACHE"),
            "pid": os.getpid(),
            "passed": environ.get("EXPRESS_PASSED"),
            "client_cn": environ.get("SSL_CLIENT_S_DN_CN"),
            "path": environ["SCRIPT_NAME"] + environ["PATH_INFO"],
            "forwarded": {k: v for k, v in environ.items() if k.startswith("HTTP_X_FORWARDED")},
        }).encode()
        start_response("200 OK", [("Content-Type", "application/json"),
                                  ("X-Method", environ["REQUEST_METHOD"])])
        return [body]
    """
)


def probe(server, path: str = "/") -> dict | None:
    """The probe's report, or None while the server cannot answer (a restart)."""
    try:
        response = server.get(path)
        return response.json() if response.status_code == 200 else None
    except (requests.RequestException, ValueError):
        return None


def self_signed(workdir: Path) -> tuple[Path, Path]:
    cert, key = workdir / "server.crt", workdir / "server.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=localhost", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True, timeout=60)
    os.chmod(key, 0o644)
    return cert, key


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
    """Live processes of a server: the config path on the command line, the daemon title, or
    a log file in the server root (rotatelogs)."""
    needles = (str(root / "httpd.conf").encode(), f"(wsgi:127.0.0.1:{port}".encode(),
               f"{root}/".encode())
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

    def __init__(self, binary: Path, workdir: Path, args: list[str], cwd: Path | None = None,
                 name: str = "root"):
        self.root = workdir / name
        self.port = free_port()
        self.output = workdir / f"{name}.out"
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

    def get(self, path: str = "/", headers: dict | None = None, **kw) -> requests.Response:
        return requests.get(self.url + path, timeout=10,
                            headers={"Connection": "close", **(headers or {})}, **kw)

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

    def start(args, cwd=None, name="root"):
        server = Express(express_bin, workdir, [str(a) for a in args], cwd, name)
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
    cert, key = self_signed(workdir)
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


def test_trusted_proxy_headers_and_proxies(express, workdir):
    """--trust-proxy-header/--trust-proxy: WSGITrustedProxyHeaders and WSGITrustedProxies."""
    script = write(workdir / "probe.wsgi", PROBE)
    forwarded = {"X-Forwarded-For": "203.0.113.5", "X-Forwarded-Proto": "https"}
    trusted = express([script, "--trust-proxy-header", "X-Forwarded-For",
                       "--trust-proxy-header", "X-Forwarded-Proto", "--trust-proxy", "127.0.0.1"])
    report = trusted.get("/", headers=forwarded).json()
    assert (report["remote_addr"], report["scheme"]) == ("203.0.113.5", "https")
    assert trusted.get("/").json()["remote_addr"] == "127.0.0.1"
    trusted.stop()

    # Headers from a peer that is not a trusted proxy are ignored.
    other = express([script, "--trust-proxy-header", "X-Forwarded-For",
                     "--trust-proxy", "10.1.2.0/24"], name="other")
    report = other.get("/", headers=forwarded).json()
    assert (report["remote_addr"], report["scheme"]) == ("127.0.0.1", "http")


def test_log_formats_and_names(express, workdir):
    script = write(workdir / "probe.wsgi", PROBE)
    server = express([script, "--access-log", "--access-log-format", '%h "%r" %>s ~%{X-Probe}i',
                      "--error-log-format", "[probe %l] %M", "--access-log-name", "web.log",
                      "--error-log-name", "problems.log"])
    assert server.get("/x", headers={"X-Probe": "abc"}).status_code == 200
    server.get("/log?1")
    web, problems = server.root / "web.log", server.root / "problems.log"
    assert wait_for(lambda: web.exists() and '127.0.0.1 "GET /x HTTP/1.1" 200 ~abc\n'
                    in web.read_text(), 5), web.read_text() if web.exists() else "no web.log"
    assert wait_for(lambda: re.search(r"^\[probe error\] \[client 127\.0\.0\.1:\d+\] x{4000}$",
                                      problems.read_text(), re.M), 5)
    assert not (server.root / "access_log").exists()
    assert not (server.root / "error_log").exists()
    assert "Error log         : " + str(problems) in server.text()
    server.stop()

    # The names mod_wsgi-express gives: common (its default) and combined.
    common = express([script, "--access-log"], name="common")
    common.get("/y")
    log = common.root / "access_log"
    assert wait_for(lambda: log.exists() and '"GET /y HTTP/1.1" 200 ' in log.read_text(), 5)
    assert "python-requests" not in log.read_text()
    common.stop()
    combined = express([script, "--access-log", "--access-log-format", "combined"],
                       name="combined")
    combined.get("/z")
    log = combined.root / "access_log"
    assert wait_for(lambda: log.exists() and '"GET /z HTTP/1.1" 200 ' in log.read_text(), 5)
    assert '"python-requests/' in log.read_text()


def test_rotate_logs(express, workdir):
    """--rotate-logs: rotatelogs writes FILE.YYYY-MM-DD-HH_MM_SS files of --max-log-size MB."""
    script = write(workdir / "probe.wsgi", PROBE)
    server = express([script, "--access-log", "--rotate-logs", "--max-log-size", "1"])
    root = server.root

    def logs(prefix):
        return sorted(root.glob(prefix + ".20*"))

    def written():
        return sum(f.stat().st_size for f in logs("error_log"))

    server.get("/log?300")  # 1.2 MB of error log: the first file passes 1 MB
    assert wait_for(lambda: written() > 300 * 4000, 10), written()
    assert logs("error_log")[0].stat().st_size > 2**20
    first = logs("error_log")
    time.sleep(1.1)  # a file started now has another second in its name
    server.get("/log?300")  # whichever file is current passes 1 MB again
    assert wait_for(lambda: set(logs("error_log")) - set(first), 10), logs("error_log")
    assert not (root / "error_log").exists() and not (root / "access_log").exists()
    assert wait_for(lambda: any("GET /log?300" in f.read_text() for f in logs("access_log")), 5)
    assert any("rotatelogs" in Path(f"/proc/{pid}/cmdline").read_text()
               for pid in server_pids(root, server.port))
    server.stop()  # rotatelogs goes with Apache (assert_gone)


def test_server_name_aliases_and_allow_localhost(express, workdir):
    """--server-name with --server-alias: name-based virtual hosts; other host names get 403,
    except from this machine with --allow-localhost."""
    script = write(workdir / "probe.wsgi", PROBE)
    server = express([script, "--server-name", "example.test",
                      "--server-alias", "*.example.org", "--server-alias", "alias.test"])
    for host in ("example.test", "www.example.org", "alias.test"):
        assert server.get("/", headers={"Host": host}).json()["host"] == host
    assert server.get("/", headers={"Host": "other.test"}).status_code == 403
    assert server.get("/", headers={"Host": "127.0.0.1"}).status_code == 403
    server.stop()

    local = express([script, "--server-name", "example.test", "--allow-localhost"],
                    name="local")
    assert local.get("/", headers={"Host": "other.test"}).json()["host"] == "other.test"


def test_www_server_name_redirects_its_parent_domain(express, workdir):
    script = write(workdir / "probe.wsgi", PROBE)
    server = express([script, "--server-name", "www.example.test"])
    moved = server.get("/a/b?c=1", allow_redirects=False, headers={"Host": "example.test"})
    assert moved.status_code == 301
    assert moved.headers["Location"] == f"http://www.example.test:{server.port}/a/b?c=1"
    assert server.get("/", headers={"Host": "www.example.test"}).json()["host"] == \
        "www.example.test"


@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
def test_https_only_with_hsts_policy(express, workdir):
    cert, key = self_signed(workdir)
    script = write(workdir / "probe.wsgi", PROBE)
    https_port = free_port()
    server = express([script, "--https-port", https_port, "--ssl-certificate-file", cert,
                      "--ssl-certificate-key-file", key, "--https-only",
                      "--hsts-policy", "max-age=600", "--server-name", "localhost"])
    assert wait_for(lambda: accepts(https_port), 5)
    # The name the server answers to (any other gets 403 from the first virtual host).
    moved = server.get("/some/path?q=1", allow_redirects=False,
                       headers={"Host": f"localhost:{server.port}"})
    assert moved.status_code == 302
    assert moved.headers["Location"] == f"https://localhost:{https_port}/some/path?q=1"
    assert "Strict-Transport-Security" not in moved.headers
    secure = requests.get(f"https://127.0.0.1:{https_port}/some/path", verify=False, timeout=10,
                          headers={"Host": "localhost"})
    assert secure.json()["scheme"] == "https"
    assert secure.headers["Strict-Transport-Security"] == "max-age=600"


def test_compress_responses(express, workdir):
    script = write(workdir / "probe.wsgi", PROBE)
    server = express([script, "--compress-responses"])
    html = server.get("/html", headers={"Accept-Encoding": "gzip"})
    assert html.headers.get("Content-Encoding") == "gzip"
    assert html.text.startswith("<p>compressible text ")  # requests decompresses
    assert int(html.headers.get("Content-Length", "0") or 0) < 2000 or \
        html.headers.get("Transfer-Encoding") == "chunked"
    json_response = server.get("/", headers={"Accept-Encoding": "gzip"})
    assert "Content-Encoding" not in json_response.headers  # not a type the original lists
    plain = server.get("/html", headers={"Accept-Encoding": "identity"})
    assert "Content-Encoding" not in plain.headers


def test_request_options_passed_through(express, workdir):
    """--chunked-request, --map-head-to-get, --server-metrics, --enable-sendfile, --python-eggs
    change what the application sees; the buffer sizes, backlogs and response socket timeout
    only need WSGIDaemonProcess to accept them (the server starts)."""
    script = write(workdir / "probe.wsgi", PROBE)
    eggs = workdir / "eggs"
    eggs.mkdir()
    server = express([script, "--chunked-request", "--map-head-to-get", "on",
                      "--server-metrics", "--enable-sendfile", "--python-eggs", eggs,
                      "--send-buffer-size", "16384", "--receive-buffer-size", "16384",
                      "--header-buffer-size", "65536", "--response-buffer-size", "131072",
                      "--response-socket-timeout", "20", "--daemon-backlog", "50",
                      "--server-backlog", "100"])

    def chunks():
        yield b"first,"
        yield b"second"

    report = requests.post(server.url + "/", data=chunks(), timeout=10).json()
    assert report["body"] == "first,second"
    assert requests.head(server.url + "/", timeout=10).headers["X-Method"] == "GET"
    report = server.get("/").json()
    assert report["sendfile"] == "1"
    assert report["eggs"] == str(eggs)
    conf = (server.root / "httpd.conf").read_text()
    for option in ("send-buffer-size=16384", "header-buffer-size=65536",
                   "response-buffer-size=131072", "response-socket-timeout=20",
                   "listen-backlog=50"):
        assert option in conf
    assert "ListenBacklog 100\n" in conf
    # Daemon processes forked at Apache's first start predate its scoreboard: server metrics
    # come with those of a graceful restart (test_python_module_more.py).
    server.proc.send_signal(signal.SIGUSR1)
    assert wait_for(lambda: (r := probe(server)) and r["pid"] != report["pid"], 15)
    assert server.get("/").json()["metrics"] is True
    server.stop()

    # The defaults: no chunked request bodies, HEAD stays HEAD, no server metrics.
    plain = express([script], name="plain")
    assert requests.post(plain.url + "/", data=chunks(), timeout=10).status_code == 411
    assert requests.head(plain.url + "/", timeout=10).headers["X-Method"] == "HEAD"
    report = plain.get("/").json()
    assert report["sendfile"] == "0" and report["eggs"] is None
    plain.proc.send_signal(signal.SIGUSR1)
    assert wait_for(lambda: (r := probe(plain)) and r["pid"] != report["pid"], 15)
    assert plain.get("/").json()["metrics"] is False


def test_error_documents_and_error_override(express, workdir):
    script = write(workdir / "probe.wsgi", PROBE)
    docroot = workdir / "public"
    write(docroot / "errors" / "404.html", "our own not found page\n")
    server = express([script, "--document-root", docroot,
                      "--error-document", "404", "/errors/404.html",
                      "--error-document", "500", "Something broke", "--error-override"])
    missing = server.get("/status/404")
    assert missing.status_code == 404 and missing.text == "our own not found page\n"
    broken = server.get("/status/500")
    assert broken.status_code == 500 and "Something broke" in broken.text
    # Any error response of the application becomes Apache's, with or without a document.
    forbidden = server.get("/status/403")
    assert forbidden.status_code == 403 and "application says" not in forbidden.text
    server.stop()

    # Without --error-override the application's own error responses stand.
    own = express([script, "--document-root", docroot,
                   "--error-document", "404", "/errors/404.html"], name="own")
    assert own.get("/status/404").text == "application says 404"


def test_directory_listing_and_allow_override(express, workdir):
    script = write(workdir / "probe.wsgi", PROBE)
    docroot = workdir / "public"
    write(docroot / "files" / "listed.txt", "x\n")
    write(docroot / "typed" / "data.txt", "y\n")
    write(docroot / "typed" / ".htaccess", "ForceType text/x-probe\n")
    server = express([script, "--mount-point", "/app", "--document-root", docroot,
                      "--directory-listing", "--allow-override", "FileInfo"])
    listing = server.get("/files/")
    assert listing.status_code == 200 and "listed.txt" in listing.text
    assert server.get("/typed/data.txt").headers["Content-Type"] == "text/x-probe"
    server.stop()

    plain = express([script, "--mount-point", "/app", "--document-root", docroot],
                    name="plain")
    assert plain.get("/files/").status_code == 404
    assert plain.get("/typed/data.txt").headers["Content-Type"].startswith("text/plain")


def test_access_and_authentication_scripts(express, workdir):
    script = write(workdir / "probe.wsgi", PROBE)
    access = write(workdir / "access.py", textwrap.dedent(
        """\
        def allow_access(environ, host):
            return "HTTP_X_DENY" not in environ
        """))
    users = write(workdir / "users.py", textwrap.dedent(
        """\
        def check_password(environ, user, password):
            if user in ("ann", "bob"):
                return password == "secret"
            return None
        """))
    groups = write(workdir / "groups.py", textwrap.dedent(
        """\
        def groups_for_user(environ, user):
            return ["staff"] if user == "ann" else ["visitors"]
        """))
    server = express([script, "--host-access-script", access, "--auth-user-script", users,
                      "--auth-group-script", groups, "--auth-group", "staff"])
    assert server.get("/").status_code == 401
    assert server.get("/", auth=("ann", "wrong")).status_code == 401
    assert server.get("/", auth=("ann", "secret")).json()["user"] == "ann"
    assert server.get("/", auth=("bob", "secret")).status_code == 401  # not in staff
    assert server.get("/", auth=("ann", "secret"), headers={"X-Deny": "1"}).status_code == 403


def test_envvars_script_passenv_and_process_name(express, workdir):
    """--envvars-script is sourced by apachectl; --passenv puts one of its variables in the
    environ; --process-name is the Apache processes' argv[0]."""
    script = write(workdir / "probe.wsgi", PROBE)
    envvars = write(workdir / "site.env", "export EXPRESS_PASSED='from the envvars script'\n")
    server = express([script, "--envvars-script", envvars, "--passenv", "EXPRESS_PASSED",
                      "--process-name", "my-site-httpd"])
    assert server.get("/").json()["passed"] == "from the envvars script"
    apache = [pid for pid in server_pids(server.root, server.port)
              if str(server.root / "httpd.conf") in Path(f"/proc/{pid}/cmdline").read_text()]
    assert apache
    for pid in apache:
        assert Path(f"/proc/{pid}/cmdline").read_bytes().startswith(b"my-site-httpd\0")
    server.stop()

    # The server's environment is not the environ without --passenv.
    plain = express([script, "--envvars-script", envvars], name="plain")
    assert plain.get("/").json()["passed"] is None


def test_request_read_timeouts(express, workdir):
    """--header-timeout, --header-max-timeout: mod_reqtimeout answers a client that does not
    finish its headers with 408 and closes (mod_wsgi-express's default is 15-30 s)."""
    script = write(workdir / "probe.wsgi", PROBE)
    server = express([script, "--header-timeout", "1", "--header-max-timeout", "2"])
    conf = (server.root / "httpd.conf").read_text()
    assert "RequestReadTimeout header=1-2,MinRate=500 body=15,MinRate=500\n" in conf
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")  # and nothing more
        started = time.monotonic()
        answer = b""
        while chunk := sock.recv(4096):
            answer += chunk
        assert time.monotonic() - started < 5
    assert answer.startswith(b"HTTP/1.1 408 ")


def test_interrupt_timeout_and_ignore_activity(express, workdir):
    script = write(workdir / "probe.wsgi", PROBE)
    server = express([script, "--request-timeout", "1", "--interrupt-timeout", "5",
                      "--threads", "1", "--inactivity-timeout", "2",
                      "--ignore-activity", "/health"])
    pid = server.get("/health").json()["pid"]
    # Past request-timeout, mod_wsgi.RequestTimeout unwinds the request: 504, same process.
    stuck = server.get("/sleep")
    assert stuck.status_code == 504
    # Requests to /health alone leave the process inactive: it restarts.
    assert wait_for(lambda: (r := probe(server, "/health")) and r["pid"] != pid, 15)


def make_pki(directory: Path) -> dict[str, Path]:
    """A root CA, an intermediate CA, a server certificate for localhost signed by the
    intermediate, and a client certificate signed by the root."""
    directory.mkdir()

    def run(*args):
        subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60,
                       cwd=directory)

    (directory / "ca.ext").write_text("basicConstraints=critical,CA:TRUE\n"
                                      "keyUsage=critical,keyCertSign,cRLSign\n")
    (directory / "server.ext").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=Test Root",
        "-keyout", "root.key", "-out", "root.crt")
    for name, issuer, ext in (("inter", "root", "ca.ext"), ("server", "inter", "server.ext"),
                              ("client", "root", None)):
        cn = {"inter": "Test Intermediate", "server": "localhost", "client": "client-one"}[name]
        run("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={cn}",
            "-keyout", f"{name}.key", "-out", f"{name}.csr")
        run("x509", "-req", "-in", f"{name}.csr", "-CA", f"{issuer}.crt", "-CAkey",
            f"{issuer}.key", "-CAcreateserial", "-days", "1", "-out", f"{name}.crt",
            *(["-extfile", ext] if ext else []))
    for key in directory.glob("*.key"):
        os.chmod(key, 0o644)
    return {p.stem + p.suffix.replace(".", "_"): p for p in directory.iterdir()}


def curl(url: str, port: int, *args) -> subprocess.CompletedProcess:
    """curl with localhost resolved to 127.0.0.1 only; stdout is the body."""
    return subprocess.run(["curl", "-s", "--max-time", "10", "--resolve",
                           f"localhost:{port}:127.0.0.1", *args, url],
                          capture_output=True, text=True, timeout=20)


def test_ssl_chain_and_client_certificates(express, workdir):
    pki = make_pki(workdir / "pki")
    script = write(workdir / "probe.wsgi", PROBE)
    https_port = free_port()
    tls = ["--https-port", https_port, "--ssl-certificate-file", pki["server_crt"],
           "--ssl-certificate-key-file", pki["server_key"]]
    server = express([script, *tls, "--ssl-certificate-chain-file", pki["inter_crt"],
                      "--ssl-ca-certificate-file", pki["root_crt"],
                      "--ssl-verify-client", "/secure", "--ssl-environment"])
    assert wait_for(lambda: accepts(https_port), 5)
    base = f"https://localhost:{https_port}"
    trust = ["--cacert", str(pki["root_crt"])]
    # The chain file lets a client that trusts only the root verify the server.
    opened = curl(base + "/open", https_port, *trust)
    assert opened.returncode == 0, opened.stderr
    assert json.loads(opened.stdout)["client_cn"] is None
    # Only --ssl-verify-client URLs ask for a client certificate.
    refused = curl(base + "/secure", https_port, *trust, "-o", "/dev/null",
                   "-w", "%{http_code}")
    assert refused.stdout != "200"
    mine = curl(base + "/secure/x", https_port, *trust, "--cert", str(pki["client_crt"]),
                "--key", str(pki["client_key"]))
    assert mine.returncode == 0, mine.stderr
    assert json.loads(mine.stdout)["client_cn"] == "client-one"
    server.stop()

    # Without the chain file the same client cannot verify the server.
    no_chain = express([script, *tls], name="nochain")
    assert wait_for(lambda: accepts(https_port), 5)
    assert curl(base + "/", https_port, *trust).returncode == 60  # peer not verified


def test_http2_cgi_and_orphan_interpreter(express, workdir):
    script = write(workdir / "probe.wsgi", PROBE)
    docroot = workdir / "public"
    cgi = write(docroot / "hello.cgi", "#!/bin/sh\necho 'Content-Type: text/plain'\necho\n"
                "echo \"cgi says $REQUEST_METHOD\"\n")
    os.chmod(cgi, 0o755)
    server = express([script, "--document-root", docroot, "--http2", "--with-cgi",
                      "--orphan-interpreter"])
    h2 = curl(f"{server.url}/", server.port, "--http2-prior-knowledge",
              "-w", "\n%{http_version}")
    body, version = h2.stdout.rsplit("\n", 1)
    assert version == "2" and json.loads(body)["method"] == "GET"
    assert server.get("/hello.cgi").text == "cgi says GET\n"
    assert server.get("/other.cgi").json()["method"] == "GET"  # no such file: the application
    assert "WSGIDestroyInterpreter Off\n" in (server.root / "httpd.conf").read_text()
    server.stop()

    plain = express([script, "--document-root", docroot], name="plain")
    h1 = curl(f"{plain.url}/", plain.port, "--http2", "-o", "/dev/null", "-w", "%{http_version}")
    assert h1.stdout == "1.1"  # no h2c upgrade offered
    assert plain.get("/hello.cgi").text.startswith("#!/bin/sh")  # a plain file


def test_proxy_mount_points_and_virtual_hosts(express, workdir):
    """--proxy-mount-point and --proxy-virtual-host pass requests to a backend (here another
    mod_wsgi-express) with X-Forwarded-* headers."""
    script = write(workdir / "probe.wsgi", PROBE)
    backend = express([script], name="backend")
    front = express([script, "--proxy-mount-point", "/backend", backend.url,
                     "--proxy-virtual-host", "back.test", backend.url + "/",
                     "--proxy-timeout", "30", "--keep-alive-timeout", "0"], name="front")
    report = front.get("/backend/some/where").json()
    assert report["path"] == "/some/where" and report["pid"] != front.get("/").json()["pid"]
    assert report["forwarded"]["HTTP_X_FORWARDED_PORT"] == str(front.port)
    assert report["forwarded"]["HTTP_X_FORWARDED_FOR"] == "127.0.0.1"
    assert "HTTP_X_FORWARDED_SCHEME" not in report["forwarded"]  # plain HTTP
    moved = front.get("/backend", allow_redirects=False)
    assert moved.status_code == 302 and moved.headers["Location"].endswith("/backend/")
    assert front.get("/backendx").json()["path"] == "/backendx"  # the front's application
    by_name = front.get("/x", headers={"Host": "back.test"}).json()
    assert by_name["path"] == "/x" and by_name["pid"] == report["pid"]
    # Other host names are still the front's own application.
    assert front.get("/x", headers={"Host": "else.test"}).json()["pid"] != report["pid"]
    # --keep-alive-timeout 0: the front closes every connection.
    with requests.Session() as session:
        assert session.get(front.url + "/").headers.get("Connection") == "close"


def test_add_handler(express, workdir):
    """--add-handler: document root files with the extension are served by the script's
    handle_request() or application(), in the application's daemon process group."""
    script = write(workdir / "probe.wsgi", PROBE)
    docroot = workdir / "public"
    write(docroot / "page.tmpl", "Hello {name}\n")
    write(docroot / "notes.MD", "# notes\n")
    render = write(workdir / "render.py", textwrap.dedent(
        """\
        def application(environ, start_response):
            with open(environ["SCRIPT_FILENAME"]) as f:
                body = f.read().format(name=environ["mod_wsgi.process_group"]).encode()
            start_response("200 OK", [("Content-Type", "text/plain")])
            return [body]
        """))
    markdown = write(workdir / "markdown.py", textwrap.dedent(
        """\
        def handle_request(environ, start_response):
            start_response("200 OK", [("Content-Type", "text/html")])
            return [b"<h1>markdown</h1>"]


        def application(environ, start_response):
            raise AssertionError("handle_request comes first")
        """))
    server = express([script, "--document-root", docroot, "--add-handler", ".tmpl", render,
                      "--add-handler", "md", markdown])
    assert server.get("/page.tmpl").text == f"Hello 127.0.0.1:{server.port}\n"
    assert server.get("/notes.MD").text == "<h1>markdown</h1>"
    assert server.get("/missing.tmpl").json()["path"] == "/missing.tmpl"  # the application


def apache_processes(server) -> list[int]:
    """The Apache parent and children of a server (not its daemon processes)."""
    conf = str(server.root / "httpd.conf").encode()
    found = []
    for pid in server_pids(server.root, server.port):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if conf in cmdline and not cmdline.startswith(b"(wsgi:"):
            found.append(pid)
    return found


def test_initial_and_spare_workers(express, workdir):
    """--initial-workers: with room for two Apache children (--max-clients 50, 25 threads
    each), 1.0 starts both; the default starts one."""
    script = write(workdir / "probe.wsgi", PROBE)
    server = express([script, "--max-clients", "50", "--initial-workers", "1.0",
                      "--minimum-spare-workers", "0.5", "--maximum-spare-workers", "1.0"])
    conf = (server.root / "httpd.conf").read_text()
    assert "StartServers 2\n" in conf and "MinSpareThreads 25\n" in conf
    assert "MaxSpareThreads 50\n" in conf
    assert wait_for(lambda: len(apache_processes(server)) == 3, 10), apache_processes(server)
    server.stop()

    plain = express([script, "--max-clients", "50"], name="plain")
    plain.get("/")
    time.sleep(1.5)  # Apache's maintenance would start another child within a second
    assert len(apache_processes(plain)) == 2


def test_static_application_type(express, workdir):
    """--application-type static: the target directory is the document root, served as is
    (a .wsgi file is a file); no Python anywhere."""
    site = workdir / "site"
    write(site / "index.html", "home\n")
    write(site / "files" / "report.txt", "numbers\n")
    write(site / "app.wsgi", APP)
    server = express(["--application-type", "static", site, "--directory-index", "index.html",
                      "--directory-listing"])
    assert server.get("/").text == "home\n"
    assert "report.txt" in server.get("/files/").text
    assert server.get("/app.wsgi").text == APP
    assert server.get("/missing").status_code == 404
    assert "Mode              : static files only" in server.text()
    conf = (server.root / "httpd.conf").read_text()
    assert "WSGIScriptAlias" not in conf and "WSGIDaemonProcess" not in conf
    assert server_pids(server.root, server.port)
    assert not any(Path(f"/proc/{pid}/cmdline").read_bytes().startswith(b"(wsgi:")
                   for pid in server_pids(server.root, server.port))


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
        (["--application-type", "static", "no-such-dir"], "no such directory"),
        (["--application-type", "module", "not a module"], "is not a Python module name"),
        (["{app}", "--https-port", "8443"], "--https-port needs --ssl-certificate-file"),
        (["{app}", "--url-alias", "/static", "/no/such/dir"], "no such file or directory"),
        (["{app}", "--url-alias", "/static"], "--url-alias"),
        (["{app}", "--mount-point", "api"], "--mount-point needs a URL path"),
        (["{app}", "--user", "no-such-user-xyz"], "no such user"),
        (["{app}", "--trust-proxy", "300.1.2.3"], "--trust-proxy needs an IP address"),
        (["{app}", "--trust-proxy-header", "X-Bogus"], "--trust-proxy-header: 'X-Bogus'"),
        (["{app}", "--header-buffer-size", "100"], "--header-buffer-size must be 0"),
        (["{app}", "--header-timeout", "40"], "--header-max-timeout (30) must be 0 or more"),
        (["{app}", "--ignore-activity", "health"], "--ignore-activity needs a URL path"),
        (["{app}", "--passenv", "NOT-A-NAME"], "--passenv needs an environment variable"),
        (["{app}", "--ssl-certificate-chain-file", "chain.pem"], "the SSL options need"),
        (["{app}", "--http2", "--server-mpm", "prefork"], "--http2 does not work"),
        (["{app}", "--proxy-mount-point", "/api", "ftp://x"], "needs an http://"),
        (["{app}", "--add-handler", ".tmpl", "missing.py"], "--add-handler: no such file"),
        (["{app}", "--initial-workers", "2"], "--initial-workers"),
        (["{app}", "--envvars-script", "missing.env"], "--envvars-script: no such file"),
        (["{app}", "--max-log-size", "0"], "--max-log-size"),
        (["{app}", "--rotate-logs", "--rotatelogs-executable", "/no/such/rotatelogs"],
         "--rotatelogs-executable"),
        (["{app}", "--access-log-name", "logs/access"], "--access-log-name needs a file name"),
        (["{app}", "--error-document", "200", "/ok.html"], "--error-document needs an HTTP"),
        (["{app}", "--allow-override", "Everything"], "--allow-override needs"),
        (["{app}", "--auth-type", "Kerberos"], "--auth-type"),
        (["{app}", "--map-head-to-get", "sometimes"], "--map-head-to-get"),
        (["{app}", "--auth-user-script", "missing.py"], "--auth-user-script: no such file"),
        (["{app}", "--server-alias", "two words"], "--server-alias needs a name"),
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


def test_scripts_the_run_user_cannot_read(express_bin, workdir):
    """Started as root, the access and auth scripts must be readable by --user (www-data)."""
    if os.geteuid() != 0:
        pytest.skip("the run user is only checked when started as root")
    app = write(workdir / "app.wsgi", APP)
    secret = write(workdir / "auth.py", "def check_password(environ, user, password):\n"
                                        "    return True\n")
    os.chmod(secret, 0o600)
    root = workdir / "root"
    proc = subprocess.run([str(express_bin), "setup-server", str(app), "--server-root",
                           str(root), "--port", str(free_port()), "--auth-user-script",
                           str(secret)], capture_output=True, text=True, timeout=30, cwd=workdir)
    assert proc.returncode == 2
    assert f"www-data cannot read the script {secret}" in proc.stderr
    assert not root.exists()


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

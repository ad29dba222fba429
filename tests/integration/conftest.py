"""pytest harness that drives a private Apache httpd with mod_wsgi loaded.

Every server gets its own ServerRoot in a temp directory, a free 127.0.0.1 port and a config
rendered from a small base plus the directives a test passes in.  Nothing touches the system
Apache service.  After each test the error log of every server that test could have talked to is
checked for crashed children, crit/alert/emerg lines and unexpected ``[wsgi:error]`` lines
(modelled on httpd's ``test/pyhttpd`` log check), and processes left behind by a stopped server
fail the test.

Fixtures and helpers other test modules rely on:

* ``mpm`` -- module-scoped, parametrised over ``event``, ``worker`` and ``prefork``.
* ``apache`` -- factory ``apache(config, *, mpm=None, modules=(), python_path=None,
  load_wsgi=True)`` returning a started :class:`ApacheServer`, stopped after the test.  When the
  test also requests ``mpm`` that value is the default, otherwise ``event``.
* ``module_apache`` -- the same factory, but servers live until the end of the test module
  (use it from a module-scoped fixture to share one server between many tests);
  ``module_apache.release(server)`` stops one earlier, e.g. when its ``mpm`` parameter ends.
* ``config_test(config, ...)`` -- ``apache2 -t`` on a rendered config, returns (rc, output).
* ``raw_request(port, data, timeout=10)`` -- raw-socket HTTP exchange, reads until close.
* ``split_response(raw)`` -- (status line, header list, body bytes) of a raw response.

Environment: ``MOD_WSGI_SO`` overrides the module path (default ``<repo>/build/mod_wsgi.so``),
``APACHE2`` the httpd binary, ``MOD_WSGI_TEST_KEEP=1`` keeps the temp server roots.
``MOD_WSGI_TEST_PRELOAD`` (or ``LD_PRELOAD``), ``ASAN_OPTIONS`` and ``UBSAN_OPTIONS`` are given to
httpd when set (a sanitizer build of the module, see scripts/test.sh).
"""

from __future__ import annotations

import datetime
import grp
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
APPS = Path(__file__).resolve().parent / "apps"
HTTPD = Path(os.environ.get("APACHE2", "/usr/sbin/apache2"))
MODULES_DIR = Path("/usr/lib/apache2/modules")
MOD_WSGI_SO = Path(os.environ.get("MOD_WSGI_SO", REPO / "build" / "mod_wsgi.so"))

START_TIMEOUT = 15.0
STOP_TIMEOUT = 15.0

# Modules every server loads (mpm_<name> comes first).  unixd and log_config are compiled into
# Debian's apache2 binary, so they have no LoadModule line.
BASE_MODULES = ("authz_core", "authz_host", "mime", "alias", "dir", "env", "setenvif", "headers")
BUILTIN_MODULES: set[str] = set()  # filled lazily from `apache2 -l`

CRASH_PATTERNS = (
    re.compile(r"AH00052"),  # child pid N exit signal ...
    re.compile(r"Segmentation fault"),
    re.compile(r"\] \[[\w.-]*:(crit|alert|emerg)\] "),
    re.compile(r"AH00046"),  # child process still did not exit, sending a SIGKILL
    # A sanitizer build (scripts/test.sh): httpd's stderr, and so these reports, go to the log.
    re.compile(r"ERROR: AddressSanitizer|^\S+:\d+:\d+: runtime error: |SUMMARY: \w+Sanitizer"),
)
LOG_LINE = re.compile(
    r"^\[(?P<time>[^\]]*)\] \[(?P<module>[\w.-]*):(?P<level>\w+)\] "
    r"\[pid (?P<pid>\d+)(?::tid (?P<tid>\d+))?\]\s?(?P<client>\[(?:client|remote) [^\]]*\]\s?)?"
    r"(?P<msg>.*)$"
)
# Lines of one thread (and one client connection) logged this close together form one message:
# a headline, its traceback and the exception line are separate log lines.
BLOCK_GAP_SECONDS = 2.0


def _builtin_modules() -> set[str]:
    if not BUILTIN_MODULES:
        out = subprocess.run([str(HTTPD), "-l"], capture_output=True, text=True, timeout=30).stdout
        for line in out.splitlines():
            m = re.match(r"\s*mod_(\w+)\.c", line)
            if m:
                BUILTIN_MODULES.add(m.group(1))
        BUILTIN_MODULES.add("core")
    return BUILTIN_MODULES


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run_account() -> tuple[str, str, int, int] | None:
    """The unprivileged account Apache children switch to when we run as root."""
    if os.geteuid() != 0:
        return None
    for name in ("www-data", "nobody"):
        try:
            pw = pwd.getpwnam(name)
        except KeyError:
            continue
        group = grp.getgrgid(pw.pw_gid).gr_name
        return name, group, pw.pw_uid, pw.pw_gid
    raise RuntimeError("running as root but no www-data/nobody account exists")


def _clean_env() -> dict[str, str]:
    env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C"}
    # A sanitizer build of the module needs its runtime preloaded into httpd (scripts/test.sh).
    # MOD_WSGI_TEST_PRELOAD gives it to httpd alone: pytest and the other tools the tests run
    # stay unsanitized (some, e.g. pgrep, hang with libasan preloaded).
    preload = os.environ.get("MOD_WSGI_TEST_PRELOAD") or os.environ.get("LD_PRELOAD")
    if preload:
        env["LD_PRELOAD"] = preload
    for key in ("ASAN_OPTIONS", "UBSAN_OPTIONS"):
        if os.environ.get(key):
            env[key] = os.environ[key]
    return env


def _pid_alive(pid: int) -> bool:
    """True while `pid` exists and is not a zombie (the daemonised parent is not our child)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return False
    state = data[data.rindex(b")") + 2 : data.rindex(b")") + 3]
    return state not in (b"Z", b"X")


def _pids_with_arg(needle: str) -> list[int]:
    """Live processes whose command line contains `needle` (our unique config path)."""
    found = []
    me = os.getpid()
    needle_b = needle.encode()
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == me:
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmdline = f.read()
        except OSError:
            continue
        if needle_b in cmdline and _pid_alive(int(entry)):
            found.append(int(entry))
    return found


def wait_for(predicate, timeout: float, interval: float = 0.05):
    """Poll `predicate` until it returns a truthy value or `timeout` seconds pass."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            return value
        time.sleep(interval)


# --------------------------------------------------------------------------------------------
# Config rendering


class ClientThreads:
    """Client threads that each run ``self._run(number)`` until stopped, for tests that keep a
    server under load while something happens to it. A context manager: entering starts them;
    leaving sets ``self.stop`` and joins them within ``join_timeout`` seconds (failing the test
    if one is still running). ``self.lock`` guards what subclasses record."""

    def __init__(self, threads: int, join_timeout: float = 30):
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.join_timeout = join_timeout
        self.threads = [
            threading.Thread(target=self._run, args=(n,), daemon=True) for n in range(threads)
        ]

    def _run(self, number: int) -> None:
        raise NotImplementedError

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(self.join_timeout)
        assert not any(t.is_alive() for t in self.threads), "load threads did not finish"


class ServerRoot:
    """A temp ServerRoot: conf/, logs/, run/, htdocs/, static/ and a tmp/ the app may write."""

    def __init__(self, base: Path, name: str):
        self.path = Path(tempfile.mkdtemp(prefix=name + "-", dir=base))
        for sub in ("conf", "logs", "run", "htdocs", "static", "tmp"):
            (self.path / sub).mkdir()
        account = _run_account()
        os.chmod(self.path, 0o755)
        for sub in ("conf", "logs", "run", "htdocs", "static"):
            os.chmod(self.path / sub, 0o755)
        # tmp/ is where apps record markers (close() calls, atexit): writable by the children.
        os.chmod(self.path / "tmp", 0o1777)
        if account:
            os.chown(self.path / "tmp", account[2], account[3])
        (self.path / "htdocs" / "index.html").write_text("index\n")
        (self.path / "static" / "hello.txt").write_text("static hello\n")
        for sub in ("htdocs", "static"):
            for f in (self.path / sub).iterdir():
                os.chmod(f, 0o644)

    @property
    def conf(self) -> Path:
        return self.path / "conf" / "httpd.conf"


def substitute(text: str, root: Path) -> str:
    """Replace the {root}, {apps} and {tmp} placeholders (and nothing else: regexes keep braces)."""
    return (
        text.replace("{root}", str(root)).replace("{apps}", str(APPS)).replace("{tmp}", str(root / "tmp"))
    )


def render_config(
    root: Path,
    port: int,
    config: str,
    *,
    mpm: str = "event",
    modules=(),
    python_path=None,
    load_wsgi: bool = True,
) -> str:
    builtin = _builtin_modules()
    lines = [
        f'ServerRoot "{root}"',
        f"Listen 127.0.0.1:{port}",
        "ServerName 127.0.0.1",
        f'PidFile "{root}/run/httpd.pid"',
        f'DefaultRuntimeDir "{root}/run"',
        f"Mutex file:{root}/run default",
        f'ErrorLog "{root}/logs/error_log"',
        'LogFormat "%h %l %u %t \\"%r\\" %>s %b %D" common',
        f'CustomLog "{root}/logs/access_log" common',
        "Timeout 20",
        "GracefulShutdownTimeout 5",
        "KeepAlive On",
        "KeepAliveTimeout 5",
        f'DocumentRoot "{root}/htdocs"',
    ]
    for name in (f"mpm_{mpm}", *BASE_MODULES, *modules):
        if name in builtin:
            continue
        lines.append(f"LoadModule {name}_module {MODULES_DIR}/mod_{name}.so")
    if load_wsgi:
        lines.append(f'LoadModule wsgi_module "{_SESSION_SO or MOD_WSGI_SO}"')
    # After the LoadModule lines (a per-module level needs the module); a LogLevel in the test's
    # config comes later and wins.
    lines.append("LogLevel warn wsgi:info" if load_wsgi else "LogLevel warn")
    account = _run_account()
    if account:
        lines += [f"User {account[0]}", f"Group {account[1]}"]
    if mpm == "prefork":
        lines += [
            "StartServers 2",
            "MinSpareServers 1",
            "MaxSpareServers 4",
            "ServerLimit 8",
            "MaxRequestWorkers 8",
        ]
    else:
        lines += [
            "StartServers 1",
            "ServerLimit 2",
            "ThreadsPerChild 8",
            "ThreadLimit 8",
            "MinSpareThreads 1",
            "MaxSpareThreads 16",
            "MaxRequestWorkers 16",
        ]
    lines += [
        "TypesConfig /etc/mime.types",
        "<Directory />",
        "    AllowOverride None",
        "    Require all denied",
        "</Directory>",
        f'<Directory "{root}">',
        "    Require all granted",
        "</Directory>",
        f'<Directory "{APPS}">',
        "    Require all granted",
        "</Directory>",
        "DirectoryIndex index.html",
    ]
    if python_path:
        if not isinstance(python_path, str):
            python_path = ":".join(str(p) for p in python_path)
        lines.append(f'WSGIPythonPath "{python_path}"')
    lines.append("# ---- test configuration ----")
    lines.append(substitute(config, root))
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------------------
# Error-log checking


def _log_time(stamp: str) -> float:
    try:
        return datetime.datetime.strptime(stamp, "%a %b %d %H:%M:%S.%f %Y").timestamp()
    except ValueError:
        return 0.0


def _log_blocks(text: str):
    """Yield lists of (line, message) of `wsgi:error` lines, one list per logged message.

    Consecutive lines of the same pid/tid and client logged within BLOCK_GAP_SECONDS belong to
    one message (a headline, a traceback, the exception line).
    """
    current: dict[tuple, list] = {}
    last_time: dict[tuple, float] = {}
    for raw in text.splitlines():
        m = LOG_LINE.match(raw)
        if not m or m.group("module") != "wsgi" or m.group("level") != "error":
            continue
        key = (m.group("pid"), m.group("tid") or "", (m.group("client") or "").strip())
        stamp = _log_time(m.group("time"))
        if key in current and abs(stamp - last_time[key]) > BLOCK_GAP_SECONDS:
            yield current.pop(key)
        current.setdefault(key, []).append((raw, m.group("msg")))
        last_time[key] = stamp
    yield from current.values()


def log_problems(text: str, expected: list[re.Pattern]) -> list[str]:
    """Crash / crit lines and wsgi:error messages (with tracebacks) no expected pattern covers.

    Expected patterns are searched in the messages (the text after the [client ...] prefix); a
    message is covered when the pattern matches it or any line of its traceback.
    """
    problems = []
    for line in text.splitlines():
        if any(p.search(line) for p in CRASH_PATTERNS):
            problems.append(line)
    for block in _log_blocks(text):
        if not any(p.search(msg) for p in expected for _line, msg in block):
            problems.extend(line for line, _msg in block)
    return problems


# --------------------------------------------------------------------------------------------
# The server


class ApacheError(RuntimeError):
    pass


class ApacheServer:
    def __init__(self, root: ServerRoot, config: str, *, mpm: str, modules, python_path, load_wsgi):
        self.server_root = root
        self.root = root.path
        self.tmp = root.path / "tmp"
        self.mpm = mpm
        self.modules = tuple(modules)
        self.python_path = python_path
        self.load_wsgi = load_wsgi
        self.user_config = config
        self.port = 0
        self.pid = 0
        self._expected: list[re.Pattern] = []
        self._tolerated: list[re.Pattern] = []
        self._checked_offset = 0
        self.stopped = True

    # -- paths and logs
    @property
    def conf(self) -> Path:
        return self.server_root.conf

    @property
    def error_log_path(self) -> Path:
        return self.root / "logs" / "error_log"

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def error_log(self) -> str:
        try:
            return self.error_log_path.read_bytes().decode("utf-8", "backslashreplace")
        except FileNotFoundError:
            return ""

    def access_log(self) -> str:
        try:
            return (self.root / "logs" / "access_log").read_text("utf-8", "backslashreplace")
        except FileNotFoundError:
            return ""

    def expect_log(self, pattern: str) -> None:
        """Tolerate `[wsgi:error]` messages matching `pattern` (for this server's lifetime)."""
        self._expected.append(re.compile(pattern))

    def tolerate_log(self, pattern: str) -> None:
        """Tolerate any log line matching `pattern`, a crash line included: for a test whose
        point is a process dying (httpd logs AH00052 for a daemon process killed by SIGABRT)."""
        self._tolerated.append(re.compile(pattern))

    def wait_log(self, pattern: str, timeout: float = 5.0, *, expect: bool = True) -> re.Match:
        """Wait (bounded) until the error log matches `pattern`; by default also expect it."""
        if expect:
            self.expect_log(pattern)
        rx = re.compile(pattern, re.M)
        found = wait_for(lambda: rx.search(self.error_log()), timeout)
        if not found:
            raise AssertionError(
                f"error log never matched {pattern!r} within {timeout}s:\n{self.error_log()[-4000:]}"
            )
        return found

    def log_problems_since_check(self) -> list[str]:
        text = self.error_log()
        new = text[self._checked_offset :]
        self._checked_offset = len(text)
        problems = [
            line
            for line in log_problems(new, self._expected)
            if not any(p.search(line) for p in self._tolerated)
        ]
        if problems:
            _KEEP_ROOTS.add(self.root)
        return problems

    # -- lifecycle
    def _render(self) -> None:
        self.conf.write_text(
            render_config(
                self.root,
                self.port,
                self.user_config,
                mpm=self.mpm,
                modules=self.modules,
                python_path=self.python_path,
                load_wsgi=self.load_wsgi,
            )
        )
        os.chmod(self.conf, 0o644)

    def _httpd(self, *args: str, timeout: float = 30) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(HTTPD), "-d", str(self.root), "-f", str(self.conf), *args],
            env=_clean_env(),
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )

    def start(self) -> "ApacheServer":
        for _attempt in range(3):
            self.port = free_port()
            self._render()
            pidfile = self.root / "run" / "httpd.pid"
            pidfile.unlink(missing_ok=True)
            proc = self._httpd("-k", "start")
            self.stopped = False
            if proc.returncode != 0:
                self._kill_leftovers()
                self.stopped = True
                raise ApacheError(
                    f"apache2 -k start failed (rc={proc.returncode}):\n{proc.stdout}{proc.stderr}\n"
                    f"--- error_log ---\n{self.error_log()}"
                )
            if wait_for(lambda: pidfile.exists() and pidfile.read_text().strip(), START_TIMEOUT):
                self.pid = int(pidfile.read_text().strip())
                if wait_for(self._accepts, START_TIMEOUT - 1):
                    return self
            log = self.error_log()
            self._kill_leftovers()
            self.stopped = True
            if "Address already in use" in log:
                continue  # lost the race for the port: try another one
            raise ApacheError(f"apache did not come up on port {self.port}:\n{log}")
        raise ApacheError("could not find a free port for apache")

    def _accepts(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                return True
        except OSError:
            return False

    def graceful(self, timeout: float = 15.0) -> None:
        """Graceful restart (SIGUSR1) and wait until the parent logs it resumed operations."""
        marker = "resuming normal operations"
        before = self.error_log().count(marker)
        os.kill(self.pid, signal.SIGUSR1)
        if not wait_for(lambda: self.error_log().count(marker) > before, timeout):
            raise ApacheError(f"graceful restart not completed within {timeout}s:\n{self.error_log()}")
        wait_for(self._accepts, timeout)

    def stop(self) -> list[str]:
        """Stop the server (SIGTERM to the parent); returns a list of leaked-process complaints."""
        if self.stopped:
            return []
        self.stopped = True
        problems = []
        if self.pid and _pid_alive(self.pid):
            # Graceful stop first (SIGWINCH, `apachectl graceful-stop`): an ungraceful stop
            # (SIGTERM) of mpm_event races with worker threads finishing a connection
            # (close_worker_sockets() reads a socket whose pool a worker just freed) and
            # crashes the child now and then, in Apache's own code. GracefulShutdownTimeout in
            # the base config bounds the graceful stop; SIGTERM follows only if it hangs.
            try:
                os.kill(self.pid, signal.SIGWINCH)
            except ProcessLookupError:
                pass
            if not wait_for(lambda: not _pid_alive(self.pid), STOP_TIMEOUT):
                try:
                    os.kill(self.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
                if not wait_for(lambda: not _pid_alive(self.pid), STOP_TIMEOUT):
                    problems.append(f"apache parent {self.pid} did not stop in {2 * STOP_TIMEOUT}s")
        # Children (and daemon processes) carry our unique config path on their command line.
        if not wait_for(lambda: not _pids_with_arg(str(self.conf)), 5.0):
            left = _pids_with_arg(str(self.conf))
            problems.append(f"processes left behind after stop: {left}")
        self._kill_leftovers()
        if problems:
            _KEEP_ROOTS.add(self.root)
        return problems

    def _kill_leftovers(self) -> None:
        for pid in _pids_with_arg(str(self.conf)):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        wait_for(lambda: not _pids_with_arg(str(self.conf)), 5.0)


# --------------------------------------------------------------------------------------------
# Fixtures

_LIVE_SERVERS: list[ApacheServer] = []  # every server whose log still needs checking
_KEEP_ROOTS: set[Path] = set()  # server roots of failed checks, kept for a post-mortem


class ApacheFactory:
    def __init__(self, base: Path, default_mpm: str):
        self.base = base
        self.default_mpm = default_mpm
        self.servers: list[ApacheServer] = []
        self.closed: list[ApacheServer] = []

    def __call__(
        self,
        config: str = "",
        *,
        mpm: str | None = None,
        modules=(),
        python_path=None,
        load_wsgi: bool = True,
    ) -> ApacheServer:
        if load_wsgi:
            _require_module(self.base)
        root = ServerRoot(self.base, "s")
        server = ApacheServer(
            root,
            config,
            mpm=mpm or self.default_mpm,
            modules=modules,
            python_path=python_path,
            load_wsgi=load_wsgi,
        )
        self.servers.append(server)
        _LIVE_SERVERS.append(server)
        server.start()
        return server

    def _finish(self, server: ApacheServer) -> list[str]:
        problems = server.stop() + server.log_problems_since_check()
        if server in _LIVE_SERVERS:
            _LIVE_SERVERS.remove(server)
        return problems

    def release(self, server: ApacheServer) -> None:
        """Stop `server` now (e.g. at the end of one `mpm` parameter) and check its log."""
        self.servers.remove(server)
        problems = self._finish(server)
        if problems:
            pytest.fail(f"apache problems (kept {server.root}):\n" + "\n".join(problems), pytrace=False)

    def close(self) -> list[str]:
        problems = []
        for server in self.servers:
            problems += self._finish(server)
        self.closed, self.servers = self.servers, []
        return problems


_SESSION_SO: Path | None = None  # this session's copy of the module


def _require_module(base: Path) -> None:
    """Exit if the module is missing; else load a private copy, so a rebuild mid-run is harmless."""
    global _SESSION_SO
    if _SESSION_SO is not None:
        return
    if not MOD_WSGI_SO.exists():
        pytest.exit(
            f"mod_wsgi module not found at {MOD_WSGI_SO}: build it first "
            "(cmake -S . -B build && cmake --build build -j2) or set MOD_WSGI_SO",
            returncode=2,
        )
    copy = base / "mod_wsgi.so"
    shutil.copyfile(MOD_WSGI_SO, copy)
    os.chmod(copy, 0o755)
    _SESSION_SO = copy


@pytest.fixture(scope="session")
def server_base():
    base = Path(tempfile.mkdtemp(prefix="mwt-", dir="/tmp"))
    os.chmod(base, 0o755)
    yield base
    if os.environ.get("MOD_WSGI_TEST_KEEP") == "1":
        return
    for root in base.iterdir():
        if root.is_file():
            root.unlink()
        elif root not in _KEEP_ROOTS:
            shutil.rmtree(root, ignore_errors=True)
    if not _KEEP_ROOTS:
        base.rmdir()


@pytest.fixture(scope="module", params=["event", "worker", "prefork"], ids=["mpm-event", "mpm-worker", "mpm-prefork"])
def mpm(request):
    return request.param


@pytest.fixture
def apache(request, server_base):
    default = request.getfixturevalue("mpm") if "mpm" in request.fixturenames else "event"
    factory = ApacheFactory(server_base, default)
    yield factory
    problems = factory.close()
    if problems:
        roots = ", ".join(str(s.root) for s in factory.closed if s.root in _KEEP_ROOTS)
        pytest.fail(f"apache problems (kept {roots}):\n" + "\n".join(problems), pytrace=False)


@pytest.fixture(scope="module")
def module_apache(server_base):
    factory = ApacheFactory(server_base, "event")
    yield factory
    problems = factory.close()
    if problems:
        roots = ", ".join(str(s.root) for s in factory.closed if s.root in _KEEP_ROOTS)
        pytest.fail(f"apache problems at module teardown (kept {roots}):\n" + "\n".join(problems), pytrace=False)


@pytest.fixture(autouse=True)
def _error_log_guard():
    """After each test, fail on crash lines or unexpected wsgi:error lines in any live server."""
    yield
    problems = []
    for server in list(_LIVE_SERVERS):
        for line in server.log_problems_since_check():
            problems.append(f"{server.root} (kept): {line}")
    if problems:
        pytest.fail("unexpected lines in the error log:\n" + "\n".join(problems), pytrace=False)


@pytest.fixture
def config_test(server_base):
    """`apache2 -t` on a rendered config: returns (returncode, combined output)."""

    def run(config: str, *, mpm: str = "event", modules=(), load_wsgi: bool = True):
        if load_wsgi:
            _require_module(server_base)
        root = ServerRoot(server_base, "t")
        root.conf.write_text(
            render_config(root.path, free_port(), config, mpm=mpm, modules=modules, load_wsgi=load_wsgi)
        )
        proc = subprocess.run(
            [str(HTTPD), "-t", "-d", str(root.path), "-f", str(root.conf)],
            env=_clean_env(),
            capture_output=True,
            text=True,
            timeout=60,
            stdin=subprocess.DEVNULL,
        )
        return proc.returncode, proc.stdout + proc.stderr

    return run


# --------------------------------------------------------------------------------------------
# Raw HTTP helpers


def raw_exchange(port: int, data, timeout: float = 10.0, *, shutdown_write: bool = False,
                 pause: float = 0.0):
    """Send `data` to 127.0.0.1:`port`, read until the server closes or `timeout` passes.

    `data` is bytes, or a list of pieces sent one at a time (TCP_NODELAY) with `pause` seconds
    between them. Returns (received bytes, closed) where closed is False when the timeout ended
    the read.
    """
    chunks = []
    closed = False
    deadline = time.monotonic() + timeout
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        if isinstance(data, (bytes, bytearray)):
            s.sendall(data)
        else:
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            for i, piece in enumerate(data):
                if i > 0:
                    time.sleep(pause)
                s.sendall(piece)
        if shutdown_write:
            s.shutdown(socket.SHUT_WR)
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            s.settimeout(left)
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                break
            except ConnectionResetError:
                closed = True
                break
            if not chunk:
                closed = True
                break
            chunks.append(chunk)
    return b"".join(chunks), closed


def raw_request(port: int, data: bytes, timeout: float = 10.0, *, shutdown_write: bool = False) -> bytes:
    """Send `data` to 127.0.0.1:`port` and read until the server closes or `timeout` passes."""
    return raw_exchange(port, data, timeout, shutdown_write=shutdown_write)[0]


def read_streamed(port: int, request: bytes, first: bytes,
                  timeout: float = 10.0) -> tuple[bytes, bytes, float]:
    """Send `request` to 127.0.0.1:`port` and read the response until the server closes or
    `timeout` passes, noting when `first` arrived: for telling a streamed response from a
    buffered one.

    Returns (the bytes received by the time `first` was seen, all the bytes, seconds from seeing
    `first` to the end). Without `first` the first item is everything and the time 0.
    """
    data = b""
    deadline = time.monotonic() + timeout
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(request)
        while first not in data and time.monotonic() < deadline:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        early = data
        first_seen = time.monotonic()
        while time.monotonic() < deadline:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        done = time.monotonic()
    return early, data, done - first_seen if first in early else 0.0


def split_response(raw: bytes) -> tuple[str, list[tuple[str, str]], bytes]:
    """Split one raw HTTP/1.x response into (status line, [(name, value)], body bytes)."""
    head, sep, body = raw.partition(b"\r\n\r\n")
    if not sep:
        raise AssertionError(f"no end of headers in response: {raw[:500]!r}")
    lines = head.decode("latin-1").split("\r\n")
    headers = []
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers.append((name.strip(), value.strip()))
    return lines[0], headers, body


def header(headers: list[tuple[str, str]], name: str) -> str | None:
    for k, v in headers:
        if k.lower() == name.lower():
            return v
    return None


def dechunk(body: bytes) -> tuple[bytes, bool]:
    """Decode a chunked body: (data, complete) where complete means the 0-chunk arrived."""
    out = []
    pos = 0
    while True:
        end = body.find(b"\r\n", pos)
        if end < 0:
            return b"".join(out), False
        size = int(body[pos:end].split(b";")[0], 16)
        if size == 0:
            return b"".join(out), True
        start = end + 2
        if len(body) < start + size:
            out.append(body[start:])
            return b"".join(out), False
        out.append(body[start : start + size])
        pos = start + size + 2


def environ_of(response) -> dict[str, str]:
    """The environ reported by apps/env.wsgi as {key: value} (non-str values as repr)."""
    assert response.status_code == 200, (response.status_code, response.text[:2000])
    return {k: v[1] for k, v in response.json().items()}


def environ_types_of(response) -> dict[str, str]:
    """The type names of the environ values reported by apps/env.wsgi."""
    assert response.status_code == 200, (response.status_code, response.text[:2000])
    return {k: v[0] for k, v in response.json().items()}

#!/usr/bin/python3
"""Benchmark: this repository's mod_wsgi against Debian's mod_wsgi 4.9.4, Gunicorn and uWSGI.

Run it through ``bench/run.sh`` (which installs the Debian packages and builds the module); this
file does the measuring. Every server runs on 127.0.0.1 from a private root under
``${TMPDIR:-/tmp}/mod_wsgi-bench-<uid>/``, pinned to CPU 0 with taskset; wrk runs on CPU 1.
Only processes this script started are ever signalled, by pid.

For each server, workload and connection count: a warm-up run, then a measured run, repeated
``--runs`` times; the medians are reported. The runs go in rounds: each round starts every
server afresh and measures each of its points once, so that a slow spell of the machine falls
on one run of several servers rather than on every run of one. Around each measured run the
CPU time (utime+stime from /proc/<pid>/stat) of all of the server's processes is read, with
their minor page faults and their threads' context switches (kept per run, to tell what moved
when one round costs more than the others), and after it their RSS and PSS
(/proc/<pid>/smaps_rollup).

Output: a JSON file with every run and a CSV of the medians (``--out``, default docs/benchmarks/
for a full run, the private root for ``--quick``), then bench/report.py renders the chart and
docs/benchmarks.md from them.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BENCH = REPO / "bench"
HTTPD = "/usr/sbin/apache2"
MODULES_DIR = Path("/usr/lib/apache2/modules")
DEBIAN_MOD_WSGI = MODULES_DIR / "mod_wsgi.so-3.11"
CLK_TCK = os.sysconf("SC_CLK_TCK")
SERVER_CPU = "0"
CLIENT_CPU = "1"

# ---------------------------------------------------------------------------------------------
# Workloads: URL path, expected body (for the check before measuring), wrk script.

HELLO = b"Hello world\n"
ONE_MIB = b"x" * (16 * 65536)
ENVIRON_BODY = b"environ ok\n"
POST_SIZE = 65536


def file10m_bytes() -> bytes:
    # Not compressible by accident and cheap to make: a repeated 4 KiB pattern.
    block = bytes(range(256)) * 16
    return block * (10 * 1024 * 1024 // len(block))


WORKLOADS = {
    # name: (path, label, has a static equivalent)
    "hello": ("/hello", "hello world (12 B)", True),
    "1m": ("/1m", "1 MiB in 64 KiB blocks", True),
    "file10m": ("/file10m", "10 MiB wsgi.file_wrapper", True),
    "post": ("/post", "64 KiB POST", False),
    "environ": ("/environ", "every environ key", True),
}

SERVERS = {
    # name: (label, kind, mode)
    "static": ("Apache static file", "static", None),
    "ours-embedded": ("our mod_wsgi embedded", "apache", "embedded"),
    "ours-daemon": ("our mod_wsgi daemon", "apache", "daemon"),
    "modwsgi-embedded": ("mod_wsgi 4.9.4 embedded", "apache", "embedded"),
    "modwsgi-daemon": ("mod_wsgi 4.9.4 daemon", "apache", "daemon"),
    "gunicorn-sync": ("Gunicorn sync", "gunicorn", "sync"),
    "gunicorn-gthread": ("Gunicorn gthread", "gunicorn", "gthread"),
    "uwsgi": ("uWSGI --http-socket", "uwsgi", None),
}

# The one Apache configuration every Apache server shares; only the WSGI lines differ.
APACHE_MPM = """\
StartServers 4
ServerLimit 4
ThreadsPerChild 24
ThreadLimit 24
MaxRequestWorkers 96
MinSpareThreads 24
MaxSpareThreads 96
MaxConnectionsPerChild 0
KeepAlive On
KeepAliveTimeout 5
MaxKeepAliveRequests 0
Timeout 30
EnableSendfile On
EnableMMAP On"""

DAEMON_THREADS = 15


def log(msg: str) -> None:
    print(f"bench: {msg}", flush=True)


def clean_env(**extra: str) -> dict[str, str]:
    env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"}
    env.update(extra)
    return env


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(pred, timeout: float, interval: float = 0.05):
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v or time.monotonic() >= deadline:
            return v
        time.sleep(interval)


def accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


# ---------------------------------------------------------------------------------------------
# /proc readings


def _stat_fields(pid: int) -> list[str] | None:
    try:
        data = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return data[data.rindex(")") + 2 :].split()


def alive(pid: int) -> bool:
    f = _stat_fields(pid)
    return bool(f) and f[0] not in ("Z", "X")


def children_map() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        f = _stat_fields(int(entry))
        if f:
            kids.setdefault(int(f[1]), []).append(int(entry))
    return kids


def process_tree(root: int) -> list[int]:
    kids = children_map()
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        if alive(pid):
            out.append(pid)
        todo.extend(kids.get(pid, []))
    return out


def cpu_ticks(root: int) -> int:
    """utime+stime of every live process of the tree, plus the reaped children of the root."""
    total = 0
    for pid in process_tree(root):
        f = _stat_fields(pid)
        if not f:
            continue
        # After the ")": state=0 ppid=1 ... utime=11 stime=12 cutime=13 cstime=14
        total += int(f[11]) + int(f[12])
        if pid == root:
            total += int(f[13]) + int(f[14])
    return total


def event_counts(root: int) -> tuple[int, int]:
    """(minor page faults, context switches) of every live process of the tree: what to look at
    when one round of a point costs much more CPU than the others. Faults are counted per
    process, context switches per thread (/proc/<pid>/task/*/status), so those of threads that
    ended meanwhile are missed."""
    faults = switches = 0
    for pid in process_tree(root):
        f = _stat_fields(pid)
        if not f:
            continue
        faults += int(f[7])  # minflt
        try:
            tasks = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue
        for tid in tasks:
            try:
                text = Path(f"/proc/{pid}/task/{tid}/status").read_text()
            except OSError:
                continue
            for line in text.splitlines():
                if "ctxt_switches:" in line:
                    switches += int(line.split()[1])
    return faults, switches


def memory_kib(root: int) -> tuple[int, int, int]:
    """(RSS, PSS, process count) summed over the tree, from smaps_rollup."""
    rss = pss = n = 0
    for pid in process_tree(root):
        try:
            text = Path(f"/proc/{pid}/smaps_rollup").read_text()
        except OSError:
            continue
        n += 1
        for line in text.splitlines():
            if line.startswith("Rss:"):
                rss += int(line.split()[1])
            elif line.startswith("Pss:"):
                pss += int(line.split()[1])
    return rss, pss, n


# ---------------------------------------------------------------------------------------------
# Servers


class Server:
    def __init__(self, name: str, root: Path, app_dir: Path, data_dir: Path, our_module: Path):
        self.name = name
        self.label, self.kind, self.mode = SERVERS[name]
        self.root = root / name
        self.app_dir = app_dir
        self.data_dir = data_dir
        self.our_module = our_module
        self.port = 0
        self.pid = 0
        self.proc: subprocess.Popen | None = None
        self.conf = self.root / "httpd.conf"

    # -- Apache
    def apache_config(self) -> str:
        r = self.root
        lines = [
            f'ServerRoot "{r}"',
            f"Listen 127.0.0.1:{self.port}",
            "ServerName 127.0.0.1",
            f'PidFile "{r}/run/httpd.pid"',
            f'DefaultRuntimeDir "{r}/run"',
            f"Mutex file:{r}/run default",
            f'ErrorLog "{r}/logs/error_log"',
            "LogLevel warn",
            'LogFormat "%h %l %u %t \\"%r\\" %>s %b %D" common',
            f'CustomLog "{r}/logs/access_log" common',
            "LoadModule mpm_event_module /usr/lib/apache2/modules/mod_mpm_event.so",
            "LoadModule authz_core_module /usr/lib/apache2/modules/mod_authz_core.so",
            "LoadModule mime_module /usr/lib/apache2/modules/mod_mime.so",
            "LoadModule dir_module /usr/lib/apache2/modules/mod_dir.so",
            "TypesConfig /etc/mime.types",
            APACHE_MPM,
        ]
        if os.geteuid() == 0:
            lines += ["User www-data", "Group www-data"]
        lines += [
            "<Directory />",
            "    AllowOverride None",
            "    Require all denied",
            "</Directory>",
        ]
        if self.kind == "static":
            lines += [
                f'DocumentRoot "{self.data_dir}"',
                f'<Directory "{self.data_dir}">',
                "    Require all granted",
                "    ForceType text/plain",
                "</Directory>",
            ]
        else:
            module = self.our_module if self.name.startswith("ours") else DEBIAN_MOD_WSGI
            lines += [f'LoadModule wsgi_module "{module}"', "WSGIEnableSendfile On"]
            if self.mode == "daemon":
                lines += [
                    f"WSGIDaemonProcess bench processes=1 threads={DAEMON_THREADS}",
                    "WSGIProcessGroup bench",
                ]
            lines += [
                "WSGIApplicationGroup %{GLOBAL}",
                f'WSGIScriptAlias / "{self.app_dir}/bench_app.py"',
                f'<Directory "{self.app_dir}">',
                "    Require all granted",
                "</Directory>",
            ]
        return "\n".join(lines) + "\n"

    def start(self) -> None:
        for sub in ("run", "logs"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        os.chmod(self.root, 0o755)
        self.port = free_port()
        if self.kind in ("static", "apache"):
            self._start_apache()
        elif self.kind == "gunicorn":
            self._start_gunicorn()
        else:
            self._start_uwsgi()
        if not wait_for(lambda: accepts(self.port), 20):
            self.stop()
            raise RuntimeError(f"{self.name} did not come up on port {self.port}:\n{self.logs()}")
        # Daemon processes need a moment more than the listener: wait for a real answer.
        if not wait_for(self._answers, 30, 0.2):
            self.stop()
            raise RuntimeError(f"{self.name} does not answer /hello:\n{self.logs()}")

    def _answers(self) -> bool:
        try:
            with urllib.request.urlopen(self.url("/hello"), timeout=5) as resp:
                return resp.status == 200
        except OSError:
            return False

    def _start_apache(self) -> None:
        self.conf.write_text(self.apache_config())
        pidfile = self.root / "run" / "httpd.pid"
        pidfile.unlink(missing_ok=True)
        proc = subprocess.run(
            ["taskset", "-c", SERVER_CPU, HTTPD, "-d", str(self.root), "-f", str(self.conf), "-k", "start"],
            env=clean_env(),
            capture_output=True,
            text=True,
            timeout=60,
            stdin=subprocess.DEVNULL,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"apache2 -k start failed for {self.name}:\n{proc.stdout}{proc.stderr}")
        if not wait_for(lambda: pidfile.exists() and pidfile.read_text().strip(), 20):
            raise RuntimeError(f"{self.name}: no pid file\n{self.logs()}")
        self.pid = int(pidfile.read_text().strip())

    def _start_gunicorn(self) -> None:
        args = ["gunicorn", "--bind", f"127.0.0.1:{self.port}", "--chdir", str(self.app_dir)]
        if self.mode == "sync":
            # Three sync workers: the usual 2 x CPUs + 1 for the one CPU it is pinned to.
            args += ["--worker-class", "sync", "--workers", "3"]
        else:
            args += ["--worker-class", "gthread", "--workers", "1", "--threads", str(DAEMON_THREADS)]
        args += [
            "--access-logfile", str(self.root / "logs" / "access_log"),
            "--error-logfile", str(self.root / "logs" / "error_log"),
            "bench_app:application",
        ]
        self._popen(args)

    def _start_uwsgi(self) -> None:
        args = [
            "uwsgi", "--plugin", "python3", "--http-socket", f"127.0.0.1:{self.port}",
            "--wsgi-file", str(self.app_dir / "bench_app.py"),
            "--master", "--processes", "1", "--threads", str(DAEMON_THREADS),
            "--logto", str(self.root / "logs" / "error_log"),
            "--die-on-term", "--need-app",
            # --http-socket closes the connection after each response without saying so, and
            # wrk counts every such close as a read error; the header makes wrk reconnect.
            "--add-header", "Connection: close",
        ]  # fmt: skip
        self._popen(args)

    def _popen(self, args: list[str]) -> None:
        out = open(self.root / "logs" / "stdout", "ab")
        self.proc = subprocess.Popen(
            ["taskset", "-c", SERVER_CPU, *args],  # taskset execs: the pid is the server's
            env=clean_env(),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=self.app_dir,
            start_new_session=True,
        )
        out.close()
        self.pid = self.proc.pid

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def logs(self) -> str:
        text = ""
        for name in ("error_log", "stdout"):
            p = self.root / "logs" / name
            if p.exists():
                text += f"--- {p} ---\n" + p.read_text(errors="replace")[-3000:]
        return text

    def stop(self) -> None:
        if not self.pid:
            return
        pids = process_tree(self.pid)
        if self.kind in ("static", "apache"):
            sig = signal.SIGWINCH  # graceful stop; plain SIGTERM races in mpm_event
        else:
            sig = signal.SIGTERM
        try:
            os.kill(self.pid, sig)
        except ProcessLookupError:
            pass
        if not wait_for(lambda: not alive(self.pid), 15):
            try:
                os.kill(self.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            wait_for(lambda: not alive(self.pid), 10)
        if self.proc:
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        # Whatever of the tree we saw is still there (by pid) gets SIGKILL.
        wait_for(lambda: not any(alive(p) for p in pids), 5)
        for p in pids:
            if alive(p):
                try:
                    os.kill(p, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        if self.proc:
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        self.pid = 0


# ---------------------------------------------------------------------------------------------
# wrk

UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0, "m": 60000.0, "h": 3600000.0}


def _ms(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", text)
    if not m:
        raise ValueError(f"bad wrk time {text!r}")
    return float(m.group(1)) * UNITS[m.group(2)]


def parse_wrk(out: str) -> dict:
    res: dict = {}
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    res["rps"] = float(m.group(1)) if m else 0.0
    m = re.search(r"(\d+) requests in ([\d.]+\w+),", out)
    res["requests"] = int(m.group(1)) if m else 0
    for pct, key in (("50", "p50_ms"), ("99", "p99_ms")):
        m = re.search(rf"^\s+{pct}%\s+(\S+)", out, re.M)
        res[key] = _ms(m.group(1)) if m else None
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    sock = [int(x) for x in m.groups()] if m else [0, 0, 0, 0]
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    non2xx = int(m.group(1)) if m else 0
    res["socket_errors"] = dict(zip(("connect", "read", "write", "timeout"), sock))
    res["non2xx"] = non2xx
    res["errors"] = sum(sock) + non2xx
    return res


def run_wrk(url: str, conns: int, seconds: int, script: Path | None) -> dict:
    args = ["taskset", "-c", CLIENT_CPU, "wrk", "-t1", f"-c{conns}", f"-d{seconds}s", "--latency", "--timeout", "5s"]
    if script:
        args += ["-s", str(script)]
    args.append(url)
    proc = subprocess.run(args, capture_output=True, text=True, timeout=seconds + 60, stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        raise RuntimeError(f"wrk failed: {proc.stderr}{proc.stdout}")
    res = parse_wrk(proc.stdout)
    res["wrk_output"] = proc.stdout
    return res


# ---------------------------------------------------------------------------------------------
# Setup


def prepare_root(root: Path) -> tuple[Path, Path, Path]:
    """App directory (with the app and its data), data directory and the wrk POST script."""
    root.mkdir(parents=True, exist_ok=True)
    os.chmod(root, 0o755)
    if root.is_symlink() or root.stat().st_uid != os.geteuid():
        raise SystemExit(f"bench: {root} is not a directory owned by this user; remove it")
    app_dir = root / "app"
    data_dir = app_dir / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    for d in (app_dir, data_dir):
        os.chmod(d, 0o755)
    shutil.copyfile(BENCH / "apps" / "bench_app.py", app_dir / "bench_app.py")
    files = {
        "hello": HELLO,
        "1m": ONE_MIB,
        "file10m": file10m_bytes(),
        "environ": ENVIRON_BODY,
    }
    for name, body in files.items():
        p = data_dir / name
        if not p.exists() or p.stat().st_size != len(body) or p.read_bytes() != body:
            p.write_bytes(body)
    for p in [app_dir / "bench_app.py", *data_dir.iterdir()]:
        os.chmod(p, 0o644)
    lua = root / "post.lua"
    lua.write_text(
        'wrk.method = "POST"\n'
        f'wrk.body = string.rep("p", {POST_SIZE})\n'
        'wrk.headers["Content-Type"] = "application/octet-stream"\n'
    )
    return app_dir, data_dir, lua


def expected_body(workload: str) -> bytes:
    return {
        "hello": HELLO,
        "1m": ONE_MIB,
        "file10m": file10m_bytes(),
        "post": b"%d\n" % POST_SIZE,
        "environ": ENVIRON_BODY,
    }[workload]


def check_response(server: Server, workload: str) -> None:
    path = WORKLOADS[workload][0]
    data = b"p" * POST_SIZE if workload == "post" else None
    req = urllib.request.Request(server.url(path), data=data, method="POST" if data else "GET")
    if data:
        req.add_header("Content-Type", "application/octet-stream")
    with urllib.request.urlopen(req, timeout=30) as resp:
        body = resp.read()
        if resp.status != 200 or body != expected_body(workload):
            raise RuntimeError(
                f"{server.name} {path}: status {resp.status}, {len(body)} bytes, "
                f"expected {len(expected_body(workload))}"
            )


def tool_versions(our_module: Path) -> dict:
    def first_line(cmd: list[str]) -> str:
        try:
            p = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
            return (p.stdout or p.stderr).strip().splitlines()[0]
        except (OSError, IndexError, subprocess.SubprocessError):
            return "?"

    def deb(pkg: str) -> str:
        return first_line(["dpkg-query", "-W", "-f=${Version}", pkg])

    git = subprocess.run(["git", "-C", str(REPO), "describe", "--always", "--dirty"], capture_output=True, text=True)
    cpu = "?"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    return {
        "apache2": deb("apache2"),
        "libapache2-mod-wsgi-py3": deb("libapache2-mod-wsgi-py3"),
        "gunicorn": deb("gunicorn"),
        "uwsgi": deb("uwsgi"),
        "wrk": deb("wrk"),
        "python3": platform.python_version(),
        "repo_commit": git.stdout.strip(),
        "our_module": str(our_module),
        "kernel": platform.release(),
        "cpu": cpu,
        "cpus": os.cpu_count(),
    }


# ---------------------------------------------------------------------------------------------
# Main


def start_profile(root: int, directory: Path, name: str, seconds: int) -> tuple[subprocess.Popen, Path]:
    """`perf record -g` of every process of the server for `seconds` (cpu-clock samples: this
    machine's perf has no hardware counters)."""
    directory.mkdir(parents=True, exist_ok=True)
    data = directory / f"{name}.data"
    pids = ",".join(str(pid) for pid in process_tree(root))
    proc = subprocess.Popen(
        ["perf", "record", "-q", "-e", "cpu-clock", "-F", "997", "-g", "-p", pids, "-o", str(data), "--", "sleep", str(seconds)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
    )
    return proc, data


def finish_profile(proc: subprocess.Popen, data: Path) -> None:
    """Waits for perf and writes the flat profile beside it: self time by library, then by
    library and function."""
    proc.wait(timeout=60)
    sections = []
    for title, sort, limit in (("by library", "dso", "0.5"), ("by function", "dso,symbol", "0.7")):
        report = subprocess.run(
            ["perf", "report", "-i", str(data), "--stdio", "--no-children", "-g", "none", "--sort", sort, "--percent-limit", limit],
            capture_output=True,
            text=True,
            timeout=300,
            stdin=subprocess.DEVNULL,
        )
        lines = [
            re.sub(r"\s+", " ", line.replace("-      -", "")).strip()
            for line in report.stdout.splitlines()
            if line.strip() and not line.startswith("#")
        ]
        sections.append(f"== {title}\n" + "\n".join(lines[:40]))
    data.with_suffix(".txt").write_text("\n\n".join(sections) + "\n")
    data.unlink(missing_ok=True)


def summarize(runs: list[dict]) -> dict:
    def med(key):
        vals = [r[key] for r in runs if r.get(key) is not None]
        return statistics.median(vals) if vals else None

    return {
        "rps": med("rps"),
        "p50_ms": med("p50_ms"),
        "p99_ms": med("p99_ms"),
        "cpu_us_per_req": med("cpu_us_per_req"),
        "rss_kib": med("rss_kib"),
        "pss_kib": med("pss_kib"),
        "processes": med("processes"),
        "errors": sum(r["errors"] for r in runs),
        "requests": sum(r["requests"] for r in runs),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--module", type=Path, default=REPO / "build" / "mod_wsgi.so", help="our mod_wsgi.so")
    ap.add_argument("--quick", action="store_true", help="smoke run: 1 run of 1 s, 1 s warm-up")
    ap.add_argument("--duration", type=int, help="seconds per measured run (default 5; quick 1)")
    ap.add_argument("--warmup", type=int, help="seconds of warm-up before each measured run (default 1)")
    ap.add_argument("--runs", type=int, help="measured runs per point (default 3; quick 1)")
    ap.add_argument("--servers", default=",".join(SERVERS), help="comma-separated subset of: " + ", ".join(SERVERS))
    ap.add_argument("--workloads", default=",".join(WORKLOADS), help="comma-separated subset of: " + ", ".join(WORKLOADS))
    ap.add_argument("--connections", default="8,64", help="comma-separated connection counts (default 8,64)")
    ap.add_argument("--out", type=Path, help="results directory (default docs/benchmarks, quick: the private root)")
    ap.add_argument("--no-report", action="store_true", help="do not render the chart and docs/benchmarks.md")
    ap.add_argument(
        "--replace",
        action="store_true",
        help="merge into the existing <out>/results.json: the servers measured now replace their "
        "earlier points, the others are kept (for a rerun of a server disturbed during a full run; "
        "the meta data records it)",
    )
    ap.add_argument(
        "--profile",
        action="store_true",
        help="also sample the server's processes with `perf record -g` (cpu-clock) during the first "
        "measured run of each point; writes <out>/profiles/<server>-<workload>-c<N>.txt, the "
        "functions taking the most samples",
    )
    args = ap.parse_args()

    duration = args.duration or (1 if args.quick else 5)
    warmup = args.warmup if args.warmup is not None else 1
    runs = args.runs or (1 if args.quick else 3)
    servers = [s for s in args.servers.split(",") if s]
    workloads = [w for w in args.workloads.split(",") if w]
    conns_list = [int(c) for c in args.connections.split(",") if c]
    for s in servers:
        if s not in SERVERS:
            ap.error(f"unknown server {s!r}")
    for w in workloads:
        if w not in WORKLOADS:
            ap.error(f"unknown workload {w!r}")
    if os.cpu_count() is None or os.cpu_count() < 2:
        ap.error("needs at least 2 CPUs (server on CPU 0, wrk on CPU 1)")

    root = Path(os.environ.get("TMPDIR", "/tmp")) / f"mod_wsgi-bench-{os.geteuid()}"
    out = args.out or (root / "results" if args.quick else REPO / "docs" / "benchmarks")
    out.mkdir(parents=True, exist_ok=True)

    # A private copy of our module, so a rebuild during the run changes nothing.
    if any(s.startswith("ours") for s in servers):
        if not args.module.exists():
            ap.error(f"no module at {args.module}: build it first (bench/run.sh does)")
        root.mkdir(parents=True, exist_ok=True)
        our_module = root / "mod_wsgi.so"
        shutil.copyfile(args.module, our_module)
        os.chmod(our_module, 0o755)
    else:
        our_module = args.module
    app_dir, _data_dir, lua = prepare_root(root)
    data_dir = app_dir / "data"

    meta = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "quick": args.quick,
        "duration_s": duration,
        "warmup_s": warmup,
        "runs": runs,
        "rounds": True,  # every server once per round (see above)
        "connections": conns_list,
        "server_cpu": SERVER_CPU,
        "client_cpu": CLIENT_CPU,
        "daemon_threads": DAEMON_THREADS,
        "apache_mpm_config": APACHE_MPM,
        "versions": tool_versions(args.module),
        "loadavg_start": Path("/proc/loadavg").read_text().split()[:3],
        "servers": {s: SERVERS[s][0] for s in servers},
        "workloads": {w: WORKLOADS[w][1] for w in workloads},
    }
    results: list[dict] = []
    # The static server has no equivalent of some workloads (the POST).
    measured = {
        sname: [wname for wname in workloads if sname != "static" or WORKLOADS[wname][2]]
        for sname in servers
    }
    points = [
        (sname, wname, conns) for sname in servers for wname in measured[sname] for conns in conns_list
    ]
    point_runs: dict[tuple[str, str, int], list[dict]] = {point: [] for point in points}
    idle: dict[str, tuple[int, int, int]] = {}
    total = len(points) * runs
    done = 0
    t0 = time.monotonic()
    for round_number in range(1, runs + 1):
        for sname in servers:
            server = Server(sname, root, app_dir, data_dir, our_module)
            log(f"round {round_number}/{runs}: starting {sname}")
            server.start()
            try:
                if sname not in idle:
                    idle[sname] = memory_kib(server.pid)
                for wname in measured[sname]:
                    path = WORKLOADS[wname][0]
                    check_response(server, wname)
                    script = lua if wname == "post" else None
                    for conns in conns_list:
                        done += 1
                        if warmup:
                            run_wrk(server.url(path), conns, warmup, script)
                        profiler = None
                        if args.profile and round_number == 1:
                            profiler = start_profile(server.pid, out / "profiles", f"{sname}-{wname}-c{conns}", duration)
                        events_before = event_counts(server.pid)
                        before = cpu_ticks(server.pid)
                        r = run_wrk(server.url(path), conns, duration, script)
                        after = cpu_ticks(server.pid)
                        events_after = event_counts(server.pid)
                        if profiler is not None:
                            finish_profile(*profiler)
                        rss, pss, n = memory_kib(server.pid)
                        r.update(
                            round=round_number,
                            cpu_s=(after - before) / CLK_TCK,
                            cpu_us_per_req=((after - before) / CLK_TCK * 1e6 / r["requests"]) if r["requests"] else None,
                            faults_per_req=((events_after[0] - events_before[0]) / r["requests"]) if r["requests"] else None,
                            switches_per_req=((events_after[1] - events_before[1]) / r["requests"]) if r["requests"] else None,
                            rss_kib=rss,
                            pss_kib=pss,
                            processes=n,
                        )
                        point_runs[(sname, wname, conns)].append(r)
                        log(
                            f"[{done}/{total} {time.monotonic() - t0:.0f}s] {sname:17} {wname:8} c={conns:<3} "
                            f"{r['rps']:9.0f} req/s  p50 {r['p50_ms']:.2f} ms  "
                            f"p99 {r['p99_ms']:.2f} ms  errors {r['errors']}  "
                            f"cpu {r['cpu_us_per_req'] or 0:.0f} us/req  pss {pss / 1024:.0f} MiB  "
                            f"faults {r['faults_per_req'] or 0:.2f}/req  switches {r['switches_per_req'] or 0:.2f}/req"
                        )
            finally:
                server.stop()
            if round_number == runs:
                problems = [
                    line
                    for line in (server.root / "logs" / "error_log").read_text(errors="replace").splitlines()
                    if re.search(r"\[(\w+:)?(crit|alert|emerg)\]|Segmentation fault|exit signal", line)
                ] if (server.root / "logs" / "error_log").exists() and server.kind in ("static", "apache") else []
                if problems:
                    log(f"{sname}: {len(problems)} crash or crit lines in its error log, e.g. {problems[0]}")
                    meta.setdefault("error_log_lines", {})[sname] = problems[:20]
    for (sname, wname, conns), runs_of_point in point_runs.items():
        idle_rss, idle_pss, _idle_n = idle[sname]
        results.append(
            {
                "server": sname,
                "workload": wname,
                "connections": conns,
                **summarize(runs_of_point),
                "idle_rss_kib": idle_rss,
                "idle_pss_kib": idle_pss,
                "runs": runs_of_point,
            }
        )
    meta["loadavg_end"] = Path("/proc/loadavg").read_text().split()[:3]
    meta["elapsed_s"] = round(time.monotonic() - t0)

    if args.replace and (out / "results.json").exists():
        earlier = json.loads((out / "results.json").read_text())
        rerun = {k: meta[k] for k in ("date", "servers", "workloads", "loadavg_start", "loadavg_end")}
        rerun["repo_commit"] = meta["versions"].get("repo_commit")
        meta = {**earlier["meta"], "reruns": earlier["meta"].get("reruns", []) + [rerun]}
        order = list(SERVERS)
        results = sorted(
            [r for r in earlier["results"] if r["server"] not in servers] + results,
            key=lambda r: (order.index(r["server"]), list(WORKLOADS).index(r["workload"]), r["connections"]),
        )
    (out / "results.json").write_text(json.dumps({"meta": meta, "results": results}, indent=1) + "\n")
    cols = ["server", "workload", "connections", "rps", "p50_ms", "p99_ms", "errors", "requests",
            "cpu_us_per_req", "rss_kib", "pss_kib", "processes", "idle_rss_kib", "idle_pss_kib"]  # fmt: skip
    lines = [",".join(cols)]
    for r in results:
        lines.append(",".join("" if r[c] is None else (f"{r[c]:.3f}" if isinstance(r[c], float) else str(r[c])) for c in cols))
    (out / "results.csv").write_text("\n".join(lines) + "\n")
    log(f"wrote {out / 'results.json'} and {out / 'results.csv'} in {meta['elapsed_s']} s")

    if not args.no_report:
        doc = (out.parent / "benchmarks.md") if out == REPO / "docs" / "benchmarks" else (out / "benchmarks.md")
        subprocess.run([sys.executable, str(BENCH / "report.py"), str(out / "results.json"), "--doc", str(doc)], check=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

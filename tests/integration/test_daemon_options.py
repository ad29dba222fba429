"""WSGIDaemonProcess options checked in a real Apache, from inside the daemon process or from the
kernel's view of it: memory-limit, virtual-memory-limit, cpu-time-limit, cpu-priority,
stack-size, socket-user (and the default owner and mode of the group socket), listen-backlog,
graceful-timeout with maximum-requests, SIGUSR1 (graceful restart) and SIGTERM with
shutdown-timeout.

The app (apps/daemon_options/probe.wsgi) reports resource limits, the nice value and the
request thread's stack size, allocates, spins the CPU or sleeps on demand.
"""

from __future__ import annotations

import os
import pwd
import re
import signal
import stat
import subprocess
import threading
import time
from pathlib import Path

import pytest
import requests

from conftest import APPS, wait_for

PYTHON = "/usr/bin/python3"
MiB = 1024 * 1024
MEMORY_LIMIT = 512 * MiB
VIRTUAL_MEMORY_LIMIT = 1024 * MiB
STACK_SIZE = 524288
BACKLOG = 37
DEFAULT_BACKLOG = 100  # mod_wsgi's documented listen-backlog default
PROBE = "{apps}/daemon_options/probe.wsgi"


def get(server, path: str, timeout: float = 20) -> requests.Response:
    return requests.get(server.url(path), timeout=timeout)


def probe(server, path: str):
    r = get(server, path)
    assert r.status_code == 200, (path, r.status_code, r.text[:500])
    return r.json() if r.headers["Content-Type"] == "application/json" else r.text


def pid_of(server, prefix: str) -> int:
    return int(probe(server, f"{prefix}/pid"))


def wait_for_new_pid(server, prefix: str, old: int, timeout: float = 15.0) -> int:
    """Ask `prefix`/pid until a process other than `old` answers; every answer must be a 200."""
    deadline = time.monotonic() + timeout
    pid = old
    while pid == old and time.monotonic() < deadline:
        pid = pid_of(server, prefix)
        if pid == old:
            time.sleep(0.1)
    assert pid != old, f"daemon process {old} of {prefix} was not replaced within {timeout}s"
    return pid


def in_background(server, path: str, timeout: float = 30):
    """Start GET `path` in a thread; returns (thread, result dict with response/elapsed/error)."""
    result: dict = {}

    def run():
        started = time.monotonic()
        try:
            result["response"] = get(server, path, timeout)
        except requests.RequestException as e:
            result["error"] = e
        result["elapsed"] = time.monotonic() - started

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, result


# --------------------------------------------------------------------------------------------
# The listening socket of a group, as the kernel sees it


def listening_socket_of(server, pid: int) -> Path:
    """The group socket (under the server's run dir) the daemon process `pid` listens on."""
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        m = re.fullmatch(r"socket:\[(\d+)\]", target)
        if m:
            inodes.add(m.group(1))
    run_dir = str(server.root / "run") + "/"
    found = []
    with open("/proc/net/unix") as f:
        next(f)
        for line in f:
            fields = line.split()
            # Num RefCount Protocol Flags Type St Inode Path; flag 0x10000: listening
            if len(fields) >= 8 and fields[6] in inodes and int(fields[3], 16) & 0x10000:
                if fields[7].startswith(run_dir):
                    found.append(Path(fields[7]))
    assert len(found) == 1, (pid, found)
    return found[0]


def backlog_of(path: Path) -> int:
    """The backlog of a listening UNIX socket: `ss -xl` shows it as Send-Q."""
    out = subprocess.run(
        ["ss", "-xlnH", "src", str(path)], capture_output=True, text=True, timeout=10, check=True
    ).stdout
    lines = [line.split() for line in out.splitlines() if line.strip()]
    assert len(lines) == 1, out
    netid, state, _recv_q, send_q, local = lines[0][:5]
    assert (netid, state, local) == ("u_str", "LISTEN", str(path)), out
    return int(send_q)


# --------------------------------------------------------------------------------------------
# Options seen from one server with a group each

STATIC_CONFIG = f"""
WSGIDaemonProcess plain threads=2
WSGIScriptAlias /plain {PROBE} process-group=plain
WSGIDaemonProcess mem threads=2 memory-limit={MEMORY_LIMIT}
WSGIScriptAlias /mem {PROBE} process-group=mem
WSGIDaemonProcess vmem threads=2 virtual-memory-limit={VIRTUAL_MEMORY_LIMIT}
WSGIScriptAlias /vmem {PROBE} process-group=vmem
WSGIDaemonProcess stack threads=2 stack-size={STACK_SIZE}
WSGIScriptAlias /stack {PROBE} process-group=stack
WSGIDaemonProcess hugestack threads=2 stack-size=281474976710656
WSGIScriptAlias /hugestack {PROBE} process-group=hugestack
WSGIDaemonProcess prio threads=2 cpu-priority=5
WSGIScriptAlias /prio {PROBE} process-group=prio
WSGIDaemonProcess backlog threads=2 listen-backlog={BACKLOG}
WSGIScriptAlias /backlog {PROBE} process-group=backlog
WSGIDaemonProcess sockwww threads=2 socket-user=www-data
WSGIScriptAlias /sockwww {PROBE} process-group=sockwww
WSGIDaemonProcess socknobody threads=2 socket-user=nobody
WSGIScriptAlias /socknobody {PROBE} process-group=socknobody
"""


@pytest.fixture(scope="module")
def server(module_apache):
    server = module_apache(STATIC_CONFIG)
    yield server
    module_apache.release(server)


def test_memory_limit_sets_rlimit_data_and_refuses_larger_allocations(server):
    limits = probe(server, "/mem/limits")
    assert tuple(limits["data"]) == (MEMORY_LIMIT, MEMORY_LIMIT)
    # The limit bites: an allocation four times its size fails inside the app, a small one
    # does not, and the process keeps serving.
    assert probe(server, f"/mem/alloc?{4 * MEMORY_LIMIT}") == "MemoryError"
    assert probe(server, f"/mem/alloc?{MEMORY_LIMIT // 8}") == "ok"
    assert pid_of(server, "/mem") == limits["pid"]
    # Without the option the process has a different (the inherited) limit.
    assert tuple(probe(server, "/plain/limits")["data"]) != (MEMORY_LIMIT, MEMORY_LIMIT)


def test_virtual_memory_limit_sets_rlimit_as(server):
    limits = probe(server, "/vmem/limits")
    assert tuple(limits["as"]) == (VIRTUAL_MEMORY_LIMIT, VIRTUAL_MEMORY_LIMIT)
    assert probe(server, f"/vmem/alloc?{4 * VIRTUAL_MEMORY_LIMIT}") == "MemoryError"
    assert probe(server, f"/vmem/alloc?{VIRTUAL_MEMORY_LIMIT // 16}") == "ok"
    plain = probe(server, "/plain/limits")
    assert tuple(plain["as"]) != (VIRTUAL_MEMORY_LIMIT, VIRTUAL_MEMORY_LIMIT)


def test_stack_size_sets_the_request_threads_stack(server):
    sized = probe(server, "/stack/stack")["stack_size"]
    default = probe(server, "/plain/stack")["stack_size"]
    assert STACK_SIZE <= sized < 2 * STACK_SIZE, sized
    # The default is the inherited RLIMIT_STACK (8 MiB usually), far above the option.
    assert default >= 2 * STACK_SIZE, default


def test_stack_size_too_large_falls_back_to_the_default(server):
    # 2^48 bytes, more than a process's address space: the threads start with the default
    # stack, with a warning, instead of a process that accepts nothing.
    server.expect_log(r"WSGI0172: Daemon process 'hugestack'")
    sized = probe(server, "/hugestack/stack")["stack_size"]
    assert sized == probe(server, "/plain/stack")["stack_size"]
    assert server.wait_log(r"\[wsgi:warn\] .*WSGI0172: Daemon process 'hugestack' .*no thread "
                           r"with a stack of 281474976710656 bytes")


# --------------------------------------------------------------------------------------------
# switch-interval=, script-user=, script-group=, startup-timeout=


def owner_config(script: Path) -> str:
    """Groups whose script-user= / script-group= the probe script does and does not match."""
    st = script.stat()
    other_user = "nobody" if st.st_uid != pwd.getpwnam("nobody").pw_uid else "root"
    return f"""
WSGIDaemonProcess switch threads=2 switch-interval=0.002
WSGIScriptAlias /switch {PROBE} process-group=switch
WSGIDaemonProcess owner threads=1 script-user=#{st.st_uid}
WSGIScriptAlias /owner {PROBE} process-group=owner
WSGIDaemonProcess notowner threads=1 script-user={other_user}
WSGIScriptAlias /notowner {PROBE} process-group=notowner
WSGIDaemonProcess ownergroup threads=1 script-group=#{st.st_gid}
WSGIScriptAlias /ownergroup {PROBE} process-group=ownergroup
WSGIDaemonProcess notownergroup threads=1 script-group=#{st.st_gid + 1}
WSGIScriptAlias /notownergroup {PROBE} process-group=notownergroup
WSGIDaemonProcess startup threads=1 startup-timeout=1
WSGIScriptAlias /startup {{apps}}/daemon_options/broken.wsgi process-group=startup
WSGIDaemonProcess startupok threads=1 startup-timeout=1
WSGIScriptAlias /startupok {PROBE} process-group=startupok
WSGIDaemonProcess buffers threads=1 send-buffer-size=300000 receive-buffer-size=400000
WSGIScriptAlias /buffers {PROBE} process-group=buffers
"""


@pytest.fixture(scope="module")
def owner_server(module_apache):
    server = module_apache(owner_config(APPS / "daemon_options" / "probe.wsgi"))
    yield server
    module_apache.release(server)


def test_startup_timeout_restarts_a_process_whose_script_never_loads(owner_server):
    # mod_wsgi docs: after a failed load the process has startup-timeout to load a script,
    # else it restarts (a fresh process for packages that cannot set up twice).
    owner_server.expect_log(r"STARTUP-BROKEN|WSGI0003")
    assert get(owner_server, "/startup/pid").status_code == 500
    stopped = owner_server.wait_log(r"Daemon process 'startup' \(pid=(\d+)\) stopping: "
                                    r"startup-timeout reached", timeout=10)
    first = int(stopped.group(1))
    assert get(owner_server, "/startup/pid").status_code == 500
    again = owner_server.wait_log(rf"Daemon process 'startup' \(pid=(?!{first}\))(\d+)\) "
                                  r"stopping: startup-timeout reached", timeout=10)
    assert int(again.group(1)) != first


def test_startup_timeout_spares_a_process_whose_script_loaded(owner_server):
    first = pid_of(owner_server, "/startupok")
    time.sleep(2)  # twice the timeout
    assert pid_of(owner_server, "/startupok") == first
    assert not re.search(r"Daemon process 'startupok' .*stopping: startup-timeout",
                         owner_server.error_log())


def test_buffer_sizes_apply_to_the_connections_from_apache(owner_server):
    # SO_SNDBUF / SO_RCVBUF of the daemon's end of each connection (Linux reports twice the
    # size asked for); the process's other UNIX sockets (none here) keep the default.
    sized = probe(owner_server, "/buffers/buffers")
    assert sized and all(pair == [600000, 800000] for pair in sized), sized
    plain = probe(owner_server, "/owner/buffers")
    assert plain and all(pair != [600000, 800000] for pair in plain), plain


def test_switch_interval_sets_the_gil_switch_interval(owner_server):
    assert probe(owner_server, "/switch/limits")["switch_interval"] == pytest.approx(0.002)
    assert probe(owner_server, "/owner/limits")["switch_interval"] == pytest.approx(0.005)


@pytest.mark.parametrize("prefix", ["/owner", "/ownergroup"])
def test_script_owned_as_required_is_served(owner_server, prefix):
    assert get(owner_server, f"{prefix}/pid").status_code == 200


@pytest.mark.parametrize("prefix, option", [("/notowner", "script-user"),
                                            ("/notownergroup", "script-group")])
def test_script_not_owned_as_required_is_forbidden(owner_server, prefix, option):
    # mod_wsgi docs: a script the configured account does not own gets 403, and never runs.
    group = prefix.lstrip("/")
    owner_server.expect_log(rf"WSGI0154: WSGI script '[^']*probe.wsgi' .* not owned by the "
                            rf"{option} of daemon process group '{group}'")
    assert get(owner_server, f"{prefix}/pid").status_code == 403
    assert owner_server.wait_log(rf"WSGI0154: .*'{group}'")


def test_cpu_priority_sets_the_nice_value(server):
    assert probe(server, "/prio/limits")["priority"] == 5
    assert probe(server, "/plain/limits")["priority"] == os.getpriority(os.PRIO_PROCESS, 0)


def test_listen_backlog_is_the_backlog_of_the_group_socket(server):
    pid = pid_of(server, "/backlog")  # the daemon accepts normally
    assert backlog_of(listening_socket_of(server, pid)) == BACKLOG
    assert backlog_of(listening_socket_of(server, pid_of(server, "/plain"))) == DEFAULT_BACKLOG


@pytest.mark.skipif(os.geteuid() != 0, reason="the socket owner only changes when run as root")
def test_socket_is_owned_by_the_socket_user_and_private(server):
    www = pwd.getpwnam("www-data")
    nobody = pwd.getpwnam("nobody")
    sockets = sorted((server.root / "run").glob("wsgi.*.sock"))
    assert len(sockets) == 9, sockets  # one per group
    owners = {
        prefix: listening_socket_of(server, pid_of(server, prefix)).stat()
        for prefix in ("/plain", "/sockwww")
    }
    for prefix, st in owners.items():
        assert stat.S_ISSOCK(st.st_mode), prefix
        # Apache's User (www-data) by default, and with socket-user=www-data.
        assert st.st_uid == www.pw_uid, (prefix, st.st_uid)
        # Owner read/write only: no access for the group or others.
        assert st.st_mode & 0o077 == 0, (prefix, oct(st.st_mode))
        assert st.st_mode & 0o600 == 0o600, (prefix, oct(st.st_mode))
    # socket-user=nobody: the one socket that is not www-data's belongs to nobody, also private.
    others = [s for s in sockets if s.stat().st_uid != www.pw_uid]
    assert len(others) == 1, [(s, s.stat().st_uid) for s in sockets]
    st = others[0].stat()
    assert st.st_uid == nobody.pw_uid and st.st_mode & 0o077 == 0, (st.st_uid, oct(st.st_mode))
    # The mode is enforced: another user cannot connect to www-data's socket ...
    plain = listening_socket_of(server, pid_of(server, "/plain"))
    code = (
        "import socket, sys\n"
        "s = socket.socket(socket.AF_UNIX)\n"
        "try:\n"
        "    s.connect(sys.argv[1])\n"
        "except PermissionError:\n"
        "    print('denied')\n"
        "else:\n"
        "    print('connected')\n"
    )
    denied = subprocess.run(
        [PYTHON, "-c", code, str(plain)], user="nobody", capture_output=True, text=True, timeout=20
    )
    assert denied.stdout.strip() == "denied", (denied.stdout, denied.stderr)
    # ... and Apache's children (www-data) cannot reach the daemon behind nobody's socket.
    server.expect_log(r"WSGI0117: Unable to connect to WSGI daemon process 'socknobody'")
    r = get(server, "/socknobody/pid")
    assert r.status_code == 503
    server.wait_log(r"WSGI0117: Unable to connect to WSGI daemon process 'socknobody' .*denied")


# --------------------------------------------------------------------------------------------
# Options that restart the daemon process


def test_cpu_time_limit_restarts_a_process_that_used_it_up(apache):
    server = apache(
        f"""
        LogLevel warn wsgi:info
        WSGIDaemonProcess cpu threads=2 cpu-time-limit=2
        WSGIScriptAlias /cpu {PROBE} process-group=cpu
        """
    )
    limits = probe(server, "/cpu/limits")
    soft, hard = limits["cpu"]
    assert soft == 2, limits
    assert hard == -1 or hard >= 2, limits  # -1: RLIM_INFINITY
    first = limits["pid"]
    # 4 s of CPU: the process passes its 2 s soft limit (SIGXCPU) half way; the request in
    # flight is finished (a graceful restart) and then the process is replaced.
    spin = probe(server, "/cpu/spin?4")
    assert spin["pid"] == first and spin["cpu"] >= 3.9, spin
    server.wait_log(rf"Daemon process 'cpu' \(pid={first}\) stopping: cpu-time-limit reached\.", 10)
    wait_for_new_pid(server, "/cpu", first)


GRACE_CONFIG = f"""
WSGIDaemonProcess grace threads=2 maximum-requests=1 graceful-timeout=5
WSGIScriptAlias /grace {PROBE} process-group=grace
WSGIDaemonProcess nograce threads=2 maximum-requests=1 graceful-timeout=0 shutdown-timeout=0
WSGIScriptAlias /nograce {PROBE} process-group=nograce
"""


def test_graceful_timeout_lets_requests_in_flight_finish(apache):
    server = apache(GRACE_CONFIG)
    slow, result = in_background(server, "/grace/sleep?3")
    time.sleep(0.6)  # the slow request is running in the daemon process
    # This request reaches maximum-requests=1: the process restarts once the slow request is
    # done (it has graceful-timeout=5 s for that). It is answered while the slow one still
    # runs, not after it.
    first = pid_of(server, "/grace")
    assert slow.is_alive() and "response" not in result, result
    slow.join(20)
    assert "error" not in result, result
    assert result["response"].status_code == 200, result["response"].text[:500]
    assert int(result["response"].text) == first  # served by the process that restarted
    assert result["elapsed"] >= 3
    line = server.wait_log(rf"Daemon process 'grace' \(pid={first}\) stopping: [^\n]*$", 10)
    assert line.group(0).rstrip() == (
        f"Daemon process 'grace' (pid={first}) stopping: maximum-requests reached."
    ), line.group(0)
    wait_for_new_pid(server, "/grace", first)


def test_without_graceful_timeout_requests_in_flight_are_cut(apache):
    server = apache(GRACE_CONFIG)
    server.expect_log(r"WSGI0146|WSGI0148|closed the connection")
    slow, result = in_background(server, "/nograce/sleep?8")
    time.sleep(0.6)
    first = pid_of(server, "/nograce")
    slow.join(20)
    # graceful-timeout=0 and shutdown-timeout=0: the process does not wait for the slow request.
    assert "error" in result or result["response"].status_code >= 500, result
    assert result["elapsed"] < 7, result
    server.wait_log(
        rf"Daemon process 'nograce' \(pid={first}\) stopping: maximum-requests reached; "
        r"requests still running were cut\.",
        10,
    )
    wait_for_new_pid(server, "/nograce", first)


KEEP_SERVING_CONFIG = f"""
WSGIDaemonProcess keep threads=4 maximum-requests=2 graceful-timeout=15 shutdown-timeout=1
WSGIScriptAlias /keep {PROBE} process-group=keep
WSGIDaemonProcess evict threads=4 eviction-timeout=10 shutdown-timeout=1
WSGIScriptAlias /evict {PROBE} process-group=evict
"""


@pytest.mark.parametrize("trigger", ["maximum-requests", "sigusr1"])
def test_a_graceful_restart_goes_on_serving_until_idle(apache, trigger):
    # mod_wsgi docs (request-pipeline, "Drain semantics during shutdown"): during
    # graceful-timeout or eviction-timeout the process still takes new requests, and ends as
    # soon as it is idle. In a group of one process new requests would otherwise wait for the
    # slowest request in flight.
    server = apache(KEEP_SERVING_CONFIG)
    prefix = "/keep" if trigger == "maximum-requests" else "/evict"
    first = pid_of(server, prefix)
    slow, result = in_background(server, f"{prefix}/sleep?5")
    time.sleep(1.0)  # the slow request is running
    if trigger == "maximum-requests":
        # The second request to complete: maximum-requests reached.
        assert pid_of(server, prefix) == first
    else:
        os.kill(first, signal.SIGUSR1)
        time.sleep(0.3)
    started = time.monotonic()
    assert pid_of(server, prefix) == first, "served by the process that is restarting"
    assert time.monotonic() - started < 2.5, "the new request waited for the slow one"
    slow.join(20)
    assert result["response"].status_code == 200 and int(result["response"].text) == first
    wait_for_new_pid(server, prefix, first)


SIGNAL_CONFIG = f"""
WSGIDaemonProcess sig threads=4 shutdown-timeout=1
WSGIScriptAlias /sig {PROBE} process-group=sig
"""


def test_sigusr1_restarts_the_daemon_process_gracefully(apache):
    server = apache(SIGNAL_CONFIG)
    first = pid_of(server, "/sig")
    slow, result = in_background(server, "/sig/sleep?1.5")
    time.sleep(0.5)
    os.kill(first, signal.SIGUSR1)
    slow.join(20)
    # The request in flight finishes in the old process; later requests all succeed and come
    # from its successor.
    assert "error" not in result, result
    assert result["response"].status_code == 200
    assert int(result["response"].text) == first
    server.wait_log(rf"Daemon process 'sig' \(pid={first}\) stopping: graceful signal\.$", 10)
    second = wait_for_new_pid(server, "/sig", first)
    assert wait_for(lambda: not os.path.exists(f"/proc/{first}"), 5), "old process still there"
    assert all(pid_of(server, "/sig") == second for _ in range(3))


def test_sigterm_cuts_requests_after_shutdown_timeout(apache):
    server = apache(SIGNAL_CONFIG)
    server.expect_log(r"WSGI0146|WSGI0148|closed the connection")
    first = pid_of(server, "/sig")
    slow, result = in_background(server, "/sig/sleep?8")
    time.sleep(0.5)
    signalled = time.monotonic()
    os.kill(first, signal.SIGTERM)
    slow.join(20)
    # shutdown-timeout=1: the process waits about a second for the request, then exits.
    cut_after = time.monotonic() - signalled
    assert "error" in result or result["response"].status_code >= 500, result
    assert 0.8 <= cut_after < 5, cut_after
    server.wait_log(
        rf"Daemon process 'sig' \(pid={first}\) stopping: shutdown signal; "
        r"requests still running were cut\.",
        10,
    )
    wait_for_new_pid(server, "/sig", first)

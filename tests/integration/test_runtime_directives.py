"""The Python runtime directives (issue 3 §3): WSGIPythonHome, WSGIPythonPath, WSGIPythonOptimize,
WSGIPythonWarnings, WSGIPythonHashSeed, WSGIDontWriteBytecode, WSGIPythonEggs, the
WSGIRestrict* directives, WSGIDestroyInterpreter and WSGILazyInitialization."""

import os
import subprocess
import tempfile
from pathlib import Path

import pytest
import requests

PYTHON = "/usr/bin/python3"
INFO = "WSGIScriptAlias /info {apps}/runtime/info.wsgi\n"
RESTRICT = "WSGIScriptAlias /restrict {apps}/runtime/restrict.wsgi\n"


# WSGIPythonPath and the restrictions are applied per interpreter: the main one and sub
# interpreters (the default %{RESOURCE} group) alike.
GROUPS = [
    pytest.param("%{GLOBAL}", id="main-interpreter"),
    pytest.param("%{RESOURCE}", id="sub-interpreter"),
]


def info(server, imports=""):
    r = requests.get(server.url("/info" + (f"?{imports}" if imports else "")), timeout=10)
    assert r.status_code == 200, (r.status_code, r.text[:2000], server.error_log()[-3000:])
    return r.json()


def restricted(server, mode):
    r = requests.get(server.url(f"/restrict/{mode}"), timeout=10)
    assert r.status_code == 200, (r.status_code, r.text[:2000])
    return r.text


def scratch_dir(base: Path, prefix: str) -> Path:
    """A directory the Apache children (www-data when run as root) can read."""
    path = Path(tempfile.mkdtemp(prefix=prefix, dir=base))
    os.chmod(path, 0o755)
    return path


# --------------------------------------------------------------------------------------------
# WSGIPythonHome


@pytest.fixture(scope="module")
def venv(server_base):
    """A virtual environment made as the issue says, with a module only it has."""
    path = scratch_dir(server_base, "venv-") / "venv"
    subprocess.run([PYTHON, "-m", "venv", "--system-site-packages", str(path)], check=True,
                   capture_output=True, timeout=120)
    site = path / "lib" / "python3.11" / "site-packages"
    (site / "venv_only_module.py").write_text("WHERE = 'venv'\n")
    os.chmod(site / "venv_only_module.py", 0o644)
    return path


def test_python_home_virtual_environment(apache, venv):
    server = apache(f"WSGIPythonHome {venv}\n" + INFO)
    body = info(server, "venv_only_module,flask")
    assert body["prefix"] == str(venv)
    assert body["base_prefix"] == "/usr"
    assert body["executable"] == f"{venv}/bin/python3"
    assert body["imports"]["venv_only_module"] == str(
        venv / "lib" / "python3.11" / "site-packages" / "venv_only_module.py"
    )
    # --system-site-packages: Debian's packages stay importable.
    assert body["imports"]["flask"].startswith("/usr/lib/python3/dist-packages/"), body["imports"]


def test_python_home_installation_prefix(apache):
    server = apache("WSGIPythonHome /usr/\n" + INFO)
    body = info(server)
    assert body["prefix"] == "/usr"
    assert body["version"][:2] == [3, 11]


def test_without_python_home_the_prefix_is_debians(apache):
    body = info(apache(INFO), "venv_only_module")
    assert body["prefix"] == "/usr"
    assert body["imports"]["venv_only_module"].startswith("ImportError")


def _bad_homes(base: Path) -> list[tuple[str, str]]:
    empty = scratch_dir(base, "home-empty-")
    old_venv = scratch_dir(base, "home-venv39-")
    (old_venv / "pyvenv.cfg").write_text("home = /usr/bin\nversion = 3.9.2\n")
    return [
        (str(base / "no-such-python-home"), "does not exist"),
        (str(empty), "os.py"),
        (str(old_venv), "3.9.2"),
        ("relative/venv", "absolute"),
    ]


def test_bad_python_home_fails_config_test_naming_directive_and_path(config_test, server_base):
    for home, reason in _bad_homes(server_base):
        rc, output = config_test(f"WSGIPythonHome {home}\n" + INFO)
        assert rc != 0, output
        assert "WSGIPythonHome" in output, output
        assert home in output, output
        assert reason in output, output
        assert "encodings" not in output, output


def test_python_home_is_main_server_only(config_test, venv):
    rc, output = config_test(
        f"<VirtualHost 127.0.0.1:80>\n    WSGIPythonHome {venv}\n</VirtualHost>\n"
    )
    assert rc != 0, output
    assert "WSGIPythonHome" in output and "VirtualHost" in output, output


# --------------------------------------------------------------------------------------------
# WSGIPythonPath


@pytest.mark.parametrize("group", GROUPS)
def test_python_path_processes_pth_files(apache, server_base, group):
    site = scratch_dir(server_base, "site-")
    extra = scratch_dir(server_base, "extra-")
    (site / "in_site_dir.py").write_text("X = 1\n")
    (extra / "via_pth_file.py").write_text("X = 2\n")
    (site / "extra.pth").write_text(f"# a comment line\n{extra}\n")
    for f in (site / "in_site_dir.py", extra / "via_pth_file.py", site / "extra.pth"):
        os.chmod(f, 0o644)
    server = apache(f'WSGIPythonPath "{site}"\nWSGIApplicationGroup {group}\n' + INFO)
    body = info(server, "in_site_dir,via_pth_file")
    assert body["imports"]["in_site_dir"] == str(site / "in_site_dir.py")
    assert body["imports"]["via_pth_file"] == str(extra / "via_pth_file.py")
    assert str(site) in body["path"] and str(extra) in body["path"]


# --------------------------------------------------------------------------------------------
# Interpreter flags


def test_defaults(apache):
    body = info(apache(INFO))
    assert body["optimize"] == 0 and body["asserts"] is True
    assert body["hash_randomization"] == 1
    assert body["warnoptions"] == []
    assert body["dont_write_bytecode"] is False
    assert body["egg_cache"] is None


def test_python_optimize(apache):
    body = info(apache("WSGIPythonOptimize 1\n" + INFO))
    assert body["optimize"] == 1
    assert body["asserts"] is False  # assert statements compiled out


def _hash_with_seed(seed: str) -> int:
    env = {"PATH": "/usr/bin:/bin", "PYTHONHASHSEED": seed}
    out = subprocess.run([PYTHON, "-c", "print(hash('x'))"], env=env, capture_output=True,
                         text=True, check=True, timeout=30)
    return int(out.stdout)


def test_python_hash_seed_is_fixed_across_children(apache):
    expected = _hash_with_seed("123")
    server = apache("WSGIPythonHashSeed 123\n" + INFO, mpm="prefork")
    first = info(server)
    assert first["hash_randomization"] == 1
    assert first["hash_x"] == expected
    # A graceful restart replaces every prefork child: the next answer comes from another one.
    server.graceful()
    second = info(server)
    assert second["pid"] != first["pid"]
    assert second["hash_x"] == expected


@pytest.mark.parametrize("seed, randomized", [("0", 0), ("random", 1)])
def test_python_hash_seed_zero_and_random(apache, seed, randomized):
    body = info(apache(f"WSGIPythonHashSeed {seed}\n" + INFO))
    assert body["hash_randomization"] == randomized


def test_python_warnings_in_order(apache):
    server = apache(
        "WSGIPythonWarnings error::DeprecationWarning\n"
        "WSGIPythonWarnings ignore::ImportWarning\n" + INFO
    )
    assert info(server)["warnoptions"] == ["error::DeprecationWarning", "ignore::ImportWarning"]


def test_dont_write_bytecode(apache):
    assert info(apache("WSGIDontWriteBytecode On\n" + INFO))["dont_write_bytecode"] is True


def test_python_eggs(apache):
    server = apache("WSGIPythonEggs {tmp}/eggs\n" + INFO)
    assert info(server)["egg_cache"] == str(server.tmp / "eggs")


# --------------------------------------------------------------------------------------------
# Bad values


@pytest.mark.parametrize(
    "config, directive",
    [
        ("WSGIPythonOptimize 3", "WSGIPythonOptimize"),
        ("WSGIPythonOptimize high", "WSGIPythonOptimize"),
        ("WSGIPythonHashSeed -1", "WSGIPythonHashSeed"),
        ("WSGIPythonHashSeed 4294967296", "WSGIPythonHashSeed"),
        ("WSGIPythonHashSeed sometimes", "WSGIPythonHashSeed"),
        ("WSGIPythonWarnings explode", "WSGIPythonWarnings"),
        ("WSGIPythonWarnings error:a:b:c:d:e", "WSGIPythonWarnings"),
        ("WSGIDontWriteBytecode yes", "WSGIDontWriteBytecode"),
        ('WSGIPythonEggs ""', "WSGIPythonEggs"),
        ("WSGIRestrictStdin yes", "WSGIRestrictStdin"),
        ("WSGIRestrictStdout 1", "WSGIRestrictStdout"),
        ("WSGIRestrictSignal maybe", "WSGIRestrictSignal"),
        ("WSGIRestrictEmbedded sure", "WSGIRestrictEmbedded"),
        ("WSGIDestroyInterpreter never", "WSGIDestroyInterpreter"),
        ("WSGILazyInitialization lazy", "WSGILazyInitialization"),
        ("WSGINewRelicConfigFile", "WSGINewRelicConfigFile"),
        ("WSGINewRelicEnvironment a b", "WSGINewRelicEnvironment"),
        ("<VirtualHost 127.0.0.1:80>\nWSGINewRelicConfigFile /x.ini\n</VirtualHost>",
         "WSGINewRelicConfigFile"),
        ("<VirtualHost 127.0.0.1:80>\nWSGIPythonOptimize 1\n</VirtualHost>", "WSGIPythonOptimize"),
        ("<VirtualHost 127.0.0.1:80>\nWSGIRestrictStdin On\n</VirtualHost>", "WSGIRestrictStdin"),
        ("<Location /x>\nWSGIPythonHashSeed 1\n</Location>", "WSGIPythonHashSeed"),
    ],
)
def test_bad_values_fail_config_test_naming_the_directive(config_test, config, directive):
    rc, output = config_test(config)
    assert rc != 0, output
    assert directive in output, output


def test_good_values_pass_config_test(config_test):
    rc, output = config_test(
        """
WSGIPythonHome /usr
WSGIPythonOptimize 2
WSGIPythonHashSeed 4294967295
WSGIPythonWarnings ignore
WSGIPythonWarnings d::UserWarning:some.module:12
WSGIDontWriteBytecode Off
WSGIPythonEggs /tmp/eggs
WSGIRestrictStdin On
WSGIRestrictStdout Off
WSGIRestrictSignal Off
WSGIRestrictEmbedded Off
WSGIDestroyInterpreter On
WSGILazyInitialization On
"""
    )
    assert rc == 0, output
    assert "WSGI0021" not in output, output


# --------------------------------------------------------------------------------------------
# WSGIRestrictStdin, WSGIRestrictStdout, WSGIRestrictSignal


@pytest.mark.parametrize("group", GROUPS)
def test_restrictions_default(apache, group):
    server = apache(f"WSGIApplicationGroup {group}\n" + RESTRICT)
    # WSGIRestrictStdin Off (mod_wsgi's default since 3.0): Apache's stdin is /dev/null.
    assert restricted(server, "stdin") == "ok ''"
    # WSGIRestrictStdout Off: print() lands in the error log.
    assert restricted(server, "stdout") == "ok None"
    server.wait_log(r"printed to sys\.stdout")
    # WSGIRestrictSignal On: nothing installed, the attempt logged with the stack.
    assert restricted(server, "signal").endswith(" not installed")
    line = server.wait_log(
        r"\[wsgi:warn\] \[pid (\d+):tid \d+\].*WSGI0020: Callback registration for signal "
        r"12 ignored"
    )
    assert int(line.group(1)) != server.pid  # logged by the Apache child
    assert "restrict.wsgi" in server.error_log()  # the stack names the caller


@pytest.mark.parametrize("group", GROUPS)
def test_restrict_stdin_and_stdout_on(apache, group):
    server = apache(
        f"WSGIRestrictStdin On\nWSGIRestrictStdout On\nWSGIApplicationGroup {group}\n" + RESTRICT
    )
    assert restricted(server, "stdin") == "OSError: sys.stdin access restricted by mod_wsgi"
    assert restricted(server, "stdout") == "OSError: sys.stdout access restricted by mod_wsgi"
    # Children still shut down cleanly with restricted standard streams.
    assert server.stop() == []


def test_restrict_signal_off_keeps_signal_signal(apache):
    server = apache("WSGIRestrictSignal Off\n" + RESTRICT)
    assert restricted(server, "signal-function") == "original"


@pytest.mark.parametrize("group", GROUPS)
def test_restrict_signal_on_replaces_signal_signal(apache, group):
    server = apache(f"WSGIApplicationGroup {group}\n" + RESTRICT)
    assert restricted(server, "signal-function") == "replaced"


# --------------------------------------------------------------------------------------------
# WSGIRestrictEmbedded, WSGIDestroyInterpreter, WSGILazyInitialization


def test_restrict_embedded(apache):
    server = apache("WSGIRestrictEmbedded On\n" + INFO)
    r = requests.get(server.url("/info"), timeout=10)
    assert r.status_code == 500
    server.wait_log(
        r"WSGI0143: Embedded mode of mod_wsgi disabled by runtime configuration .*info\.wsgi"
    )
    log = server.error_log()
    assert "Python not initialised: WSGIRestrictEmbedded On" in log
    assert "Initialised Python" not in log


def test_destroy_interpreter_off_skips_finalisation(apache):
    config = "SetEnv TEST_TMP {tmp}\nWSGIScriptAlias /life {apps}/lifecycle.wsgi\n"
    server = apache("WSGIDestroyInterpreter Off\n" + config)
    pids = set()
    for _ in range(4):
        r = requests.get(server.url("/life/atexit"), timeout=10)
        assert r.status_code == 200
        pids.add(int(r.text))
    assert server.stop() == []
    for pid in pids:
        assert not (server.tmp / f"atexit-{pid}").exists(), f"Python in process {pid} was finalised"


def test_lazy_initialization_off_is_accepted_with_a_warning(apache, config_test):
    rc, output = config_test("WSGILazyInitialization Off\n" + INFO)
    assert rc == 0, output
    assert "WSGI0021: WSGILazyInitialization Off is ignored" in output, output
    server = apache("WSGILazyInitialization Off\n" + INFO)
    assert server.wait_log(r"\[wsgi:warn\] .*WSGI0021: WSGILazyInitialization Off is ignored")
    assert info(server)["prefix"] == "/usr"
    # Once per start and once per restart, not once per reading of the configuration.
    assert server.error_log().count("WSGI0021") == 1, server.error_log()
    server.graceful()
    assert server.error_log().count("WSGI0021") == 2, server.error_log()


def test_newrelic_directives_are_accepted_with_a_warning(apache, config_test):
    # Configurations written for mod_wsgi 4 (Debian's 4.9.4 has them) still load; mod_wsgi 6
    # removed the agent's start, so they do nothing.
    config = "WSGINewRelicConfigFile /etc/newrelic.ini\nWSGINewRelicEnvironment staging\n" + INFO
    rc, output = config_test(config)
    assert rc == 0, output
    assert "WSGI0022: WSGINewRelicConfigFile is ignored" in output, output
    assert "WSGI0022: WSGINewRelicEnvironment is ignored" in output, output
    server = apache(config)
    assert server.wait_log(r"\[wsgi:warn\] .*WSGI0022: WSGINewRelicEnvironment is ignored")
    assert info(server)["prefix"] == "/usr"
    # Once per start, not once per reading of the configuration.
    assert server.error_log().count("WSGI0022") == 2, server.error_log()

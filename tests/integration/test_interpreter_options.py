"""mod_wsgi 6's per-interpreter configuration: <WSGIInterpreterOptions>, WSGISwitchInterval,
WSGIPerInterpreterGIL and WSGIFreeThreading (mod_wsgi docs of those names), and the telemetry
directives this module refuses.

A section applies to the interpreters its process-group= / application-group= selectors
match; the most specific matching section sets WSGIRestrictStdin / Stdout / Signal, and the
WSGIPythonPath of every matching section is put at the front of sys.path, the most specific
first. The switch interval is one value per process.
"""

import os
import tempfile
from pathlib import Path

import pytest
import requests

INFO = "{apps}/runtime/info.wsgi"
RESTRICT = "{apps}/runtime/restrict.wsgi"


def get(server, path):
    r = requests.get(server.url(path), timeout=10)
    assert r.status_code == 200, (r.status_code, r.text[:2000], server.error_log()[-3000:])
    return r


def scratch_dir(base: Path, prefix: str) -> Path:
    path = Path(tempfile.mkdtemp(prefix=prefix, dir=base))
    os.chmod(path, 0o755)
    return path


# --------------------------------------------------------------------------------------------
# Restrictions per application group


@pytest.mark.parametrize("daemon", [False, True], ids=["embedded", "daemon"])
def test_section_restricts_stdout_of_its_application_group_only(apache, daemon):
    process = "site" if daemon else "%{GLOBAL}"
    config = (
        ("WSGIDaemonProcess site threads=2\n" if daemon else "")
        + f"WSGIScriptAlias /app1 {RESTRICT} application-group=app1 process-group={process}\n"
        + f"WSGIScriptAlias /app2 {RESTRICT} application-group=app2 process-group={process}\n"
        + ("<WSGIInterpreterOptions process-group=site application-group=app1>\n" if daemon
           else "<WSGIInterpreterOptions application-group=app1>\n")
        + "    WSGIRestrictStdout On\n"
        + "    WSGIRestrictSignal Off\n"
        + "</WSGIInterpreterOptions>\n"
    )
    server = apache(config)
    server.expect_log(r"printed to sys.stdout")  # what the unrestricted group prints
    assert get(server, "/app1/stdout").text == "OSError: sys.stdout access restricted by mod_wsgi"
    assert get(server, "/app1/signal-function").text == "original"
    assert get(server, "/app2/stdout").text == "ok None"
    assert get(server, "/app2/signal-function").text == "replaced"


def test_more_specific_section_wins(apache):
    server = apache(
        f"WSGIScriptAlias /app1 {RESTRICT} application-group=app1\n"
        f"WSGIScriptAlias /app2 {RESTRICT} application-group=app2\n"
        "WSGIRestrictStdout On\n"
        "<WSGIInterpreterOptions application-group=app1>\n"
        "    WSGIRestrictStdout Off\n"
        "</WSGIInterpreterOptions>\n"
        "<WSGIInterpreterOptions>\n"
        "    WSGIRestrictStdout On\n"
        "</WSGIInterpreterOptions>\n"
    )
    server.expect_log(r"printed to sys.stdout")
    assert get(server, "/app1/stdout").text == "ok None"
    assert get(server, "/app2/stdout").text == "OSError: sys.stdout access restricted by mod_wsgi"


def test_global_selector_matches_the_main_interpreter(apache):
    server = apache(
        f"WSGIScriptAlias /main {RESTRICT} application-group=%{{GLOBAL}}\n"
        f"WSGIScriptAlias /sub {RESTRICT} application-group=sub\n"
        "<WSGIInterpreterOptions application-group=%{GLOBAL}>\n"
        "    WSGIRestrictStdout On\n"
        "</WSGIInterpreterOptions>\n"
    )
    server.expect_log(r"printed to sys.stdout")
    assert get(server, "/main/stdout").text == "OSError: sys.stdout access restricted by mod_wsgi"
    assert get(server, "/sub/stdout").text == "ok None"


# --------------------------------------------------------------------------------------------
# WSGIPythonPath layers


@pytest.mark.parametrize("daemon", [False, True], ids=["embedded", "daemon"])
def test_python_path_layers_go_first_most_specific_first(apache, server_base, daemon):
    base = scratch_dir(server_base, "base-")
    every = scratch_dir(server_base, "every-")
    only_app1 = scratch_dir(server_base, "app1-")
    (only_app1 / "app1_only.py").write_text("X = 1\n")
    os.chmod(only_app1 / "app1_only.py", 0o644)
    process = "site" if daemon else "%{GLOBAL}"
    config = (
        (f"WSGIDaemonProcess site threads=2 python-path={base}\n" if daemon
         else f"WSGIPythonPath {base}\n")
        + f"WSGIScriptAlias /app1 {INFO} application-group=app1 process-group={process}\n"
        + f"WSGIScriptAlias /app2 {INFO} application-group=app2 process-group={process}\n"
        + "<WSGIInterpreterOptions>\n"
        + f"    WSGIPythonPath {every}\n"
        + "</WSGIInterpreterOptions>\n"
        + "<WSGIInterpreterOptions application-group=app1>\n"
        + f"    WSGIPythonPath {only_app1}\n"
        + "</WSGIInterpreterOptions>\n"
    )
    server = apache(config)
    app1 = get(server, "/app1?app1_only").json()
    assert app1["path"][:2] == [str(only_app1), str(every)], app1["path"]
    assert str(base) in app1["path"][2:], "the base layer stays"
    assert app1["imports"]["app1_only"] == str(only_app1 / "app1_only.py")
    app2 = get(server, "/app2?app1_only").json()
    assert app2["path"][0] == str(every), app2["path"]
    assert str(only_app1) not in app2["path"]
    assert app2["imports"]["app1_only"].startswith("ImportError")


# --------------------------------------------------------------------------------------------
# WSGISwitchInterval


def test_switch_interval_server_wide(apache):
    server = apache("WSGISwitchInterval 0.002\n" f"WSGIScriptAlias /info {INFO}\n")
    assert get(server, "/info").json()["switch_interval"] == pytest.approx(0.002)


def test_switch_interval_of_a_process_group(apache):
    server = apache(
        "WSGISwitchInterval 0.002\n"
        "WSGIDaemonProcess site threads=2\n"
        "WSGIDaemonProcess own threads=2 switch-interval=0.007\n"
        "WSGIDaemonProcess plain threads=2\n"
        f"WSGIScriptAlias /plain {INFO} process-group=plain\n"
        f"WSGIScriptAlias /embedded {INFO}\n"
        f"WSGIScriptAlias /site {INFO} process-group=site\n"
        f"WSGIScriptAlias /own {INFO} process-group=own\n"
        "<WSGIInterpreterOptions process-group=site>\n"
        "    WSGISwitchInterval 0.004\n"
        "</WSGIInterpreterOptions>\n"
        "<WSGIInterpreterOptions process-group=own>\n"
        "    WSGISwitchInterval 0.009\n"
        "</WSGIInterpreterOptions>\n"
    )
    assert get(server, "/embedded").json()["switch_interval"] == pytest.approx(0.002)
    assert get(server, "/site").json()["switch_interval"] == pytest.approx(0.004)
    # The group's own switch-interval= wins over a section.
    assert get(server, "/own").json()["switch_interval"] == pytest.approx(0.007)
    # The server-wide directive is for the Apache children only (mod_wsgi docs).
    assert get(server, "/plain").json()["switch_interval"] == pytest.approx(0.005)
    server.wait_log(r"Python switch interval set to 0\.002 s in embedded mode", expect=False)


def test_switch_interval_selected_by_application_group_is_ignored(apache):
    server = apache(
        f"WSGIScriptAlias /app1 {INFO} application-group=app1\n"
        "<WSGIInterpreterOptions application-group=app1>\n"
        "    WSGISwitchInterval 0.5\n"
        "</WSGIInterpreterOptions>\n"
    )
    server.expect_log(r"WSGI0025: WSGISwitchInterval in <WSGIInterpreterOptions application-group=app1> is ignored")
    assert get(server, "/app1").json()["switch_interval"] == pytest.approx(0.005)
    server.wait_log(r"WSGI0025")


# --------------------------------------------------------------------------------------------
# What apache2 -t says


def test_gil_directives_are_accepted_with_a_warning(config_test):
    rc, output = config_test(
        "WSGIPerInterpreterGIL On\n"
        "WSGIFreeThreading Off\n"
        "<WSGIInterpreterOptions process-group=%{GLOBAL}>\n"
        "    WSGIFreeThreading On\n"
        "</WSGIInterpreterOptions>\n"
    )
    assert rc == 0, output
    assert "WSGI0024: WSGIPerInterpreterGIL On has no effect" in output
    assert "WSGI0024: WSGIFreeThreading On in <WSGIInterpreterOptions> has no effect" in output


def test_gil_directives_logged_at_start(apache):
    server = apache("WSGIPerInterpreterGIL On\n" f"WSGIScriptAlias /info {INFO}\n")
    server.expect_log(r"WSGI0024: WSGIPerInterpreterGIL On has no effect")
    assert get(server, "/info").status_code == 200
    server.wait_log(r"WSGI0024: WSGIPerInterpreterGIL On has no effect")


@pytest.mark.parametrize(
    "config, message",
    [
        ("<WSGIInterpreterOptions>\n    WSGIPythonHome /usr\n</WSGIInterpreterOptions>\n",
         "WSGIPythonHome is not allowed here"),
        ("<WSGIInterpreterOptions>\n    ServerAdmin x@example.com\n</WSGIInterpreterOptions>\n",
         "ServerAdmin is not allowed here"),
        ("<WSGIInterpreterOptions callable-object=app>\n</WSGIInterpreterOptions>\n",
         "unknown selector 'callable-object'"),
        ("<WSGIInterpreterOptions process-group=a process-group=b>\n</WSGIInterpreterOptions>\n",
         "process-group given more than once"),
        ("<WSGIInterpreterOptions application-group=%{ENV:APP}>\n</WSGIInterpreterOptions>\n",
         "only a literal name or %{GLOBAL} can be matched"),
        ("<WSGIInterpreterOptions>\n    WSGIRestrictStdout maybe\n</WSGIInterpreterOptions>\n",
         "WSGIRestrictStdout must be On or Off"),
        ("<VirtualHost *:*>\n<WSGIInterpreterOptions>\n</WSGIInterpreterOptions>\n</VirtualHost>\n",
         "<WSGIInterpreterOptions> cannot occur within <VirtualHost> section"),
        ("WSGISwitchInterval 0\n", "WSGISwitchInterval must be a positive number of seconds"),
        ("WSGISwitchInterval soon\n", "WSGISwitchInterval must be a positive number of seconds"),
        ("WSGIPerInterpreterGIL maybe\n", "WSGIPerInterpreterGIL must be On or Off"),
        ("WSGITelemetryService unix:/run/telemetry.sock\n",
         "WSGITelemetryService (mod_wsgi 6 telemetry) is not supported by this module"),
        ("WSGITelemetryOptions All\n", "WSGITelemetryOptions (mod_wsgi 6 telemetry) is not supported"),
        ("WSGISlowRequests 5\n", "WSGISlowRequests (mod_wsgi 6 telemetry) is not supported"),
    ],
    ids=["python-home-inside", "other-module-inside", "unknown-selector", "selector-twice",
         "expanded-selector", "bad-flag-inside", "in-virtual-host", "switch-interval-zero",
         "switch-interval-word", "gil-flag-word", "telemetry-service", "telemetry-options",
         "slow-requests"],
)
def test_bad_configuration_is_refused(config_test, config, message):
    rc, output = config_test(config)
    assert rc != 0, output
    assert message in output, output

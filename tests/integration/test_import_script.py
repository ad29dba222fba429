"""WSGIImportScript: a script loaded into a named application group when a process starts.

mod_wsgi docs, WSGIImportScript: server config; both process-group= and application-group= are
required; process-group=%{GLOBAL} means the Apache child processes (embedded mode);
application-group=%{GLOBAL} means the main interpreter. The script is loaded before the process
accepts requests, and a WSGIScriptAlias serving the same file in the same group uses the module
already loaded.
"""

import json
import re
import time

import pytest
import requests

from conftest import wait_for
from group_helpers import get_json, one_process

GLOBAL_CONFIG = """
WSGIImportScript {apps}/groups/preload.wsgi process-group=%{GLOBAL} application-group=%{GLOBAL}
WSGIScriptAlias /pre {apps}/groups/preload.wsgi application-group=%{GLOBAL}
WSGIScriptAlias /probe {apps}/groups/probe.wsgi application-group=%{GLOBAL}
WSGIScriptAlias /elsewhere {apps}/groups/probe.wsgi
"""

NAMED_CONFIG = """
WSGIImportScript {apps}/groups/preload.wsgi process-group=%{GLOBAL} application-group=preload-group
WSGIScriptAlias /pre {apps}/groups/preload.wsgi application-group=preload-group
WSGIScriptAlias /probe {apps}/groups/probe.wsgi application-group=preload-group
WSGIScriptAlias /main {apps}/groups/probe.wsgi application-group=%{GLOBAL}
"""


def markers(server, label: str) -> dict[int, dict]:
    """{pid: load record} of the preload-<label>-<pid> files the script wrote."""
    found = {}
    for path in server.tmp.glob(f"preload-{label}-*"):
        try:
            found[int(path.name.rsplit("-", 1)[1])] = json.loads(path.read_text())
        except ValueError:
            pass  # being written
    return found


def test_script_is_preloaded_in_every_child_before_requests(apache, mpm):
    server = apache(GLOBAL_CONFIG)
    # No request yet: the children loaded the script when they started.
    assert wait_for(lambda: markers(server, "global"), 10), "no child preloaded the script"
    pids = set()
    for _ in range(6):
        data = get_json(server, "/pre")
        pid = data["pid"]
        pids.add(pid)
        record = markers(server, "global").get(pid)
        assert record is not None, f"process {pid} served /pre without having preloaded the script"
        # Loaded before the child read the request (prefork may start a child for it, after
        # the client asked: the time the client asked is no bound).
        request_start = float(data["request_start"])
        assert abs(request_start - time.time()) < 60  # seconds since the epoch
        assert record["time"] <= request_start
        assert record["group"] == "" and record["interpreter_id"] == 0
        # The WSGIScriptAlias of the same file in the same group uses the preloaded module.
        assert len(data["loads"]) == 1, data["loads"]
        assert data["loads"][0]["time"] == record["time"]


def test_preloaded_state_is_seen_by_its_group_only(apache):
    server = apache(GLOBAL_CONFIG + one_process("event"))
    assert wait_for(lambda: markers(server, "global"), 10)
    assert get_json(server, "/probe/has?preload_state")["has"] is True
    assert get_json(server, "/elsewhere/has?preload_state")["has"] is False


def test_script_is_preloaded_into_a_named_group(apache):
    server = apache(NAMED_CONFIG + one_process("event"))
    found = wait_for(lambda: markers(server, "preload-group"), 10)
    assert found, "the script was not preloaded into application group 'preload-group'"
    ((pid, record),) = found.items()
    assert record["group"] == "preload-group"
    assert record["interpreter_id"] != 0, "preloaded into the main interpreter"
    data = get_json(server, "/pre")
    assert data["pid"] == pid
    assert data["group"] == "preload-group"
    assert data["interpreter_id"] == record["interpreter_id"]
    assert len(data["loads"]) == 1, "the script was loaded again for the request"
    assert get_json(server, "/probe/has?preload_state")["has"] is True
    assert get_json(server, "/main/has?preload_state")["has"] is False


ALIAS_PRELOAD_CONFIG = """
WSGIDaemonProcess aliased threads=2
WSGIScriptAlias /pre {apps}/groups/preload.wsgi process-group=aliased application-group=alias-group
WSGIScriptAlias /only-process {apps}/groups/probe.wsgi process-group=aliased
"""


def test_script_alias_naming_both_groups_preloads_its_script(apache):
    # mod_wsgi docs, WSGIScriptAlias: "If both process-group and application-group options are
    # set, the WSGI script file will be pre-loaded when the process it is to run in is started".
    server = apache(ALIAS_PRELOAD_CONFIG)
    assert wait_for(lambda: markers(server, "alias-group"), 10), "the daemon did not preload it"
    (pid,) = markers(server, "alias-group")
    data = get_json(server, "/pre")
    assert data["pid"] == pid and data["group"] == "alias-group"
    assert len(data["loads"]) == 1, "the request loaded the script again"
    server.wait_log(r"Imported WSGI script '.*preload\.wsgi' into application group 'alias-group' "
                    r"at process start \(WSGIScriptAlias with process-group= and "
                    r"application-group=\)", expect=False)
    # Only the group's process loads it, and not for an alias naming one group only.
    assert set(markers(server, "alias-group")) == {pid}
    assert not re.search(r"Imported WSGI script '[^']*probe\.wsgi'", server.error_log())


def test_script_alias_preload_only_into_a_group_the_host_may_use(apache):
    # Virtual host B naming host A's group: nothing runs in A's process (B's requests would be
    # refused there, WSGI0152), and a script named twice for one group is loaded once.
    server = apache("""
<VirtualHost *:*>
    ServerName a.example
    WSGIDaemonProcess owned threads=1
    WSGIScriptAlias /pre {apps}/groups/preload.wsgi process-group=owned application-group=mine
    WSGIScriptAlias /again {apps}/groups/preload.wsgi process-group=owned application-group=mine
</VirtualHost>
<VirtualHost *:*>
    ServerName b.example
    WSGIScriptAlias /pre {apps}/groups/preload.wsgi process-group=owned application-group=theirs
</VirtualHost>
""")
    assert wait_for(lambda: markers(server, "mine"), 10), "a.example's own alias did not preload"
    time.sleep(0.5)
    assert markers(server, "theirs") == {}, "b.example's script ran in a.example's process"
    log = server.error_log()
    assert len(re.findall(r"Imported WSGI script '[^']*preload\.wsgi' into application group "
                          r"'mine'", log)) == 1, log


def test_failing_import_script_is_logged_and_the_server_serves(apache):
    server = apache(
        "WSGIImportScript {apps}/groups/preload_fails.wsgi "
        "process-group=%{GLOBAL} application-group=%{GLOBAL}\n"
        "WSGIScriptAlias /probe {apps}/groups/probe.wsgi\n"
    )
    server.expect_log(r"preload_fails\.wsgi")
    server.wait_log(r"RuntimeError: preload failed on purpose", timeout=10)
    r = requests.get(server.url("/probe/info"), timeout=15)
    assert r.status_code == 200


@pytest.mark.parametrize(
    "arguments, complaint",
    [
        ("{apps}/groups/preload.wsgi process-group=%{GLOBAL}", r"(?i)application.group"),
        ("{apps}/groups/preload.wsgi application-group=%{GLOBAL}", r"(?i)process.group"),
        (
            "{apps}/groups/preload.wsgi process-group=%{GLOBAL} application-group=x colour=blue",
            r"(?i)option",
        ),
        (
            "{apps}/groups/preload.wsgi process-group=no-such-daemon application-group=%{GLOBAL}",
            r"(?i)process.group",
        ),
        ("", r"(?i)script"),
    ],
    ids=["no-application-group", "no-process-group", "unknown-option", "unknown-process-group", "no-file"],
)
def test_bad_import_script_lines_fail_the_config_check(config_test, arguments, complaint):
    rc, output = config_test(f"WSGIImportScript {arguments}\n")
    assert rc != 0, output
    assert "Invalid command" not in output, output
    assert re.search(complaint, output), output

"""Application groups: each group is its own Python sub interpreter; %{GLOBAL} is the main one.

mod_wsgi docs, WSGIApplicationGroup: %{GLOBAL} is '' (the main interpreter), %{SERVER} is the
server name plus ':port' unless the port is 80 or 443, %{RESOURCE} (the default) appends '|'
and SCRIPT_NAME, %{ENV:NAME} takes the request's variable, anything else is a literal name; the
application-group= option of WSGIScriptAlias wins over the directive. Scripts in one group
share sys.modules and module globals; scripts in different groups never do.

Every server here runs one child process, so all requests of a test meet the same interpreters.
"""

import re
import uuid

import pytest
import requests

from group_helpers import (
    get_json,
    interpreter_created_lines,
    one_process,
    resource_group,
    server_group,
)

CONFIG = """
WSGIScriptAlias /iso-a {apps}/groups/probe.wsgi
WSGIScriptAlias /iso-b {apps}/groups/probe.wsgi
WSGIScriptAlias /Mixed-Case {apps}/groups/probe.wsgi
WSGIScriptAlias /global-opt {apps}/groups/probe.wsgi application-group=%{GLOBAL}
WSGIScriptAlias /global-dir {apps}/groups/probe.wsgi
<Location /global-dir>
    WSGIApplicationGroup %{GLOBAL}
</Location>
WSGIScriptAlias /server {apps}/groups/probe.wsgi
<Location /server>
    WSGIApplicationGroup %{SERVER}
</Location>
WSGIScriptAlias /env {apps}/groups/probe.wsgi
<Location /env>
    SetEnv PROBE_GROUP from-env
    WSGIApplicationGroup %{ENV:PROBE_GROUP}
</Location>
WSGIScriptAlias /literal {apps}/groups/probe.wsgi application-group=literal-name
WSGIScriptAlias /override {apps}/groups/probe.wsgi application-group=from-option
<Location /override>
    WSGIApplicationGroup from-directive
</Location>
WSGIScriptAlias /share-1 {apps}/groups/probe.wsgi
WSGIScriptAlias /share-2 {apps}/groups/other.wsgi
<LocationMatch "^/share-[12]">
    WSGIApplicationGroup shared
</LocationMatch>
"""


@pytest.fixture(scope="module")
def server(module_apache, mpm):
    server = module_apache(CONFIG + one_process(mpm), mpm=mpm)
    yield server
    module_apache.release(server)


def info(server, path: str) -> dict:
    return get_json(server, path + "/info")


def token() -> str:
    return uuid.uuid4().hex


# -------------------------------------------------------------------------------------------
# Group names


def test_resource_group_is_server_port_and_script_name(server):
    for path in ("/iso-a", "/iso-b"):
        data = info(server, path)
        expected = resource_group(server, path)
        assert data["environ_group"] == expected
        assert data["module_group"] == expected, "mod_wsgi.application_group in the group's interpreter"


def test_resource_group_keeps_the_script_names_case(server):
    data = info(server, "/Mixed-Case")
    assert data["environ_group"] == resource_group(server, "/Mixed-Case")


def test_resource_group_lower_cases_the_script_name_when_case_insensitive(apache, mpm):
    # mod_wsgi 6 (wsgi_script_name): with WSGICaseSensitivity Off, /Mixed-Case and /mixed-case
    # share one interpreter; SCRIPT_NAME itself keeps the URL's case.
    server = apache("WSGICaseSensitivity Off\n" + CONFIG + one_process(mpm), mpm=mpm)
    data = info(server, "/Mixed-Case")
    assert data["environ_group"] == resource_group(server, "/mixed-case")
    assert data["module_group"] == resource_group(server, "/mixed-case")
    assert data["script_name"] == "/Mixed-Case"


def test_server_group_is_server_and_port(server):
    data = info(server, "/server")
    assert data["environ_group"] == server_group(server)
    assert data["module_group"] == server_group(server)


def test_env_group_takes_the_request_variable(server):
    data = info(server, "/env")
    assert data["environ_group"] == "from-env"
    assert data["module_group"] == "from-env"


HOST_CONFIG = """
<VirtualHost *:*>
    ServerName named.example
    ServerAlias one.example two.example
    WSGIScriptAlias /host {apps}/groups/probe.wsgi application-group=%{HOST}
</VirtualHost>
"""


def test_host_group_is_the_requested_host_name(apache):
    # mod_wsgi 4's %{HOST}: the name in the request's Host header, with the port unless
    # 80/443, when the virtual host answers to it; any other name a client sends gets the
    # server's name, so that clients cannot make interpreters at will.
    server = apache(HOST_CONFIG)
    port = server.port
    for name, group in (("one.example", "one.example"), ("two.example", "two.example"),
                        ("named.example", "named.example"), ("127.0.0.1", "named.example"),
                        ("forged.example", "named.example")):
        r = requests.get(server.url("/host/info"), headers={"Host": f"{name}:{port}"}, timeout=10)
        assert r.status_code == 200, r.text
        assert r.json()["environ_group"] == f"{group}:{port}", name
        assert r.json()["module_group"] == f"{group}:{port}", name


def test_literal_group_name(server):
    data = info(server, "/literal")
    assert data["environ_group"] == "literal-name"
    assert data["module_group"] == "literal-name"


def test_script_alias_option_wins_over_the_directive(server):
    data = info(server, "/override")
    assert data["environ_group"] == "from-option"
    assert data["module_group"] == "from-option"


def test_embedded_mode_has_no_process_group(server):
    assert info(server, "/iso-a")["process_group"] == ""


# -------------------------------------------------------------------------------------------
# Interpreters


def test_global_group_runs_in_the_main_interpreter(server):
    by_option = info(server, "/global-opt")
    by_directive = info(server, "/global-dir")
    for data in (by_option, by_directive):
        assert data["environ_group"] == ""
        assert data["module_group"] == ""
        assert data["interpreter_id"] == 0, "%{GLOBAL} must run in the main interpreter"
    assert by_option["sys_id"] == by_directive["sys_id"]


def test_each_named_group_has_its_own_sub_interpreter(server):
    paths = ("/iso-a", "/iso-b", "/server", "/env", "/literal", "/override")
    seen = {path: info(server, path) for path in paths}
    main = info(server, "/global-opt")
    ids = [seen[p]["interpreter_id"] for p in paths]
    assert 0 not in ids, f"a named group ran in the main interpreter: {seen}"
    assert len(set(ids)) == len(paths), f"groups share an interpreter: {ids}"
    sys_ids = {seen[p]["sys_id"] for p in paths} | {main["sys_id"]}
    assert len(sys_ids) == len(paths) + 1, "every interpreter has its own sys module"
    modules_ids = {seen[p]["modules_id"] for p in paths} | {main["modules_id"]}
    assert len(modules_ids) == len(paths) + 1, "every interpreter has its own sys.modules"


def test_a_group_keeps_its_interpreter_between_requests(server):
    first = info(server, "/literal")
    for _ in range(5):
        again = info(server, "/literal")
        assert again["interpreter_id"] == first["interpreter_id"]
        assert again["sys_id"] == first["sys_id"]
    assert again["hits"] > first["hits"], "the script module was loaded again"


# -------------------------------------------------------------------------------------------
# Isolation and sharing


def test_module_global_is_invisible_to_another_group(server):
    # /iso-a and /iso-b serve the same script file: only the interpreter separates them.
    value = token()
    assert get_json(server, f"/iso-a/set?{value}")["value"] == value
    assert info(server, "/iso-a")["value"] == value
    assert info(server, "/iso-b")["value"] != value
    assert info(server, "/global-opt")["value"] != value


def test_imported_module_is_absent_from_other_groups(server):
    assert get_json(server, "/server/import")["marker"] is True
    assert info(server, "/server")["marker"] is True
    for path in ("/iso-a", "/iso-b", "/env", "/global-opt"):
        assert info(server, path)["marker"] is False, f"groupmarker leaked into {path}"


def test_scripts_in_one_group_share_modules(server):
    value = token()
    one = get_json(server, f"/share-1/share?{value}")
    two = info(server, "/share-2")
    assert one["environ_group"] == two["environ_group"] == "shared"
    assert two["interpreter_id"] == one["interpreter_id"] != 0
    assert two["shared"] == value, "the other script of the group does not see groupshared.VALUE"
    assert info(server, "/iso-a")["shared"] != value, "groupshared leaked into another group"


def test_one_script_mounted_twice_in_one_group_is_one_module(server):
    # /global-opt and /global-dir serve probe.wsgi in the same group (the main interpreter).
    value = token()
    get_json(server, f"/global-opt/set?{value}")
    assert info(server, "/global-dir")["value"] == value


def test_interpreter_creation_is_logged_once_per_group(server):
    group = "literal-name"
    info(server, "/literal")
    lines = interpreter_created_lines(server, group)
    assert lines, "no LogLevel info line names the new interpreter:\n" + server.error_log()[-3000:]
    for _ in range(5):
        info(server, "/literal")
    assert interpreter_created_lines(server, group) == lines, "interpreter created again"
    group = resource_group(server, "/iso-b")
    info(server, "/iso-b")
    assert interpreter_created_lines(server, group)


# -------------------------------------------------------------------------------------------
# No unbounded growth


GROWTH_CONFIG = """
SetEnvIf X-Group "^([a-z0-9-]+)$" DYNAMIC_GROUP=$1
WSGIScriptAlias /dyn {apps}/groups/echo.wsgi
<Location /dyn>
    WSGIApplicationGroup %{ENV:DYNAMIC_GROUP}
</Location>
"""
DISTINCT_GROUPS = 200
# A stable-coded line about interpreters or application groups, at warn level or above.
GROWTH_LINE = r"\[wsgi:(?:warn|error|crit)\].*WSGI\d{4}.*(?i:interpreter|application group)"


def test_per_request_group_names_do_not_grow_without_bound(apache):
    """200 distinct %{ENV:...} values: requests past a cap are refused, or a warning is logged."""
    server = apache(GROWTH_CONFIG + one_process("event"))
    server.expect_log(r"WSGI\d{4}.*(?i:interpreter|application group)")
    accepted, refused = [], []
    with requests.Session() as session:
        for i in range(DISTINCT_GROUPS):
            name = f"dyn-{i}"
            r = session.get(server.url(f"/dyn?{i}"), headers={"X-Group": name}, timeout=30)
            if r.status_code == 200:
                assert r.text.split("\n")[0] == name, r.text
                accepted.append(name)
            else:
                assert r.status_code in (500, 503), (name, r.status_code, r.text[:500])
                refused.append(name)
        # Groups that exist keep working, whatever happened to later ones.
        r = session.get(server.url("/dyn?again"), headers={"X-Group": accepted[0]}, timeout=30)
        assert r.status_code == 200 and r.text.split("\n")[0] == accepted[0]
    assert accepted, "not one dynamic group was served"
    log = server.error_log()
    lines = re.findall(r"^.*" + GROWTH_LINE + r".*$", log, re.M)
    if refused:
        assert lines, "requests were refused without a coded log line saying why:\n" + log[-3000:]
    else:
        assert lines, (
            f"{DISTINCT_GROUPS} application groups were created without a limit or a warning:\n"
            + log[-3000:]
        )
    unformatted = [line for line in lines if re.search(r"%[a-z]", line)]
    assert not unformatted, "log lines with unexpanded printf conversions:\n" + "\n".join(unformatted[:3])

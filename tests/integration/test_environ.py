"""The WSGI environ built for each request (PEP 3333 and the mod_wsgi additions)."""

import base64
import json
import re
import socket
import subprocess

import pytest
import requests

import conftest
from conftest import HTTPD, environ_of, environ_types_of, raw_request, split_response

CONFIG = """
WSGIScriptAlias /env {apps}/env.wsgi
WSGIScriptAlias /auth {apps}/env.wsgi
<Location /auth>
    WSGIPassAuthorization On
</Location>
SetEnv FOO bar
LogFormat "%L %U" request_ids
CustomLog {root}/logs/request_ids request_ids
"""


@pytest.fixture(scope="module")
def server(module_apache, mpm):
    server = module_apache(CONFIG, mpm=mpm)
    yield server
    module_apache.release(server)


def get_env(server, path="/env", **kwargs):
    return environ_of(requests.get(server.url(path), timeout=10, **kwargs))


def raw_env(server, request: bytes) -> dict:
    status, _headers, body = split_response(raw_request(server.port, request))
    assert status.split()[1] == "200", status
    return {k: v[1] for k, v in json.loads(body).items()}


def apache_version() -> tuple:
    out = subprocess.run([str(HTTPD), "-v"], capture_output=True, text=True, timeout=30).stdout
    return tuple(int(x) for x in re.search(r"Apache/(\d+)\.(\d+)\.(\d+)", out).groups())


def test_cgi_variables(server):
    env = get_env(server, "/env/p/q?x=1&y=%2F&z=a+b", headers={"X-Custom": "v1"})
    assert env["REQUEST_METHOD"] == "GET"
    assert env["QUERY_STRING"] == "x=1&y=%2F&z=a+b"
    assert env["SCRIPT_NAME"] == "/env"
    assert env["PATH_INFO"] == "/p/q"
    assert env["SERVER_NAME"] == "127.0.0.1"
    assert env["SERVER_PORT"] == str(server.port)
    assert env["SERVER_PROTOCOL"] == "HTTP/1.1"
    assert env["REMOTE_ADDR"] == "127.0.0.1"
    assert env["HTTP_HOST"] == f"127.0.0.1:{server.port}"
    assert env["HTTP_X_CUSTOM"] == "v1"
    assert env["FOO"] == "bar"  # SetEnv reaches the environ


def test_request_body_variables(server):
    env = environ_of(
        requests.post(
            server.url("/env"), data=b"hello", headers={"Content-Type": "application/x-test"}, timeout=10
        )
    )
    assert env["REQUEST_METHOD"] == "POST"
    assert env["CONTENT_TYPE"] == "application/x-test"
    assert env["CONTENT_LENGTH"] == "5"
    # wsgiref.validate: these two must not be duplicated as HTTP_ variables.
    assert "HTTP_CONTENT_TYPE" not in env
    assert "HTTP_CONTENT_LENGTH" not in env


def test_remote_port_is_the_client_port(server):
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
        local_port = s.getsockname()[1]
        s.sendall(b"GET /env HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    env = {k: v[1] for k, v in json.loads(split_response(data)[2]).items()}
    assert env["REMOTE_PORT"] == str(local_port)


def test_http_1_0_protocol(server):
    env = raw_env(server, b"GET /env HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
    assert env["SERVER_PROTOCOL"] == "HTTP/1.0"


def test_wsgi_variables(server, mpm):
    env = get_env(server)
    assert env["wsgi.version"] == "(1, 0)"
    assert env["wsgi.url_scheme"] == "http"
    assert env["wsgi.multithread"] == ("False" if mpm == "prefork" else "True")
    assert env["wsgi.multiprocess"] == "True"
    assert env["wsgi.run_once"] == "False"
    assert env["wsgi.input_terminated"] == "True"
    for key in ("wsgi.input", "wsgi.errors", "wsgi.file_wrapper"):
        assert key in env


def test_mod_wsgi_variables(server):
    env = get_env(server)
    types = environ_types_of(requests.get(server.url("/env"), timeout=10))
    assert env["mod_wsgi.process_group"] == ""
    assert env["mod_wsgi.application_group"] == f"127.0.0.1:{server.port}|/env"
    assert env["mod_wsgi.callable_object"] == "application"
    assert env["mod_wsgi.script_reloading"] == "1"
    for key in ("process_group", "application_group", "callable_object", "script_reloading"):
        assert types[f"mod_wsgi.{key}"] == "str"
    assert types["mod_wsgi.version"] == "tuple"
    version = eval(env["mod_wsgi.version"])  # a tuple of ints, from repr()
    assert len(version) >= 2 and all(isinstance(x, int) for x in version)
    assert types["apache.version"] == "tuple"
    # (major, minor, patch) of the httpd the module was built for: the running major.minor.
    apache = eval(env["apache.version"])
    assert len(apache) == 3 and all(isinstance(x, int) for x in apache)
    assert apache[:2] == apache_version()[:2]


def test_cgi_values_are_native_strings(server):
    types = environ_types_of(
        requests.post(server.url("/env/x?y=1"), data=b"abc", headers={"X-A": "b"}, timeout=10)
    )
    not_str = {
        k: t
        for k, t in types.items()
        if t != "str" and not k.startswith(("wsgi.", "mod_wsgi.", "apache.", "__"))
    }
    assert not_str == {}


def test_proxy_header_never_becomes_http_proxy(server):
    env = get_env(server, headers={"Proxy": "http://evil.example:3128"})
    assert "HTTP_PROXY" not in env


def test_authorization_hidden_by_default(server):
    env = get_env(server, headers={"Authorization": "Basic dXNlcjpwYXNz"})
    assert "HTTP_AUTHORIZATION" not in env


def test_authorization_passed_with_wsgi_pass_authorization(server):
    env = get_env(server, "/auth", headers={"Authorization": "Basic dXNlcjpwYXNz"})
    assert env["HTTP_AUTHORIZATION"] == "Basic dXNlcjpwYXNz"


def test_underscore_header_does_not_create_forwarded_for(server):
    env = raw_env(
        server, b"GET /env HTTP/1.1\r\nHost: 127.0.0.1\r\nX_Forwarded_For: evil\r\nConnection: close\r\n\r\n"
    )
    assert "HTTP_X_FORWARDED_FOR" not in env
    assert "evil" not in env.values()


def test_underscore_header_does_not_shadow_forwarded_for(server):
    for order in (
        b"X-Forwarded-For: good\r\nX_Forwarded_For: evil\r\n",
        b"X_Forwarded_For: evil\r\nX-Forwarded-For: good\r\n",
    ):
        env = raw_env(server, b"GET /env HTTP/1.1\r\nHost: 127.0.0.1\r\n" + order + b"Connection: close\r\n\r\n")
        assert env["HTTP_X_FORWARDED_FOR"] == "good"


def test_latin1_header_value_is_decoded_as_latin1(server):
    env = raw_env(server, b"GET /env HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Latin: caf\xe9\r\nConnection: close\r\n\r\n")
    assert env["HTTP_X_LATIN"] == "caf\xe9"


def test_repeated_header_is_joined(server):
    env = raw_env(
        server, b"GET /env HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Multi: a\r\nX-Multi: b\r\nConnection: close\r\n\r\n"
    )
    assert env["HTTP_X_MULTI"] == "a, b"


def test_application_runs_in_a_child_not_the_parent(server):
    env = get_env(server)
    assert int(env["__pid__"]) != server.pid


# mod_wsgi.request_id is Apache's log id for the request (%L), which the module makes (its
# generate_log_id hook, as the core's but without a getpid per request): the request time in
# microseconds XOR the process id from bit 40 XOR the thread from bit 32, base64 unpadded.
def test_request_id_is_the_log_id_apache_logs(server):
    envs = [get_env(server, f"/env/id{n}") for n in range(6)]
    ids = [env["mod_wsgi.request_id"] for env in envs]
    assert len(set(ids)) == len(ids), ids
    logged = {}
    for line in conftest.wait_for(lambda: _id_lines(server, 6), 5.0):
        log_id, path = line.split()
        logged[path] = log_id
    for n, (env, request_id) in enumerate(zip(envs, ids)):
        assert re.fullmatch(r"[A-Za-z0-9+/]{11}", request_id), request_id
        assert logged[f"/env/id{n}"] == request_id
        value = int.from_bytes(base64.b64decode(request_id + "="), "little")
        start = round(float(env["mod_wsgi.request_start"]) * 1e6)
        assert (value ^ start) & 0xFFFFFFFF == 0, (request_id, start)


def _id_lines(server, count: int) -> list[str]:
    path = server.root / "logs" / "request_ids"
    lines = [line for line in path.read_text().splitlines() if " /env/id" in line]
    return lines if len(lines) >= count else []

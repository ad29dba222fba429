"""Helpers shared by the application group, reloading, shutdown and mod_wsgi module tests."""

from __future__ import annotations

import re

import requests

# Appended to a test's configuration (later MPM directives win): one child process, so that
# every request of a test reaches the same interpreters.
_ONE_THREADED_PROCESS = """
StartServers 1
ServerLimit 1
MaxRequestWorkers 8
"""
_ONE_PREFORK_PROCESS = """
StartServers 1
MinSpareServers 1
MaxSpareServers 1
ServerLimit 1
MaxRequestWorkers 1
"""


def one_process(mpm: str) -> str:
    """MPM directives that keep the server at exactly one child process."""
    return _ONE_PREFORK_PROCESS if mpm == "prefork" else _ONE_THREADED_PROCESS


def resource_group(server, script_name: str) -> str:
    """The %{RESOURCE} application group of `script_name` (ServerName is 127.0.0.1)."""
    return f"127.0.0.1:{server.port}|{script_name}"


def server_group(server) -> str:
    """The %{SERVER} application group (the port is shown: it is never 80 or 443 here)."""
    return f"127.0.0.1:{server.port}"


def get_json(server, path: str, **kwargs) -> dict:
    r = requests.get(server.url(path), timeout=kwargs.pop("timeout", 15), **kwargs)
    assert r.status_code == 200, (path, r.status_code, r.text[:2000])
    return r.json()


def interpreter_created_lines(server, group: str) -> list[str]:
    """LogLevel info lines that name `group` (quoted) as an interpreter being created."""
    quoted = "'" + group + "'"
    lines = []
    for line in server.error_log().splitlines():
        if "[wsgi:info]" not in line or quoted not in line:
            continue
        if re.search(r"(?i)\binterpreter\b", line) and re.search(r"(?i)creat", line):
            lines.append(line)
    return lines

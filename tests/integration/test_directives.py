"""Directive parsing (apache2 -t) and directive behaviour."""

import pytest

from conftest import raw_exchange, header, split_response


@pytest.mark.parametrize(
    "config, directive",
    [
        ("WSGIMapHEADToGET Sometimes", "WSGIMapHEADToGET"),
        ("WSGIPassAuthorization maybe", "WSGIPassAuthorization"),
        ("WSGIChunkedRequest 2", "WSGIChunkedRequest"),
        ("WSGIScriptAlias /x {apps}/hello.wsgi bogus-option=1", "WSGIScriptAlias"),
        ("WSGIScriptAlias /x", "WSGIScriptAlias"),
        ("WSGIScriptAliasMatch ^/(x {apps}/$1.wsgi", "WSGIScriptAliasMatch"),
        ("WSGIEnableSendfile sometimes", "WSGIEnableSendfile"),
        ("WSGIScriptReloading perhaps", "WSGIScriptReloading"),
        ("WSGIIgnoreActivity sometimes", "WSGIIgnoreActivity"),
        ("WSGIVerboseDebugging loud", "WSGIVerboseDebugging"),
        ("<VirtualHost 127.0.0.1:80>\nWSGIVerboseDebugging On\n</VirtualHost>",
         "WSGIVerboseDebugging"),
    ],
)
def test_bad_values_fail_config_test_naming_the_directive(config_test, config, directive):
    rc, output = config_test(config)
    assert rc != 0, output
    assert directive in output, output


def test_good_config_passes_config_test(config_test):
    rc, output = config_test(
        """
WSGIScriptAlias /x {apps}/hello.wsgi callable-object=application
WSGIScriptAlias /d/ {apps}/dir/
WSGIScriptAliasMatch ^/m/([^/]+) {apps}/$1.wsgi
WSGIMapHEADToGET Auto
WSGIChunkedRequest On
WSGIPassAuthorization Off
WSGIEnableSendfile Off
WSGIScriptReloading On
WSGICallableObject application
WSGIIgnoreActivity Off
WSGIVerboseDebugging On
<Location /x>
    WSGIIgnoreActivity On
</Location>
"""
    )
    assert rc == 0, output
    assert "Syntax OK" in output


@pytest.fixture(scope="module")
def head_server(module_apache):
    return module_apache(
        """
WSGIScriptAlias /on {apps}/response.wsgi
WSGIScriptAlias /off {apps}/response.wsgi
<Location /on>
    WSGIMapHEADToGET On
</Location>
<Location /off>
    WSGIMapHEADToGET Off
</Location>
"""
    )


@pytest.mark.parametrize("prefix, seen", [("/on", "GET"), ("/off", "HEAD")])
def test_map_head_to_get(head_server, prefix, seen):
    data, _closed = raw_exchange(
        head_server.port,
        f"HEAD {prefix}/sized HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode(),
        timeout=5,
    )
    status, headers, body = split_response(data)
    assert status.split()[1] == "200"
    assert header(headers, "X-Method") == seen
    assert body == b""

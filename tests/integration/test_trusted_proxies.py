"""WSGITrustedProxies / WSGITrustedProxyHeaders (issue 6): every proxy header x trusted or
untrusted peer x trusted or untrusted header, in embedded and daemon mode. The peer is always
127.0.0.1; it is "trusted" where WSGITrustedProxies names it and "untrusted" where it names
another address.
"""

import pytest
import requests

from conftest import APPS

P = APPS / "proxy"

# header -> (value sent, environ key it sets, value expected there)
HEADERS = {
    "X-Forwarded-For": ("198.51.100.7, 10.9.9.9", "REMOTE_ADDR", "198.51.100.7"),
    "X-Client-IP": ("198.51.100.8", "REMOTE_ADDR", "198.51.100.8"),
    "X-Real-IP": ("198.51.100.9", "REMOTE_ADDR", "198.51.100.9"),
    "X-Forwarded-Proto": ("https", "wsgi.url_scheme", "https"),
    "X-Forwarded-Scheme": ("https", "wsgi.url_scheme", "https"),
    "X-Scheme": ("https", "wsgi.url_scheme", "https"),
    "X-Url-Scheme": ("https", "wsgi.url_scheme", "https"),
    "X-Forwarded-SSL": ("on", "wsgi.url_scheme", "https"),
    "X-Forwarded-HTTPS": ("on", "wsgi.url_scheme", "https"),
    "X-HTTPS": ("on", "wsgi.url_scheme", "https"),
    "X-Forwarded-Host": ("public.example:8443", "HTTP_HOST", "public.example:8443"),
    "X-Host": ("public.example", "HTTP_HOST", "public.example"),
    "X-Forwarded-Server": ("front.example", "SERVER_NAME", "front.example"),
    "X-Forwarded-Port": ("8443", "SERVER_PORT", "8443"),
    "X-Script-Name": ("/mounted", "SCRIPT_NAME", "/mounted"),
    "X-Forwarded-Script-Name": ("/mounted", "SCRIPT_NAME", "/mounted"),
}
CATEGORY = {
    "REMOTE_ADDR": ["X-Forwarded-For", "X-Client-IP", "X-Real-IP"],
    "wsgi.url_scheme": ["X-Forwarded-Proto", "X-Forwarded-Scheme", "X-Scheme", "X-Url-Scheme",
                        "X-Forwarded-SSL", "X-Forwarded-HTTPS", "X-HTTPS"],
    "HTTP_HOST": ["X-Forwarded-Host", "X-Host"],
    "SERVER_NAME": ["X-Forwarded-Server"],
    "SERVER_PORT": ["X-Forwarded-Port"],
    "SCRIPT_NAME": ["X-Script-Name", "X-Forwarded-Script-Name"],
}


def environ_key(header):
    return "HTTP_" + header.upper().replace("-", "_")


def other_trusted(header):
    """The header trusted in the "untrusted header" case: a synonym, else another category's."""
    synonyms = [h for h in CATEGORY[HEADERS[header][1]] if h != header]
    return synonyms[0] if synonyms else ("X-Real-IP" if header != "X-Real-IP" else "X-HTTPS")


def slug(header):
    return header.lower()


def render():
    lines = [
        "WSGIDaemonProcess proxied threads=2",
        f"WSGIScriptAlias /e {P}/env.wsgi",
        f"WSGIScriptAlias /d {P}/env.wsgi process-group=proxied",
    ]
    for header in HEADERS:
        for peer, address in (("tp", "127.0.0.1"), ("up", "192.0.2.1")):
            for which, trusted in (("th", header), ("uh", other_trusted(header))):
                lines += [
                    f"<Location ~ \"^/(e|d)/{peer}/{which}/{slug(header)}$\">",
                    f"    WSGITrustedProxies {address} 10.0.0.0/8",
                    f"    WSGITrustedProxyHeaders {trusted}",
                    "</Location>",
                ]
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def server(module_apache):
    return module_apache(render())


@pytest.mark.parametrize("mode", ["e", "d"], ids=["embedded", "daemon"])
@pytest.mark.parametrize("peer", ["tp", "up"], ids=["trusted-peer", "untrusted-peer"])
@pytest.mark.parametrize("which", ["th", "uh"], ids=["trusted-header", "untrusted-header"])
@pytest.mark.parametrize("header", list(HEADERS))
def test_proxy_header(server, mode, peer, which, header):
    key = HEADERS[header][1]
    path = f"/{mode}/{peer}/{which}/{slug(header)}"
    # Send every header of the category, so synonyms are checked too.
    sent = {h: HEADERS[h][0] for h in CATEGORY[key]}
    r = requests.get(server.url(path), headers=sent, timeout=10)
    assert r.status_code == 200, r.text
    info = r.json()
    baseline = requests.get(server.url(path), timeout=10).json()
    trusted = header if which == "th" else other_trusted(header)
    same_category = HEADERS[trusted][1] == key
    # From a trusted peer the trusted header of the category sets the variable (in the
    # "untrusted header" case that is its trusted synonym, sent along); otherwise nothing does.
    if peer == "tp" and same_category:
        assert info[key] == HEADERS[trusted][2], (key, info)
        assert environ_key(trusted) in info["headers"]
        if key == "SCRIPT_NAME":
            assert info["mod_wsgi.mount_point"] == f"/{mode}"
    else:
        assert info[key] == baseline[key], (key, info)
        assert info["mod_wsgi.mount_point"] is None
    for h in CATEGORY[key]:
        present = environ_key(h) in info["headers"]
        if not same_category:
            assert present  # a category nobody trusts passes through untouched
        elif peer == "tp" and h == trusted:
            assert present
        else:
            assert not present, (h, info["headers"])


def test_untrusted_peer_https_header_does_not_set_https(server):
    info = requests.get(server.url("/e/up/th/x-forwarded-ssl"), headers={"X-Forwarded-SSL": "on"},
                        timeout=10).json()
    assert info["wsgi.url_scheme"] == "http" and info["HTTPS"] is None


def test_forwarded_for_skips_trusted_proxies_and_empty_elements(server):
    info = requests.get(server.url("/d/tp/th/x-forwarded-for"),
                        headers={"X-Forwarded-For": "203.0.113.5,,198.51.100.1, 10.1.2.3,"},
                        timeout=10).json()
    assert info["REMOTE_ADDR"] == "198.51.100.1"


def test_bad_directive_values_fail_the_configuration(config_test):
    rc, out = config_test("WSGITrustedProxyHeaders X-Not-A-Proxy-Header\n")
    assert rc != 0 and "X-Not-A-Proxy-Header" in out
    rc, out = config_test("WSGITrustedProxies 10.0.0.0/40\n")
    assert rc != 0 and "10.0.0.0/40" in out

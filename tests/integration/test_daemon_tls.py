"""Request bodies over TLS in daemon mode.

mod_ssl's input filter hands out transient buckets: views of its one read buffer, overwritten
by the next read. The daemon-mode Apache child sends the body on from Apache's buckets
without copying it, several reads' worth at a time, so it must set transient ones aside first;
these tests fail (the daemon process gets the last record's bytes several times over) if it
does not.
"""

import hashlib
import os
import subprocess

import pytest
import requests

from conftest import free_port

CONFIG = """
Listen 127.0.0.1:{tls_port}
<VirtualHost 127.0.0.1:{tls_port}>
    SSLEngine on
    SSLCertificateFile {cert}
    SSLCertificateKeyFile {key}
    WSGIScriptAlias /daemon-input {apps}/input.wsgi process-group=tls
    WSGIScriptAlias /input {apps}/input.wsgi
</VirtualHost>
WSGIDaemonProcess tls threads=2
"""


@pytest.fixture(scope="module")
def tls_server(module_apache, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("tls")
    cert, key = workdir / "server.crt", workdir / "server.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True, timeout=60)
    os.chmod(key, 0o644)
    port = free_port()
    config = (CONFIG.replace("{tls_port}", str(port)).replace("{cert}", str(cert))
              .replace("{key}", str(key)))
    server = module_apache(config, modules=("ssl",))
    yield server, port
    module_apache.release(server)


@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
@pytest.mark.parametrize("prefix", ["/input", "/daemon-input"])
@pytest.mark.parametrize("size", [30000, 65536, 200000])
@pytest.mark.parametrize("mode", ["all", "sha256"])
def test_a_body_over_tls_reaches_the_application_intact(tls_server, prefix, size, mode):
    _server, port = tls_server
    body = os.urandom(size)
    with requests.Session() as session:
        r = session.post(f"https://127.0.0.1:{port}{prefix}/{mode}", data=body, verify=False,
                         timeout=30)
    assert r.status_code == 200, r.text[:300]
    assert r.text == f"{size} {hashlib.sha256(body).hexdigest()}"

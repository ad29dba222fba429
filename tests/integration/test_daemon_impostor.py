"""What the Apache child does not take from whoever answers on a daemon group's socket.

The Apache child checks a daemon's response as strictly as start_response checks an
application's (the CVE-2022-37436 class: a backend must not be able to split the response
stream): hop-by-hop headers, a 1xx status, a second Content-Length and an error frame that is
not an error give 502 (WSGI0144, WSGI0147). And it sends nothing to a socket that the Apache
parent does not listen on (SO_PEERCRED): another user's socket put in place of the group's
gets 503 (WSGI0155), with the request, its cookies and the daemon secret kept from it.

The impostor here replaces the group's socket file after Apache started: as root (the
parent's own user, so the child talks to it) for the response checks, as nobody for the
listener check.
"""

import os
import socket
import struct
import subprocess
import sys
import threading

import pytest

from conftest import raw_request, split_response

CONFIG = """
WSGIDaemonProcess impostor threads=1
WSGIScriptAlias /d {apps}/hello.wsgi process-group=impostor
"""

# The wire protocol (src/daemon/protocol.hpp): 'W', version 1, type, flags, u32 length.
HEADERS, DATA, ERROR = 11, 12, 15
LAST = 0x02


def frame(kind, payload=b"", flags=0):
    return b"W\x01" + bytes([kind, flags]) + struct.pack(">I", len(payload)) + payload


def string(value):
    return struct.pack(">I", len(value)) + value


def headers_frame(status, line, headers):
    pairs = struct.pack(">I", len(headers)) + b"".join(string(k) + string(v) for k, v in headers)
    return frame(HEADERS, struct.pack(">H", status) + string(line) + b"\x00" +
                 struct.pack(">Q", 0) + pairs)


TEXT = [(b"Content-Type", b"text/plain")]
SMUGGLED = b"HTTP/1.1 200 OK\r\nX-Smuggled: 1\r\nContent-Length: 0\r\n\r\n"
REPLIES = {
    "transfer-encoding": headers_frame(200, b"200 OK", TEXT + [(b"Transfer-Encoding", b"chunked")])
    + frame(DATA, b"5\r\nhello\r\n0\r\n\r\n" + SMUGGLED, LAST),
    "connection": headers_frame(200, b"200 OK", TEXT + [(b"Connection", b"close, X-Foo")])
    + frame(DATA, b"x", LAST),
    "status-100": headers_frame(100, b"100 Continue", TEXT) + frame(DATA, SMUGGLED, LAST),
    "status-101": headers_frame(101, b"101 Switching Protocols", [(b"Upgrade", b"websocket")])
    + frame(DATA, b"x", LAST),
    "content-length-twice": headers_frame(
        200, b"200 OK", TEXT + [(b"Content-Length", b"1"), (b"Content-Length", b"30")]
    ) + frame(DATA, b"x", LAST),
    "error-frame-200": frame(ERROR, struct.pack(">H", 200) + string(b"not an error")),
}

IMPOSTOR = r"""
import os, socket, struct, sys
path, reply = sys.argv[1], bytes.fromhex(sys.argv[2])
os.unlink(path)
listener = socket.socket(socket.AF_UNIX)
listener.bind(path)
os.chmod(path, 0o777)
listener.listen(4)
listener.settimeout(15)
print("listening", flush=True)
connection, _ = listener.accept()
connection.settimeout(3)
received = b""
try:
    while len(received) < 8 or len(received) < 8 + struct.unpack(">I", received[4:8])[0]:
        data = connection.recv(65536)
        if not data:
            break
        received += data
except socket.timeout:
    pass
if received:
    connection.sendall(reply)
print("received", len(received), flush=True)
"""


def group_socket(directory):
    (path,) = [p for p in directory.iterdir() if p.suffix == ".sock"]
    return str(path)


def impersonate(server, reply: bytes, *, user=None, directory=None):
    """Starts an impostor on the group's socket path; returns the process (reads 'listening')."""
    def drop():
        if user is not None:
            os.setgid(user)
            os.setuid(user)

    process = subprocess.Popen(
        [sys.executable, "-c", IMPOSTOR, group_socket(directory or server.root / "run"),
         reply.hex()],
        preexec_fn=drop, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    assert process.stdout.readline().strip() == "listening", process.stdout.read()
    return process


def get(server, path="/d"):
    raw = raw_request(server.port, f"GET {path} HTTP/1.1\r\nHost: x\r\nCookie: session=SECRET-TOKEN\r\n"
                      "Connection: close\r\n\r\n".encode())
    return split_response(raw), raw


@pytest.mark.parametrize("case", sorted(REPLIES))
def test_daemon_response_checked_as_strictly_as_start_response(apache, case):
    server = apache(CONFIG)
    server.expect_log(r"WSGI014[47]")
    impostor = impersonate(server, REPLIES[case])
    (status, _headers, _body), raw = get(server)
    output, _ = impostor.communicate(timeout=20)
    assert "received" in output and not output.strip().endswith("received 0"), output
    assert status.split()[1] == "502", raw[:500]
    assert b"X-Smuggled" not in raw and b"X-Foo" not in raw
    server.wait_log(r"WSGI014[47]")


def test_socket_of_another_user_is_sent_nothing(apache, server_base):
    # The sockets in a directory everyone may write (WSGI0173 warns of it): nobody replaces one.
    shared = server_base / "open-sockets"
    shared.mkdir(exist_ok=True)
    os.chmod(shared, 0o777)
    server = apache(f"WSGISocketPrefix {shared}/wsgi\n" + CONFIG)
    server.expect_log(r"WSGI0155")
    impostor = impersonate(server, REPLIES["connection"], user=65534, directory=shared)
    (status, _headers, body), raw = get(server)
    output, _ = impostor.communicate(timeout=20)
    assert status.split()[1] == "503", raw[:500]
    assert "received 0" in output, output  # not the request, its cookie or the secret
    server.wait_log(r"WSGI0155: The socket .* of WSGI daemon process group 'impostor' is not "
                    r"Apache's: its listener is uid 65534 .*nothing was sent to it")


def test_socket_directory_others_can_write_is_warned_about(config_test, server_base):
    shared = server_base / "shared-sockets"
    shared.mkdir(exist_ok=True)
    os.chmod(shared, 0o777)
    sticky = server_base / "sticky-sockets"
    sticky.mkdir(exist_ok=True)
    os.chmod(sticky, 0o1777)
    rc, output = config_test(f"WSGISocketPrefix {shared}/wsgi\n" + CONFIG.replace("{apps}", "/tmp"))
    assert rc == 0, output
    assert f"WSGI0173: WSGISocketPrefix '{shared}/wsgi'" in output and "(mode 0777)" in output
    rc, output = config_test(f"WSGISocketPrefix {sticky}/wsgi\n" + CONFIG.replace("{apps}", "/tmp"))
    assert rc == 0 and "WSGI0173" not in output, output

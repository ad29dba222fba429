"""A real Flask application (apps/flaskapp) served through mod_wsgi in embedded mode.

One Apache per MPM serves every test in this module, mounted at /flask so SCRIPT_NAME and
PATH_INFO matter.
"""

import json
import uuid
from urllib.parse import urlsplit

import pytest
import requests

CONFIG = """
WSGIScriptAlias /flask {apps}/flaskapp/flask.wsgi
SetEnv FLASKDEMO_TMP {tmp}
"""


@pytest.fixture(scope="module")
def flask_server(module_apache, mpm):
    server = module_apache(CONFIG, mpm=mpm)
    yield server
    assert server.stop() == []


def get(server, path, **kwargs):
    kwargs.setdefault("timeout", 30)
    kwargs.setdefault("allow_redirects", False)
    return requests.get(server.url(path), **kwargs)


def test_plain_text_route(flask_server):
    r = get(flask_server, "/flask/hello")
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert r.text == "Hello from Flask\n"


def test_script_name_and_path_info_reach_flask(flask_server):
    r = get(flask_server, "/flask/whoami")
    assert r.status_code == 200
    assert r.json() == {"script_root": "/flask", "path": "/whoami", "method": "GET"}


def test_query_string_is_parsed(flask_server):
    r = get(flask_server, "/flask/args?a=1&b=2&b=3&q=hello%20world&u=%C3%A9t%C3%A9&empty=")
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "application/json"
    assert r.json() == {
        "a": ["1"],
        "b": ["2", "3"],
        "q": ["hello world"],
        "u": ["été"],
        "empty": [""],
    }


def test_no_query_string(flask_server):
    r = get(flask_server, "/flask/args")
    assert r.status_code == 200
    assert r.json() == {}


def test_json_post_round_trip(flask_server):
    payload = {"name": "mod_wsgi", "items": [1, 2, 3], "nested": {"ok": True, "none": None},
               "text": "ünïcödé"}
    body = json.dumps(payload).encode("utf-8")
    r = requests.post(flask_server.url("/flask/echo"), data=body,
                      headers={"Content-Type": "application/json"}, timeout=30)
    assert r.status_code == 200
    assert r.json() == {"received": payload, "content_length": len(body),
                        "content_type": "application/json"}


def test_large_json_post_is_read_completely(flask_server):
    # Far more than one socket read or one Apache brigade: wsgi.input must deliver it all.
    payload = {"rows": [{"i": i, "s": "x" * 50} for i in range(20000)]}
    r = requests.post(flask_server.url("/flask/echo"), json=payload, timeout=60)
    assert r.status_code == 200
    data = r.json()
    assert data["content_length"] > 1_000_000
    assert data["received"] == payload


def test_post_to_get_only_route_is_405(flask_server):
    r = requests.post(flask_server.url("/flask/hello"), data=b"x", timeout=30)
    assert r.status_code == 405
    assert "GET" in r.headers["Allow"]


def test_redirect(flask_server):
    r = get(flask_server, "/flask/redirect")
    assert r.status_code == 302
    assert urlsplit(r.headers["Location"]).path == "/flask/hello"
    followed = requests.get(flask_server.url("/flask/redirect"), timeout=30)
    assert followed.status_code == 200
    assert followed.text == "Hello from Flask\n"
    assert [h.status_code for h in followed.history] == [302]


def test_streamed_chunks_arrive_before_the_response_ends(flask_server):
    # The generator yields one chunk and then blocks until a second request releases it. If
    # the module buffered the response instead of sending each yielded block, the first chunk
    # would not arrive and the generator would end with "timed out" after 10 seconds.
    token = uuid.uuid4().hex
    with get(flask_server, f"/flask/stream?token={token}", stream=True) as r:
        assert r.status_code == 200
        assert r.headers["Content-Type"] == "text/plain; charset=utf-8"
        assert "Content-Length" not in r.headers
        assert r.headers.get("Transfer-Encoding") == "chunked"
        chunks = r.iter_content(chunk_size=None)
        assert next(chunks) == b"chunk 1\n"
        released = get(flask_server, f"/flask/stream/release?token={token}")
        assert released.status_code == 200
        rest = b"".join(chunks)
    assert rest == f"chunk 2: released by {token}\ndone\n".encode()


def test_unknown_url_is_flask_404(flask_server):
    r = get(flask_server, "/flask/no/such/page")
    assert r.status_code == 404
    assert r.headers["Content-Type"].startswith("text/html")
    assert "Not Found" in r.text


def test_keep_alive_connection_serves_many_requests(flask_server):
    with requests.Session() as session:
        for i in range(20):
            r = session.get(flask_server.url(f"/flask/args?i={i}"), timeout=30)
            assert r.status_code == 200
            assert r.json() == {"i": [str(i)]}

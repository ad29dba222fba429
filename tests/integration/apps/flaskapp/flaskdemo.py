"""A small Flask application exercised through mod_wsgi by tests/integration/test_flask.py.

Routes (relative to wherever WSGIScriptAlias mounts it):
  /hello                  plain text greeting
  /args?...               the query string, parsed by Flask, as JSON
  /whoami                 request.script_root / request.path as JSON (SCRIPT_NAME, PATH_INFO)
  /echo      (POST JSON)  the JSON body sent back, with its size
  /redirect               302 to /hello
  /stream?token=T         a streamed (chunked) response: one chunk, then waits until
                          /stream/release?token=T is requested, then the rest
  anything else           Flask's 404 page
"""

import os
import re
import tempfile
import time

from flask import Flask, Response, abort, jsonify, redirect, request, stream_with_context, url_for

app = Flask(__name__)

# How long /stream waits for its release before giving up (only reached when the first chunk
# never got to the client, i.e. the response was buffered instead of streamed).
RELEASE_WAIT_SECONDS = 10.0


@app.route("/hello")
def hello():
    return Response("Hello from Flask\n", mimetype="text/plain")


@app.route("/args")
def args():
    return jsonify(request.args.to_dict(flat=False))


@app.route("/whoami")
def whoami():
    return jsonify(script_root=request.script_root, path=request.path, method=request.method)


@app.route("/echo", methods=["POST"])
def echo():
    data = request.get_json()
    return jsonify(received=data, content_length=request.content_length,
                   content_type=request.content_type)


@app.route("/redirect")
def go_elsewhere():
    return redirect(url_for("hello"))


def _release_marker(token):
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", token or ""):
        abort(400)
    # The test passes a directory the Apache children may write with SetEnv; the marker is a
    # file (not an in-memory event) because the release request may reach another process.
    directory = request.environ.get("FLASKDEMO_TMP") or tempfile.gettempdir()
    return os.path.join(directory, "flaskdemo-release-" + token)


@app.route("/stream")
def stream():
    marker = _release_marker(request.args.get("token"))

    def generate():
        yield "chunk 1\n"
        deadline = time.monotonic() + RELEASE_WAIT_SECONDS
        while not os.path.exists(marker) and time.monotonic() < deadline:
            time.sleep(0.02)
        if os.path.exists(marker):
            os.unlink(marker)
            yield "chunk 2: released by %s\n" % request.args["token"]
        else:
            yield "chunk 2: timed out\n"
        yield "done\n"

    return Response(stream_with_context(generate()), mimetype="text/plain")


@app.route("/stream/release")
def release():
    marker = _release_marker(request.args.get("token"))
    with open(marker, "w"):
        pass
    return Response("released\n", mimetype="text/plain")

"""The static apps mounted by a framework, server-offered fast paths, and start-up problems."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import wsgiref.util

import pytest

from skewguard import SettingsError, Skewguard, VersionError
from skewguard.build import BuildOptions, build

from ..build.helpers import write_tree

BIG = "x" * (400 * 1024)  # over the in-memory limit: sent from the file


@pytest.fixture
def out(tmp_path):
    src = write_tree(tmp_path / "src", {"css/app.css": "a{color:red}", "js/big.js": BIG})
    out = tmp_path / "out"
    build([str(src)], str(out), BuildOptions(compress=False))
    return out


def paths(out):
    return json.loads((out / "staticfiles.json").read_text())["paths"]


def test_asgi_static_app_mounted_in_starlette(out):
    from starlette.applications import Starlette
    from starlette.routing import Mount
    from starlette.testclient import TestClient

    sg = Skewguard(static_root=str(out), vite_hot_file="")
    app = Starlette(routes=[Mount("/assets", app=sg.asgi_static())])
    client = TestClient(app)
    hashed = paths(out)["css/app.css"]
    r = client.get("/assets/" + hashed, headers={"Accept-Encoding": "identity"})
    assert r.status_code == 200 and r.text == "a{color:red}"
    assert r.headers["cache-control"].endswith("immutable")
    assert client.get("/assets/nope.css").status_code == 404


def test_wsgi_static_app_mounted_in_flask(out):
    from flask import Flask
    from werkzeug.middleware.dispatcher import DispatcherMiddleware

    sg = Skewguard(static_root=str(out), vite_hot_file="")
    flask_app = Flask("mounted")
    flask_app.wsgi_app = DispatcherMiddleware(flask_app.wsgi_app, {"/assets": sg.wsgi_static()})
    client = flask_app.test_client()
    hashed = paths(out)["css/app.css"]
    r = client.get("/assets/" + hashed)
    assert r.status_code == 200 and r.get_data() == b"a{color:red}"
    assert client.get("/assets/../staticfiles.json").status_code == 404


def test_pathsend_is_used_when_the_server_offers_it(out):
    sg = Skewguard(static_root=str(out), vite_hot_file="")
    app = sg.asgi(None)
    hashed = paths(out)["js/big.js"]
    sent = []
    scope = {
        "type": "http",
        "method": "GET",
        "path": "/static/" + hashed,
        "raw_path": b"",
        "query_string": b"",
        "headers": [],
        "extensions": {"http.response.pathsend": {}},
    }

    async def receive():
        return {"type": "http.request"}

    async def send(message):
        sent.append(message)

    # A thread of its own: Playwright's sync API (browser tests) keeps a loop running in this one.
    worker = threading.Thread(target=asyncio.run, args=(app(scope, receive, send),))
    worker.start()
    worker.join()
    assert sent[0]["status"] == 200
    assert sent[1] == {"type": "http.response.pathsend", "path": str((out / hashed).resolve())}


def test_wsgi_file_wrapper_is_used_when_the_server_offers_it(out):
    sg = Skewguard(static_root=str(out), vite_hot_file="")
    app = sg.wsgi_static()
    hashed = paths(out)["js/big.js"]
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/" + hashed}
    wsgiref.util.setup_testing_defaults(environ)
    wrapped = []
    environ["wsgi.file_wrapper"] = lambda fh, size: (
        wrapped.append(fh) or wsgiref.util.FileWrapper(fh, size)
    )
    statuses = []
    body = b"".join(app(environ, lambda status, headers: statuses.append(status)))
    assert statuses == ["200 OK"] and body == BIG.encode() and len(wrapped) == 1


def test_start_up_problems_are_one_line(tmp_path, caplog):
    with pytest.raises(VersionError) as exc:
        Skewguard(static_root=str(tmp_path / "not-built"), vite_hot_file="")
    assert "skewguard build" in str(exc.value) and "\n" not in str(exc.value)
    with pytest.raises(SettingsError, match="APP_VERSION_MISMATCH"):
        Skewguard(app_version_mismatch="sometimes")
    with caplog.at_level(logging.WARNING, logger="skewguard"):
        Skewguard(app_version="1.0", manifest_required=False, vite_hot_file="")
    assert "no SECRET_KEY" in caplog.text

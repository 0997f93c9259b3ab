"""/version beats, /metrics and the status page through the real ASGI and WSGI adapters
(Starlette and Flask), with the counters a deploy moves: 409s, honoured holds, busts."""

from __future__ import annotations

import httpx
import pytest
from flask import Flask
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from skewguard import Skewguard
from skewguard.tokens import make_token

from ..build.helpers import build_small_site

SETTINGS = {
    "secret_key": "s3cret",
    "metrics_path": "/metrics",
    "status_path": "/_skewguard/status",
    "status_token": "status-token",
    "vite_hot_file": "",
}
AUTH = {"Authorization": "Bearer status-token"}


def starlette_client(out) -> tuple[Skewguard, TestClient]:
    guard = Skewguard(static_root=str(out), **SETTINGS)

    async def page(request):
        return JSONResponse({"component": "Home"})

    return guard, TestClient(guard.asgi(Starlette(routes=[Route("/", page)])))


def flask_client(out) -> tuple[Skewguard, httpx.Client]:
    guard = Skewguard(static_root=str(out), **SETTINGS)
    app = Flask("beats")
    app.get("/")(lambda: {"component": "Home"})
    app.wsgi_app = guard.wsgi(app.wsgi_app)  # type: ignore[method-assign]
    return guard, httpx.Client(transport=httpx.WSGITransport(app=app), base_url="http://test")


@pytest.mark.parametrize("make", [starlette_client, flask_client], ids=["asgi", "wsgi"])
def test_beats_metrics_and_status_through_the_adapters(tmp_path, make):
    _, out = build_small_site(tmp_path, "out")
    guard, client = make(out)
    version = guard.version
    plain = client.get("/version").json()
    with_beat = client.get(f"/version?tid=tab-000001&rel={version}&held=form")
    assert with_beat.status_code == 200 and with_beat.json() == plain  # the same answer
    client.get("/version?tid=tab-000002&rel=forged-release")

    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.post("/metrics", headers=AUTH).status_code == 405
    signed = {"Authorization": "Bearer " + make_token("s3cret", 60)}
    text = client.get("/metrics", headers=signed).text  # a signed bust token works too
    assert f'skewguard_live_tabs{{release="{version}"}} 1.0' in text
    assert f'skewguard_held_tabs{{reason="form",release="{version}"}} 1.0' in text
    assert "skewguard_dropped_beats 1.0" in text
    assert "forged-release" not in text

    # Inertia requests from an older release: one held (answered), one not (409).
    old = "0123456789ab"
    inertia = {"X-Inertia": "true", "X-Inertia-Version": old}
    assert client.get("/", headers=inertia).status_code == 409
    held = client.get("/", headers={**inertia, "X-Skewguard-Hold": old})
    assert held.status_code == 200
    assert client.post("/cache/bust", headers=signed).status_code == 200
    text = client.get("/metrics", headers=AUTH).text
    assert "skewguard_conflicts_total 1.0" in text
    assert "skewguard_holds_honoured_total 1.0" in text
    assert "skewguard_busts_total 1.0" in text

    page = client.get("/_skewguard/status?token=status-token")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert page.text.count('class="series"') == 1 and "<svg" in page.text
    document = client.get("/_skewguard/status?format=json", headers=AUTH).json()
    assert [(r["version"], r["live"], r["reasons"]) for r in document["releases"]] == [
        (version, 1, {"form": 1})
    ]
    assert client.get("/_skewguard/status").status_code == 401


def test_telemetry_off_counts_nothing(tmp_path):
    _, out = build_small_site(tmp_path, "out")
    guard = Skewguard(static_root=str(out), telemetry=False, vite_hot_file="")
    client = TestClient(guard.asgi(Starlette()))
    client.get(f"/version?tid=tab-000001&rel={guard.version}")
    assert guard.telemetry is None
    assert client.get("/metrics").status_code == 404  # no METRICS_PATH: the app's own 404


def test_framework_routes_count_beats(tmp_path):
    """The Flask extension and the Starlette routes answer /version themselves: they count too."""
    from flask import Flask
    from starlette.middleware import Middleware

    from skewguard.contrib.flask import Skewguard as FlaskSkewguard
    from skewguard.contrib.starlette import SkewguardMiddleware, routes

    _, out = build_small_site(tmp_path, "out")
    app = Flask("ext", static_folder=None)
    app.config.update(
        SECRET_KEY="s3cret", SKEWGUARD_STATIC_ROOT=str(out), SKEWGUARD_VITE_HOT_FILE=""
    )
    ext = FlaskSkewguard(app)
    flask_client = app.test_client()
    version = ext.guard.version
    assert flask_client.get(f"/version?tid=tab-flask-1&rel={version}").status_code == 200
    assert ext.guard.telemetry is not None
    assert ext.guard.telemetry.report().get(version).live == 1

    sg = Skewguard(static_root=str(out), vite_hot_file="")
    star = Starlette(
        routes=[*routes(sg)],
        middleware=[Middleware(SkewguardMiddleware, guard=sg, endpoints=False)],
    )
    assert (
        TestClient(star).get(f"/version?tid=tab-star-1&rel={version}&held=call").status_code == 200
    )
    assert sg.telemetry is not None
    assert sg.telemetry.report().get(version).held == 1

"""Every skewguard endpoint answers under the real Litestar app: /version, /cache/bust,
METRICS_PATH, STATUS_PATH and one added with ``Skewguard.add_endpoint`` (Litestar runs app
middleware only on matched routes, so each needs a route)."""

from __future__ import annotations

from litestar import Litestar, get
from litestar.testing import TestClient

from skewguard import Skewguard
from skewguard.contrib.litestar import SkewguardPlugin
from skewguard.protocol import json_response
from skewguard.tokens import make_token

from ..build.helpers import build_small_site

AUTH = {"Authorization": "Bearer status-token"}


@get("/")
async def home() -> dict[str, str]:
    return {"page": "home"}


def test_every_endpoint_answers_under_litestar(tmp_path):
    _, out = build_small_site(tmp_path, "out")
    guard = Skewguard(
        static_root=str(out),
        secret_key="s3cret",
        metrics_path="/metrics",
        status_path="/ops/status",
        status_token="status-token",
        vite_hot_file="",
    )
    guard.add_endpoint("/ops/ping", lambda request, state: json_response(200, {"pong": True}))
    app = Litestar(route_handlers=[home], plugins=[SkewguardPlugin(guard)])
    version = guard.version
    with TestClient(app=app) as client:
        assert client.get("/").json() == {"page": "home"}  # the app's own route is untouched
        plain = client.get("/version").json()
        assert plain["version"] == version
        assert client.get(f"/version?tid=tab-litestar-1&rel={version}&held=call").json() == plain
        assert client.post("/cache/bust").status_code == 401
        signed = {"Authorization": "Bearer " + make_token("s3cret", 60)}
        assert client.post("/cache/bust", headers=signed).json()["status"] == "ok"

        assert client.get("/metrics").status_code == 401
        assert client.post("/metrics", headers=AUTH).status_code == 405
        metrics = client.get("/metrics", headers=AUTH)
        assert metrics.status_code == 200
        assert metrics.headers["content-type"].startswith("text/plain; version=")
        assert f'skewguard_live_tabs{{release="{version}"}} 1.0' in metrics.text
        assert f'skewguard_held_tabs{{reason="call",release="{version}"}} 1.0' in metrics.text
        assert "skewguard_busts_total 1.0" in metrics.text

        assert client.get("/ops/status").status_code == 401
        document = client.get("/ops/status?format=json", headers=AUTH).json()
        (entry,) = [r for r in document["releases"] if r["version"] == version]
        assert (entry["live"], entry["held"], entry["reasons"]) == (1, 1, {"call": 1})
        page = client.get("/ops/status?token=status-token")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert "<svg" in page.text and 'class="series"' in page.text

        assert client.get("/ops/ping").json() == {"pong": True}
        assert client.get("/ops/elsewhere").status_code == 404  # no route: still Litestar's 404


@get("/robots.txt", sync_to_thread=False)
def apps_robots() -> str:
    return "the app's robots"


def test_root_files_under_litestar_beside_a_route_of_the_app(tmp_path):
    """ROOT_FILES_DIR's files get routes when the app starts, except where the app routes the
    path itself: there skewguard's middleware answers the file first, as in every adapter (the
    app used to fail to start: two handlers for one path)."""
    _, out = build_small_site(tmp_path, "out")
    root = tmp_path / "root"
    (root / ".well-known").mkdir(parents=True)
    (root / "robots.txt").write_text("User-agent: *\n")
    (root / ".well-known" / "security.txt").write_text("Contact: ops@example.invalid\n")
    guard = Skewguard(static_root=str(out), root_files_dir=str(root), vite_hot_file="")
    app = Litestar(route_handlers=[home, apps_robots], plugins=[SkewguardPlugin(guard)])
    with TestClient(app=app) as client:
        assert client.get("/").json() == {"page": "home"}
        robots = client.get("/robots.txt")
        assert robots.status_code == 200 and robots.text == "User-agent: *\n"
        security = client.get("/.well-known/security.txt")
        assert security.text == "Contact: ops@example.invalid\n"
        assert security.headers["cache-control"] == "no-cache"
        assert client.get("/missing.txt").status_code == 404

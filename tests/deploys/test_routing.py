"""Version routing: the pure decision, the middleware (Starlette, Flask), and real nginx running
the configuration `skewguard nginx-config` generates, in front of a blue and a green server."""

from __future__ import annotations

import json
import subprocess

import httpx
import pytest

from skewguard.routing import RoutingError, VersionRouter, decide_route

from ..conftest import require_tool, run_cli
from ..processes import free_port, stop, wait_for_http

MAP = {"v1": "backend-blue", "v2": "backend-green"}
HOSTILE = ['v1"}', "v1 v2", "x" * 65, "../../etc", "v1;rm", "<script>", "v\u00e9"]


def test_decisions():
    assert decide_route(None, None, MAP, "v1").target == "backend-blue"
    assert decide_route("v2", None, MAP, "v1").target == "backend-green"
    assert decide_route(None, "a=1; app_version=v2", MAP, "v1").target == "backend-green"
    assert (
        decide_route("v1", "app_version=v2", MAP, "v1").target == "backend-blue"
    )  # the header wins
    unknown = decide_route("v3", None, MAP, "v1")
    assert unknown.status == 409 and json.loads(unknown.body) == {
        "error": "unknown version",
        "requested": "v3",
        "available": ["v1", "v2"],
    }
    for value in HOSTILE:
        refused = decide_route(value, None, MAP, "v1")
        assert refused.status == 400 and value.encode("utf-8", "replace") not in refused.body
    with pytest.raises(RoutingError):
        VersionRouter({"v1;x": "b"}, "v1;x")
    with pytest.raises(RoutingError, match="default"):
        VersionRouter(MAP, "v9")


def test_asgi_and_wsgi_middleware():
    from flask import Flask
    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route
    from starlette.testclient import TestClient

    router = VersionRouter(MAP, "v1")

    async def home(request):
        return PlainTextResponse(request.scope["state"]["backend_target"])

    asgi = TestClient(router.asgi(Starlette(routes=[Route("/", home)])))
    flask_app = Flask("routed")
    flask_app.add_url_rule("/", "home", lambda: "ok")
    flask_app.wsgi_app = router.wsgi(flask_app.wsgi_app)
    wsgi = flask_app.test_client()
    for get in (lambda h: asgi.get("/", headers=h), lambda h: wsgi.get("/", headers=h)):
        assert get({"X-App-Requested-Version": "v2"}).headers["x-backend-target"] == "backend-green"
        assert get({"Cookie": "app_version=v1"}).headers["x-backend-target"] == "backend-blue"
        assert get({"X-App-Requested-Version": "v9"}).status_code == 409
        assert get({"X-App-Requested-Version": "x" * 100}).status_code == 400


class Front(str):
    """The nginx base URL, knowing the green backend's port."""

    green_port: int

    def __new__(cls, base: str, green_port: int) -> Front:
        front = super().__new__(cls, base)
        front.green_port = green_port
        return front


@pytest.fixture
def nginx_front(tmp_path, app_servers):
    nginx = require_tool("nginx")
    blue = app_servers(APP_VERSION="v1", MANIFEST_REQUIRED="false")
    green = app_servers(APP_VERSION="v2", MANIFEST_REQUIRED="false")
    port = free_port()
    generated = run_cli(
        "nginx-config",
        "--backend",
        f"v1=127.0.0.1:{blue.port}",
        "--backend",
        f"v2=127.0.0.1:{green.port}",
        "--default",
        "v1",
        "--listen",
        f"127.0.0.1:{port}",
    )
    assert generated.returncode == 0, generated.stderr
    (tmp_path / "skewguard.conf").write_text(generated.stdout)
    temp = f"{tmp_path}/tmp"
    (tmp_path / "nginx.conf").write_text(f"""
worker_processes 1;
daemon off;
pid {tmp_path}/nginx.pid;
error_log {tmp_path}/error.log;
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {temp}; proxy_temp_path {temp}; fastcgi_temp_path {temp};
    uwsgi_temp_path {temp}; scgi_temp_path {temp};
    include {tmp_path}/skewguard.conf;
}}
""")
    (tmp_path / "tmp").mkdir()
    test = subprocess.run(
        [nginx, "-t", "-c", str(tmp_path / "nginx.conf"), "-p", str(tmp_path)],
        capture_output=True,
        text=True,
    )
    assert test.returncode == 0, test.stderr
    proc = subprocess.Popen(
        [nginx, "-c", str(tmp_path / "nginx.conf"), "-p", str(tmp_path)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    wait_for_http(base + "/version", proc, "nginx")
    yield Front(base, green.port)
    stop(proc)


def test_nginx_routes_by_header_and_cookie(nginx_front):
    def version(**kwargs) -> httpx.Response:
        return httpx.get(nginx_front + "/version", timeout=5, **kwargs)

    assert version().json()["version"] == "v1"  # the default
    green = version(headers={"X-App-Requested-Version": "v2"})
    assert green.json()["version"] == "v2"
    assert green.headers["x-backend-target"] == f"127.0.0.1:{nginx_front.green_port}"
    assert version(cookies={"app_version": "v2"}).json()["version"] == "v2"
    assert (
        version(headers={"X-App-Requested-Version": "v1"}, cookies={"app_version": "v2"}).json()[
            "version"
        ]
        == "v1"
    )
    unknown = version(headers={"X-App-Requested-Version": "v3"})
    assert unknown.status_code == 409
    assert unknown.json() == {
        "error": "unknown version",
        "requested": "v3",
        "available": ["v1", "v2"],
    }


def test_nginx_rejects_hostile_values_before_any_backend(nginx_front):
    for value in HOSTILE:
        raw = value.encode("utf-8")
        response = httpx.get(
            nginx_front + "/version", headers=[(b"X-App-Requested-Version", raw)], timeout=5
        )
        assert response.status_code == 400, value
        assert (
            raw not in response.content and "x-app-version" not in response.headers
        )  # no backend answered
        by_cookie = httpx.get(
            nginx_front + "/version",
            headers=[(b"Cookie", b"app_version=" + raw.replace(b";", b"%3B"))],
            timeout=5,
        )
        assert by_cookie.status_code in (400, 409) and "x-app-version" not in by_cookie.headers


def test_nginx_config_from_the_registry(tmp_path):
    from skewguard.releases import FileRegistry

    path = str(tmp_path / "registry.json")
    registry = FileRegistry(path)
    for version in ("r1", "r2", "r3"):
        registry.register(version)
    registry.activate("r2")
    registry.retire("r1")
    result = run_cli(
        "nginx-config", "--registry-path", path, "--backend-pattern", "app-{version}:8000"
    )
    assert result.returncode == 0, result.stderr
    assert "upstream skewguard_0_r2 { server app-r2:8000; }" in result.stdout
    assert "upstream skewguard_1_r3 { server app-r3:8000; }" in result.stdout
    assert "app-r1" not in result.stdout  # retired: not routable
    assert '""      skewguard_0_r2;' in result.stdout  # the active release is the default
    bad = run_cli("nginx-config", "--registry-path", path, "--backend-pattern", "app:8000")
    assert bad.returncode == 1 and "{version}" in bad.stderr


def test_nginx_config_refuses_what_would_inject_directives():
    listen = run_cli("nginx-config", "--backend", "v1=127.0.0.1:1", "--default", "v1")
    assert listen.returncode == 0
    for bad in ["80; include /etc/passwd", "80 default_server", "a:b:c"]:
        result = run_cli(
            "nginx-config", "--backend", "v1=127.0.0.1:1", "--default", "v1", "--listen", bad
        )
        assert result.returncode == 1 and "--listen" in result.stderr, result.stderr
    backend = run_cli("nginx-config", "--backend", "v1=127.0.0.1:1; x", "--default", "v1")
    assert backend.returncode == 1 and "host:port" in backend.stderr


def test_asgi_router_strips_whitespace_around_header_values() -> None:
    """httptools passes ``" v2 "`` as sent where h11 and nginx strip it: the router agrees."""
    import asyncio
    import threading

    from skewguard.routing import VersionRouter

    seen: list[dict] = []

    async def app(scope, receive, send):
        seen.append(scope)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    router = VersionRouter(version_map={"v1": "blue", "v2": "green"}, default_version="v1")
    sent: list[dict] = []

    async def send(message):
        sent.append(message)

    async def receive():
        return {"type": "http.request", "body": b""}

    scope = {
        "type": "http",
        "method": "GET",
        "path": "/",
        "headers": [(b"x-app-requested-version", b" v2\t")],
    }
    # In a thread of its own: the browser tests' Playwright keeps a loop running in this one.
    worker = threading.Thread(target=asyncio.run, args=(router.asgi(app)(scope, receive, send),))
    worker.start()
    worker.join()
    assert sent[0]["status"] == 200
    assert seen[0]["state"]["backend_target"] == "green"
    assert (b"x-backend-target", b"green") in sent[0]["headers"]

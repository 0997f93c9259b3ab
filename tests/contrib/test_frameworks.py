"""The Flask extension and the Starlette/FastAPI integration, against the real frameworks; and
the example apps, started with their documented command."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time

import httpx
import pytest
from litestar.response import Template  # module level: Litestar resolves handler annotations here

from skewguard.tokens import make_token

from ..build.helpers import build_small_site
from ..conftest import ROOT
from ..processes import free_port, stop, wait_for_http


@pytest.fixture
def dist(tmp_path):
    return build_small_site(tmp_path, "dist")


def hashed(out, name: str) -> str:
    return json.loads((out / "staticfiles.json").read_text())["paths"][name]


def check_app(get, post, out, version: str) -> None:
    """What every integration must show, through the framework's own test client."""
    page = get("/", {})
    assert page.status_code == 200 and page.headers["x-app-version"] == version
    assert f"/static/{hashed(out, 'css/app.css')}" in page.text  # hashed URL in the template
    assert "data-skewguard" in page.text  # the client injected
    conflict = get("/", {"X-Inertia": "true", "X-Inertia-Version": "old"})
    assert conflict.status_code == 409 and conflict.headers["x-inertia-location"] == "/"
    body = get("/version", {}).json()
    assert body["version"] == version and get("/version", {}).headers["cache-control"] == "no-store"
    assert post("/cache/bust", {}).status_code == 401
    assert (
        post("/cache/bust", {"Authorization": "Bearer " + make_token("s3cret", 60)}).json()[
            "status"
        ]
        == "ok"
    )
    static = get("/static/" + hashed(out, "css/app.css"), {"Accept-Encoding": "identity"})
    assert static.status_code == 200 and static.headers["cache-control"].endswith("immutable")


TEMPLATE = "<html><head><link rel=stylesheet href=\"{{ static('css/app.css') }}\"></head><body>{{ app_version() }}</body></html>"


def test_flask_extension(dist, tmp_path):
    from flask import Flask, render_template_string

    from skewguard.contrib.flask import Skewguard
    from skewguard.releases import FileRegistry

    _, out = dist
    app = Flask("ext", static_folder=None)
    app.config.update(
        SECRET_KEY="s3cret",
        APP_VERSION_MISMATCH="defer",
        SKEWGUARD_STATIC_ROOT=str(out),
        SKEWGUARD_VITE_HOT_FILE="",
    )
    # The release before this one, still retained (the registry lists it before this server's).
    FileRegistry(str(out / ".skewguard" / "registry.json")).register("old", activate_if_first=False)
    ext = Skewguard(app)
    app.add_url_rule("/", "home", lambda: render_template_string(TEMPLATE))
    client = app.test_client()

    class R:  # the same reply shape as httpx for check_app
        def __init__(self, r):
            self.status_code, self.headers, self.text = (
                r.status_code,
                {k.lower(): v for k, v in r.headers.items()},
                r.get_data(as_text=True),
            )

        def json(self):
            return json.loads(self.text)

    # Configured from app.config (the seed's names and SKEWGUARD_*).
    assert (
        ext.guard.settings.APP_VERSION_MISMATCH == "defer"
        and app.extensions["skewguard"] is ext.guard
    )
    # An older release the registry retains is stale, and under defer never forced; a version
    # nothing here knows must reload, whatever the policy.
    stale = client.get("/", headers={"X-Inertia": "true", "X-Inertia-Version": "old"})
    assert stale.status_code == 200 and stale.headers["X-App-Stale"] == "1"  # defer: never forced
    unknown = client.get("/", headers={"X-Inertia": "true", "X-Inertia-Version": "unheard-of"})
    assert unknown.status_code == 409
    app2 = Flask("ext2", static_folder=None)
    app2.config.update(
        SECRET_KEY="s3cret", SKEWGUARD_STATIC_ROOT=str(out), SKEWGUARD_VITE_HOT_FILE=""
    )
    Skewguard(app2)
    app2.add_url_rule("/", "home", lambda: render_template_string(TEMPLATE))
    c2 = app2.test_client()
    check_app(
        lambda p, h: R(c2.get(p, headers=h)),
        lambda p, h: R(c2.post(p, headers=h)),
        out,
        app2.extensions["skewguard"].version,
    )
    with app2.test_request_context():
        from flask import url_for

        assert url_for("skewguard.version") == "/version"
    # flask skewguard ... commands
    runner = app2.test_cli_runner()
    assert runner.invoke(args=["skewguard", "version", str(out)]).output.startswith(
        app2.extensions["skewguard"].version
    )
    token = runner.invoke(args=["skewguard", "token", "--ttl", "10m"]).output.strip()
    assert 570 <= int(token.split(".")[1]) - time.time() <= 600  # 10m is 600 s, not 10
    assert c2.post("/cache/bust", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    built = runner.invoke(
        args=["skewguard", "build", str(dist[0]), "--out", str(tmp_path / "again"), "-q"]
    )
    assert built.exit_code == 0 and (tmp_path / "again" / "staticfiles.json").exists()


def test_starlette_integration(dist):
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.routing import Route
    from starlette.templating import Jinja2Templates
    from starlette.testclient import TestClient

    from skewguard import Skewguard
    from skewguard.contrib.starlette import (
        SkewguardMiddleware,
        install_templates,
        routes,
        static_mount,
    )

    _, out = dist
    sg = Skewguard(static_root=str(out), secret_key="s3cret", vite_hot_file="")
    import jinja2

    templates = Jinja2Templates(
        env=jinja2.Environment(loader=jinja2.DictLoader({"index.html": TEMPLATE}), autoescape=True)
    )
    install_templates(templates, sg)

    async def home(request):
        return templates.TemplateResponse(request, "index.html", {})

    app = Starlette(
        routes=[Route("/", home), *routes(sg), static_mount(sg)],
        middleware=[Middleware(SkewguardMiddleware, guard=sg, endpoints=False)],
    )
    client = TestClient(app)
    check_app(
        lambda p, h: client.get(p, headers=h),
        lambda p, h: client.post(p, headers=h),
        out,
        sg.version,
    )
    assert app.url_path_for("skewguard_version") == "/version"
    assert app.url_path_for("static", path="/css/app.css") == "/static/css/app.css"


def test_fastapi_add_middleware(dist):
    import fastapi
    from starlette.testclient import TestClient

    from skewguard import Skewguard
    from skewguard.contrib.starlette import SkewguardMiddleware

    _, out = dist
    sg = Skewguard(static_root=str(out), secret_key="s3cret", vite_hot_file="")
    app = fastapi.FastAPI()
    app.add_middleware(SkewguardMiddleware, guard=sg)

    @app.get("/api")
    def api():
        return {"ok": True}

    client = TestClient(app)
    assert client.get("/api").headers["x-app-version"] == sg.version
    assert client.get("/version").json()["version"] == sg.version


@pytest.mark.parametrize("example", ["starlette", "flask", "litestar", "django"])
def test_example_boots_with_its_documented_command(example):
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "examples" / example / "app.py"), str(port)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        wait_for_http(f"http://127.0.0.1:{port}/version", proc, f"examples/{example}")
        page = httpx.get(f"http://127.0.0.1:{port}/")
        assert page.status_code == 200 and page.headers["x-app-version"]
        assert (
            re.search(r"/static/css/app\.[0-9a-f]{12}\.css", page.text)
            and "data-skewguard" in page.text
        )
        htmx = re.search(r"/static/vendor/htmx\.min\.[0-9a-f]{12}\.js", page.text)  # hashed, served
        assert htmx and httpx.get(f"http://127.0.0.1:{port}{htmx.group(0)}").status_code == 200
    finally:
        stop(proc)


def test_litestar_plugin(dist, tmp_path):
    import click
    from click.testing import CliRunner
    from litestar import Litestar, get
    from litestar.plugins.jinja import JinjaTemplateEngine
    from litestar.template.config import TemplateConfig
    from litestar.testing import TestClient

    from skewguard.contrib.litestar import SkewguardPlugin

    _, out = dist
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "index.html").write_text(TEMPLATE + "<!-- {{ vite_version }} -->")

    @get("/")
    async def home() -> Template:
        return Template(template_name="index.html")

    plugin = SkewguardPlugin(static_root=str(out), secret_key="s3cret", vite_hot_file="")
    app = Litestar(
        route_handlers=[home],
        plugins=[plugin],
        template_config=TemplateConfig(
            directory=tmp_path / "templates", engine=JinjaTemplateEngine
        ),
    )
    with TestClient(app=app) as client:
        check_app(
            lambda p, h: client.get(p, headers=h),
            lambda p, h: client.post(p, headers=h),
            out,
            plugin.guard.version,
        )
        assert f"<!-- {plugin.guard.version} -->" in client.get("/").text  # {{ vite_version }}
        assert app.route_reverse("skewguard_version") == "/version"
    group = click.Group("litestar")
    plugin.on_cli_init(group)
    result = CliRunner().invoke(group, ["skewguard", "version", str(out)])
    assert result.exit_code == 0 and result.output.startswith(plugin.guard.version)
    token = CliRunner().invoke(group, ["skewguard", "token", "--ttl", "60"]).output.strip()
    assert token.startswith("v1.")


def test_litestar_vite_inertia_agrees_with_skewguard(tmp_path):
    from litestar import Litestar, get
    from litestar.plugins.jinja import JinjaTemplateEngine
    from litestar.template.config import TemplateConfig
    from litestar.testing import TestClient
    from litestar_vite import PathConfig, ViteConfig, VitePlugin
    from litestar_vite.inertia import InertiaConfig

    from skewguard.contrib.litestar import SkewguardPlugin

    manifest = {
        "src/main.js": {"file": "assets/main-abc12345.js", "isEntry": True, "src": "src/main.js"}
    }
    (tmp_path / "public" / ".vite").mkdir(parents=True)
    (tmp_path / "public" / "manifest.json").write_text(json.dumps(manifest))
    (tmp_path / "public" / ".vite" / "manifest.json").write_text(json.dumps(manifest, indent=2))
    (tmp_path / "src").mkdir()
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "index.html").write_text(
        "<!doctype html><html><head></head><body><div id='app' data-page='{{ inertia | safe }}'></div></body></html>"
    )
    vite = VitePlugin(
        config=ViteConfig(
            mode="template",
            dev_mode=False,
            inertia=InertiaConfig(root_template="index.html"),
            paths=PathConfig(
                root=tmp_path, bundle_dir=tmp_path / "public", resource_dir=tmp_path / "src"
            ),
        )
    )
    sg = SkewguardPlugin(
        manifest_path=str(tmp_path / "public" / ".vite" / "manifest.json"),
        secret_key="s3cret",
        vite_hot_file="",
    )

    @get("/", component="Home", sync_to_thread=False)
    def home() -> dict:
        return {"likes": 1}

    app = Litestar(
        route_handlers=[home],
        plugins=[vite, sg],
        template_config=TemplateConfig(
            directory=tmp_path / "templates", engine=JinjaTemplateEngine
        ),
    )
    with TestClient(app=app) as client:
        version = sg.guard.version
        assert sg.guard.version_source == "vite-manifest"
        page = client.get("/")
        data = json.loads(re.search(r"data-page='([^']+)'", page.text).group(1))
        assert data["version"] == version == page.headers["x-app-version"]  # one source of truth
        current = client.get("/", headers={"X-Inertia": "true", "X-Inertia-Version": version})
        assert current.status_code == 200 and current.json()["version"] == version
        held = client.get(
            "/",
            headers={"X-Inertia": "true", "X-Inertia-Version": "old", "X-Skewguard-Hold": "old"},
        )
        assert (
            held.status_code == 200 and held.headers["x-app-stale"] == "1"
        )  # litestar-vite agreed
        forced = client.get("/", headers={"X-Inertia": "true", "X-Inertia-Version": "old"})
        assert (
            forced.status_code == 409 and forced.headers["x-inertia-version"] == version
        )  # skewguard's 409


DEV_TEMPLATE = "<html><head></head><body>{{ static_url('css/app.css') }}</body></html>"


def check_dev(get) -> None:
    """Dev mode through the framework: ?v=<content hash> URLs, and never a 409."""
    page = get("/", {})
    assert re.search(r"/static/css/app\.css\?v=[0-9a-f]{12}", page.text), page.text
    assert get("/", {"X-Inertia": "true", "X-Inertia-Version": "old"}).status_code == 200


def test_dev_mode_in_each_framework(dist, tmp_path):
    from flask import Flask, render_template_string
    from litestar import Litestar, get
    from litestar.plugins.jinja import JinjaTemplateEngine
    from litestar.template.config import TemplateConfig
    from litestar.testing import TestClient as LitestarClient
    from starlette.applications import Starlette
    from starlette.responses import HTMLResponse
    from starlette.routing import Route
    from starlette.testclient import TestClient

    from skewguard import Skewguard as Guard
    from skewguard.contrib.flask import Skewguard as FlaskSkewguard
    from skewguard.contrib.litestar import SkewguardPlugin

    src, _ = dist
    dev = {
        "debug": True,
        "static_dirs": [str(src)],
        "manifest_required": False,
        "vite_hot_file": "",
    }

    app = Flask("dev", static_folder=None)
    app.config.update(SECRET_KEY="s3cret", **{f"SKEWGUARD_{k.upper()}": v for k, v in dev.items()})
    FlaskSkewguard(app)
    app.add_url_rule("/", "home", lambda: render_template_string(DEV_TEMPLATE))
    flask_client = app.test_client()
    check_dev(
        lambda p, h: type(
            "R",
            (),
            {
                "text": (r := flask_client.get(p, headers=h)).get_data(as_text=True),
                "status_code": r.status_code,
            },
        )
    )

    sg = Guard(**dev)

    async def home(request):
        return HTMLResponse(
            f"<html><head></head><body>{sg.static_url('css/app.css')}</body></html>"
        )

    check_dev(
        lambda p, h: TestClient(sg.asgi(Starlette(routes=[Route("/", home)]))).get(p, headers=h)
    )

    (tmp_path / "tpl").mkdir()
    (tmp_path / "tpl" / "index.html").write_text(DEV_TEMPLATE)

    @get("/")
    async def litestar_home() -> Template:
        return Template(template_name="index.html")

    litestar_app = Litestar(
        route_handlers=[litestar_home],
        plugins=[SkewguardPlugin(**dev)],
        template_config=TemplateConfig(directory=tmp_path / "tpl", engine=JinjaTemplateEngine),
    )
    with LitestarClient(app=litestar_app) as client:
        check_dev(lambda p, h: client.get(p, headers=h))

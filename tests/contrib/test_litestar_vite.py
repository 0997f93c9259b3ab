"""Litestar with skewguard's plugin and litestar-vite's, as their docs set them up: one owner of
/static, the browser client served, and a bust that switches litestar-vite's asset tags."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import pytest

from skewguard.build import BuildOptions, build
from skewguard.tokens import make_token

TEMPLATE = (
    "<!doctype html><html><head>{{ vite('src/main.js') }}</head>"
    "<body><div id='app' data-page='{{ inertia | safe }}'></div></body></html>"
)


def vite_release(root: Path, n: int) -> None:
    """What ``vite build`` writes into public/ for release ``n``, then ``skewguard build`` into
    dist/ (Vite's hashed names pass through; earlier releases stay retained)."""
    public = root / "public"
    (public / ".vite").mkdir(parents=True, exist_ok=True)
    (public / "assets").mkdir(exist_ok=True)
    for old in (public / "assets").iterdir():
        old.unlink()  # Vite empties its outDir
    (public / "assets" / f"main-{n:08d}.js").write_text(f"window.release = {n};\n")
    manifest = {
        "src/main.js": {"file": f"assets/main-{n:08d}.js", "isEntry": True, "src": "src/main.js"}
    }
    (public / ".vite" / "manifest.json").write_text(json.dumps(manifest))
    build([str(public)], str(root / "dist"), BuildOptions(compress=False))


def make_app(root: Path, vite_first: bool, skewguard_serves: bool = True):
    from litestar import Litestar, get
    from litestar.plugins.jinja import JinjaTemplateEngine
    from litestar.template.config import TemplateConfig
    from litestar_vite import PathConfig, ViteConfig, VitePlugin
    from litestar_vite.inertia import InertiaConfig

    from skewguard.contrib.litestar import SkewguardPlugin

    (root / "templates").mkdir(exist_ok=True)
    (root / "templates" / "index.html").write_text(TEMPLATE)
    (root / "src").mkdir(exist_ok=True)
    vite = VitePlugin(
        config=ViteConfig(
            mode="template",
            dev_mode=False,
            inertia=InertiaConfig(root_template="index.html"),
            paths=PathConfig(
                root=root, bundle_dir=root / "public", resource_dir=root / "src"
            ),  # litestar-vite's default asset_url is /static/, as skewguard's STATIC_URL
        )
    )
    where = (
        {"static_root": str(root / "dist")}
        if skewguard_serves  # else litestar-vite serves public/ and skewguard reads its manifest
        else {"manifest_path": str(root / "public" / ".vite" / "manifest.json")}
    )
    sg = SkewguardPlugin(**where, secret_key="s3cret", vite_hot_file="")

    @get("/", component="Home", sync_to_thread=False)
    def home() -> dict:
        return {"likes": 1}

    app = Litestar(
        route_handlers=[home],
        plugins=[vite, sg] if vite_first else [sg, vite],
        template_config=TemplateConfig(directory=root / "templates", engine=JinjaTemplateEngine),
    )
    return app, sg


def bust(client) -> dict:
    return client.post(
        "/cache/bust", headers={"Authorization": "Bearer " + make_token("s3cret", 60)}
    ).json()


def page_data(html: str) -> dict:
    return json.loads(re.search(r"data-page='([^']+)'", html).group(1).replace("&#34;", '"'))


@pytest.mark.parametrize("vite_first", [True, False], ids=["vite-first", "skewguard-first"])
def test_one_owner_of_static_and_the_client_served(tmp_path, vite_first):
    from litestar.testing import TestClient

    vite_release(tmp_path, 1)
    app, sg = make_app(tmp_path, vite_first)  # no "Path parameters are not allowed" clash
    with TestClient(app=app) as client:
        page = client.get("/")
        assert page.status_code == 200
        script = re.search(r'src="(/static/__skewguard/client\.[0-9a-f]+\.js)"', page.text)
        assert script, page.text
        served = client.get(script.group(1))
        assert served.status_code == 200 and "javascript" in served.headers["content-type"]
        bundle = re.search(r'src="(/static/assets/main-00000001\.js)"', page.text)
        assert bundle, page.text  # litestar-vite's tag, skewguard's file
        asset = client.get(bundle.group(1))
        assert asset.status_code == 200 and asset.headers["cache-control"].endswith("immutable")
        assert asset.headers["x-app-version"] == sg.guard.version
        assert client.get("/static/assets/missing.js").status_code == 404


def test_client_served_when_litestar_vite_serves_static(tmp_path):
    """Without STATIC_ROOT, litestar-vite keeps /static and skewguard only its client's prefix."""
    from litestar import Litestar
    from litestar.testing import TestClient
    from litestar_vite import PathConfig, ViteConfig, VitePlugin

    from skewguard.contrib.litestar import SkewguardPlugin

    vite_release(tmp_path, 1)
    vite = VitePlugin(
        config=ViteConfig(
            mode="template",
            dev_mode=False,
            paths=PathConfig(root=tmp_path, bundle_dir=tmp_path / "public"),
        )
    )
    sg = SkewguardPlugin(
        manifest_path=str(tmp_path / "public" / ".vite" / "manifest.json"),
        secret_key="s3cret",
        vite_hot_file="",
    )
    with TestClient(app=Litestar(plugins=[vite, sg])) as client:
        from skewguard.client import client_name

        assert client.get("/static/" + client_name()).status_code == 200
        assert client.get("/static/assets/main-00000001.js").text == "window.release = 1;\n"


def test_the_example_serves_its_client(tmp_path):
    """examples/litestar/app.py: the injected client script answers 200."""
    import runpy

    from litestar.testing import TestClient

    from ..conftest import ROOT

    example = runpy.run_path(str(ROOT / "examples" / "litestar" / "app.py"), run_name="example")
    with TestClient(app=example["app"]) as client:
        page = client.get("/")
        script = re.search(r'src="(/static/__skewguard/client\.[0-9a-f]+\.js)"', page.text)
        assert script and client.get(script.group(1)).status_code == 200


@pytest.mark.parametrize("skewguard_serves", [True, False], ids=["skewguard-static", "vite-static"])
def test_a_bust_switches_litestar_vite(tmp_path, skewguard_serves):
    from litestar.testing import TestClient

    vite_release(tmp_path, 1)
    app, sg = make_app(tmp_path, vite_first=True, skewguard_serves=skewguard_serves)
    with TestClient(app=app) as client:
        old = sg.guard.version
        assert "main-00000001.js" in client.get("/").text
        vite_release(tmp_path, 2)
        answer = bust(client)
        assert answer["status"] == "ok" and answer["version"] != old, answer
        page = client.get("/")
        assert page.headers["x-app-version"] == answer["version"]
        assert "main-00000002.js" in page.text and "main-00000001.js" not in page.text, page.text
        assert page_data(page.text)["version"] == answer["version"]  # Inertia's version too
        if skewguard_serves:  # the old release's bundle stays served for tabs that still run it
            assert client.get("/static/assets/main-00000001.js").status_code == 200


class Lines(logging.Handler):
    """What skewguard's logger says (Litestar's own logging config replaces pytest's capture)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def test_a_bust_that_litestar_vite_cannot_follow_needs_a_restart(tmp_path):
    from litestar.testing import TestClient

    vite_release(tmp_path, 1)
    app, sg = make_app(tmp_path, vite_first=True)
    with TestClient(app=app) as client:
        old = sg.guard.version
        before = client.get("/").text
        vite_release(tmp_path, 2)
        (tmp_path / "public" / ".vite" / "manifest.json").write_text("{not json")
        said = Lines()
        logging.getLogger("skewguard").addHandler(said)
        try:
            answer = bust(client)
        finally:
            logging.getLogger("skewguard").removeHandler(said)
        assert answer["status"] == "restart-needed" and answer["restart_needed"] is True, answer
        assert answer["version"] == old and "litestar-vite" in answer["error"]
        restart = [line for line in said.lines if "restart needed" in line]
        assert len(restart) == 1 and old in restart[0], said.lines  # one line in the log
        page = client.get("/")
        assert page.headers["x-app-version"] == old and page.text == before
        assert client.get("/version").json()["version"] == old

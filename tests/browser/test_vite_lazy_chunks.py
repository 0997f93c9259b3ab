"""Dynamic imports built by real Vite (the fixture's pinned vite package) while a deploy happens:
which ones hold the page.

Vite's build sends every ``import()`` through its preload helper, which adds a
``<link rel=modulepreload>`` for the chunk itself and for each of its dependencies, but only when
the chunk has dependencies (other chunks, CSS): for a chunk that has none, the helper gets an
empty list and adds nothing. The client sees the links (a module fetch starting raises no event
the page can observe), so a lazy chunk with dependencies in flight holds the reload, and one
without them does not, unless ``build.modulePreload.resolveDependencies`` lists the chunk too.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from skewguard.build import BuildOptions, build
from skewguard.tokens import make_token

from ..conftest import ROOT
from ..processes import free_port, stop, wait_for_http
from .conftest import FIXTURE

pytestmark = pytest.mark.browser

MAIN = """
const keep = (m) => { window.__chunk = m.value; };
window.loadStyled = () => import("./styled-slow.js").then(keep);
window.loadBare = () => import("./bare-slow.js").then(keep);
"""
# With this setting Vite preloads a dependency-free chunk too: what docs/client.md recommends.
PRELOAD_ITSELF = (
    "modulePreload: { resolveDependencies: (file, deps) => "
    "(deps.includes(file) ? deps : [file, ...deps]) },"
)


class LazySite:
    """A Vite project built into a skewguard build directory, served by uvicorn."""

    def __init__(self, work: Path, vite_options: str = ""):
        self.work = work
        project = work / "vite"
        (project / "src").mkdir(parents=True)
        (project / "node_modules").symlink_to(FIXTURE / "node_modules")
        (project / "package.json").write_text('{"private": true, "type": "module"}\n')
        (project / "vite.config.js").write_text(
            'import { defineConfig } from "vite";\n'
            'export default defineConfig({ base: "/static/app/", build: { manifest: true, '
            f'{vite_options} rollupOptions: {{ input: {{ main: "src/main.js" }} }} }} }});\n'
        )
        (project / "src" / "main.js").write_text(MAIN)
        (project / "src" / "styled-slow.js").write_text(
            'import "./styled.css";\nexport const value = "styled chunk";\n'
        )
        (project / "src" / "styled.css").write_text(".styled { color: teal; }\n")
        (project / "src" / "bare-slow.js").write_text('export const value = "bare chunk";\n')
        vite_out = work / "vite-out"
        subprocess.run(
            [str(FIXTURE / "node_modules" / ".bin" / "vite"), "build", "--outDir", str(vite_out)]
            + ["--logLevel", "warn"],
            cwd=project,
            check=True,
            timeout=300,
        )
        entry = json.loads((vite_out / ".vite" / "manifest.json").read_text())["src/main.js"]
        self.src = work / "static"
        (self.src / "css").mkdir(parents=True)
        self.out = work / "out"
        self.vite_out = vite_out
        self.deploys = 0
        self._build()
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = {
            **os.environ,
            "SKEWGUARD_STATIC_ROOT": str(self.out),
            "SKEWGUARD_SECRET_KEY": "s3cret",
            "SKEWGUARD_VITE_HOT_FILE": "",
            "SKEWGUARD_CLIENT_POLL_INTERVAL": "0",
            "TEST_VITE_ENTRY": "app/" + entry["file"],
            "PYTHONPATH": str(ROOT),
        }
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "tests.browser.vite_lazy_site:app"]
            + ["--port", str(self.port), "--host", "127.0.0.1", "--log-level", "warning"],
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        wait_for_http(self.base + "/version", self.proc, "lazy site")

    def _build(self) -> str:
        (self.src / "css" / "site.css").write_text(f"/* deploy {self.deploys} */\n")
        return build(
            [str(self.src), f"app={self.vite_out}"], str(self.out), BuildOptions(compress=False)
        ).version

    def deploy(self) -> str:
        self.deploys += 1
        self._build()
        response = httpx.post(
            self.base + "/cache/bust",
            headers={"Authorization": "Bearer " + make_token("s3cret", 60)},
            timeout=30,
        )
        assert response.status_code == 200, response.text
        return response.json()["version"]

    def stop(self) -> None:
        stop(self.proc)
        shutil.rmtree(self.work / "vite", ignore_errors=True)


@pytest.fixture
def lazy_site(front_end, tmp_path):  # front_end: the fixture's npm packages are installed
    sites: list[LazySite] = []

    def make(vite_options: str = "") -> LazySite:
        site = LazySite(tmp_path / f"lazy{len(sites)}", vite_options)
        sites.append(site)
        return site

    yield make
    for site in sites:
        site.stop()


def open_page(context, site: LazySite):
    page = context.new_page()
    page.goto(f"{site.base}/?policy=reload")
    page.wait_for_function("window.skewguard !== undefined && window.loadStyled !== undefined")
    return page


def load_during_deploy(page, site: LazySite, loader: str, chunk: str) -> tuple[str, bool]:
    """Start ``loader`` (2 s to answer), let the client learn of a new release meanwhile, and wait
    for the reload. Returns what the chunk had given when the reload began, and whether a
    module preload for the chunk itself was in the document."""
    new = site.deploy()
    page.evaluate(f"() => {{ window.{loader}(); }}")
    page.wait_for_timeout(300)  # Vite's helper adds its links synchronously, then imports
    preloaded = page.evaluate(
        f"!!document.querySelector('link[rel=modulepreload][href*=\"/{chunk}-\"]')"
    )
    page.evaluate("window.skewguard.check()")  # the deploy is known while the chunk loads
    page.wait_for_function(
        f"window.skewguard && window.skewguard.version === {new!r}", timeout=15000
    )
    return page.evaluate("sessionStorage.getItem('chunk-at-reload')"), preloaded


def test_a_vite_lazy_chunk_with_dependencies_in_flight_holds_the_reload(lazy_site, context):
    site = lazy_site()
    page = open_page(context, site)
    at_reload, preloaded = load_during_deploy(page, site, "loadStyled", "styled-slow")
    assert preloaded  # Vite's helper preloads the chunk itself (it has a CSS dependency)
    assert at_reload == "styled chunk"  # the reload waited for the chunk


def test_a_vite_lazy_chunk_without_dependencies_holds_only_when_vite_preloads_it(
    lazy_site, context
):
    default = lazy_site()
    page = open_page(context, default)
    at_reload, preloaded = load_during_deploy(page, default, "loadBare", "bare-slow")
    # Vite's default adds no link for a chunk with no dependencies: nothing the client can see.
    assert not preloaded and at_reload == "undefined"

    recipe = lazy_site(PRELOAD_ITSELF)
    page = open_page(context, recipe)
    at_reload, preloaded = load_during_deploy(page, recipe, "loadBare", "bare-slow")
    assert preloaded and at_reload == "bare chunk"

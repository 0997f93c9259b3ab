"""Dynamic imports in flight while a deploy happens: which ones hold the page.

A module fetch starting raises no event the page can observe. ``skewguard build`` wraps every
dynamic import in the files it hashes so that the client counts it in flight
(build/import_hook.py), and skewguard's Vite plugin does the same inside a Vite build.

Without the plugin, Vite's build (the fixture's pinned vite package) sends every ``import()``
through its preload helper, which adds a ``<link rel=modulepreload>`` for the chunk itself and
for each of its dependencies, but only when the chunk has dependencies (other chunks, CSS): for a
chunk that has none, the helper gets an empty list and adds nothing. The client sees the links,
so a lazy chunk with dependencies in flight holds the reload, and one without them does not,
unless ``build.modulePreload.resolveDependencies`` lists the chunk too.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from skewguard.build import BuildOptions, build
from skewguard.client import VITE_PLUGIN
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
# A module skewguard builds itself (no bundler): hand-written imports, one of a missing chunk.
HAND_WRITTEN = """
const keep = (m) => { window.__chunk = m.value; };
window.loadLazy = () => import("./lazy-slow-chunk.js").then(keep);
window.loadGone = () => import("./gone-slow-chunk.js").then(keep, () => { window.__chunk = "failed"; });
window.loadAny = (url) => import(url).then(keep);
"""
# With this setting Vite preloads a dependency-free chunk too: what docs/client.md recommends.
PRELOAD_ITSELF = (
    "modulePreload: { resolveDependencies: (file, deps) => "
    "(deps.includes(file) ? deps : [file, ...deps]) },"
)


class LazySite:
    """A Vite project (or, with ``vite=False``, modules skewguard builds itself) built into a
    skewguard build directory, served by uvicorn."""

    def __init__(
        self,
        work: Path,
        vite_options: str = "",
        plugin: bool = False,
        vite: bool = True,
        import_hook: bool = True,
    ):
        self.work = work
        self.src = work / "static"
        (self.src / "css").mkdir(parents=True)
        self.out = work / "out"
        self.import_hook = import_hook
        self.vite_out: Path | None = None
        if vite:
            entry = "app/" + self._vite_build(vite_options, plugin)
        else:
            (self.src / "app").mkdir()
            (self.src / "app" / "main.js").write_text(HAND_WRITTEN)
            (self.src / "app" / "lazy-slow-chunk.js").write_text(
                'export const value = "lazy chunk";\n'
            )
            (self.src / "app" / "other.js").write_text('export const value = "other chunk";\n')
            entry = "app/main.js"
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
            "TEST_VITE_ENTRY": entry,
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

    def _vite_build(self, vite_options: str, plugin: bool) -> str:
        """Build the Vite project; returns its entry's file name."""
        project = self.work / "vite"
        (project / "src").mkdir(parents=True)
        (project / "node_modules").symlink_to(FIXTURE / "node_modules")
        (project / "package.json").write_text('{"private": true, "type": "module"}\n')
        if plugin:  # copied into the project, as docs/client.md says
            shutil.copy(VITE_PLUGIN, project / "skewguard-vite-plugin.mjs")
        (project / "vite.config.js").write_text(
            'import { defineConfig } from "vite";\n'
            + ('import skewguardImports from "./skewguard-vite-plugin.mjs";\n' if plugin else "")
            + "export default defineConfig({ "
            + ("plugins: [skewguardImports()], " if plugin else "")
            + 'base: "/static/app/", build: { manifest: true, '
            f'{vite_options} rollupOptions: {{ input: {{ main: "src/main.js" }} }} }} }});\n'
        )
        (project / "src" / "main.js").write_text(MAIN)
        (project / "src" / "styled-slow.js").write_text(
            'import "./styled.css";\nexport const value = "styled chunk";\n'
        )
        (project / "src" / "styled.css").write_text(".styled { color: teal; }\n")
        (project / "src" / "bare-slow.js").write_text('export const value = "bare chunk";\n')
        self.vite_out = self.work / "vite-out"
        subprocess.run(
            [str(FIXTURE / "node_modules" / ".bin" / "vite"), "build"]
            + ["--outDir", str(self.vite_out), "--logLevel", "warn"],
            cwd=project,
            check=True,
            timeout=300,
        )
        manifest = json.loads((self.vite_out / ".vite" / "manifest.json").read_text())
        return manifest["src/main.js"]["file"]

    def _build(self) -> str:
        (self.src / "css" / "site.css").write_text(f"/* deploy {self.deploys} */\n")
        sources = [str(self.src)] + ([f"app={self.vite_out}"] if self.vite_out else [])
        options = BuildOptions(compress=False, import_hook=self.import_hook)
        return build(sources, str(self.out), options).version

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

    def make(vite_options: str = "", **options) -> LazySite:
        site = LazySite(tmp_path / f"lazy{len(sites)}", vite_options, **options)
        sites.append(site)
        return site

    yield make
    for site in sites:
        site.stop()


def open_page(context, site: LazySite, loader: str = "loadStyled"):
    page = context.new_page()
    page.goto(f"{site.base}/?policy=reload")
    page.wait_for_function(f"window.skewguard !== undefined && window.{loader} !== undefined")
    return page


def load_during_deploy(
    page, site: LazySite, loader: str, chunk: str, call: str = "()"
) -> tuple[str, bool]:
    """Start ``loader`` (2 s to answer), let the client learn of a new release meanwhile, and wait
    for the reload. Returns what the chunk had given when the reload began, and whether a
    module preload for the chunk itself was in the document."""
    new = site.deploy()
    page.evaluate(f"() => {{ window.{loader}{call}; }}")
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


def test_a_vite_lazy_chunk_without_dependencies_holds_with_skewguards_vite_plugin(
    lazy_site, context
):
    site = lazy_site(plugin=True)
    page = open_page(context, site)
    at_reload, preloaded = load_during_deploy(page, site, "loadBare", "bare-slow")
    assert not preloaded  # no link: the plugin's wrapped import() is what holds
    assert at_reload == "bare chunk"
    at_reload, _ = load_during_deploy(page, site, "loadStyled", "styled-slow")
    assert at_reload == "styled chunk"  # with dependencies too


# -- modules skewguard builds itself ---------------------------------------------------------------


def test_a_hand_written_import_in_a_skewguard_built_module_holds_the_reload(lazy_site, context):
    site = lazy_site(vite=False)
    page = open_page(context, site, "loadLazy")
    at_reload, _ = load_during_deploy(page, site, "loadLazy", "lazy-slow-chunk")
    assert at_reload == "lazy chunk"  # the reload waited for the chunk the server took 2 s for
    # import(url): the argument is not a literal, and the call is still wrapped.
    page.wait_for_function("window.loadAny !== undefined")
    at_reload, _ = load_during_deploy(page, site, "loadAny", "-", "('./lazy-slow-chunk.js')")
    assert at_reload == "lazy chunk"


def test_a_failing_import_releases_the_hold(lazy_site, context):
    site = lazy_site(vite=False)
    page = open_page(context, site, "loadGone")
    started = time.monotonic()
    page.evaluate("() => { window.loadGone(); }")
    page.wait_for_timeout(300)
    assert page.evaluate("window.skewguard.holding") == ["request"]
    at_reload, _ = load_during_deploy(page, site, "loadGone", "gone-slow-chunk")
    assert at_reload == "failed"  # the app saw the failure, then the page reloaded
    assert time.monotonic() - started >= 2  # not before the 404 came


def test_a_page_without_the_client_imports_as_before(lazy_site, context):
    site = lazy_site(vite=False)
    page = context.new_page()
    page.goto(f"{site.base}/bare")
    page.wait_for_function("window.loadLazy !== undefined")
    assert page.evaluate("[typeof window.skewguard, typeof window.__skewguardImport]") == [
        "undefined",
        "undefined",
    ]
    entry = page.evaluate("document.querySelector('script[type=module]').src")
    assert "Object(globalThis.__skewguardImport||Object)(import(" in httpx.get(entry).text
    page.evaluate("window.loadLazy()")
    page.wait_for_function("window.__chunk === 'lazy chunk'", timeout=10000)
    page.evaluate("window.loadAny('./other.js')")
    page.wait_for_function("window.__chunk === 'other chunk'", timeout=10000)


def test_without_the_import_hook_a_hand_written_import_does_not_hold(lazy_site, context):
    site = lazy_site(vite=False, import_hook=False)  # skewguard build --no-import-hook
    page = open_page(context, site, "loadLazy")
    at_reload, _ = load_during_deploy(page, site, "loadLazy", "lazy-slow-chunk")
    assert at_reload == "undefined"  # nothing the client can see: reloaded at once

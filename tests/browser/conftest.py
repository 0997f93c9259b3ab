"""Real Chromium (Debian's, through Playwright), real servers, real htmx and Inertia."""

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

from ..conftest import ROOT, require_tool
from ..processes import WSGI_RUNNER, free_port, stop, wait_for_http

FIXTURE = ROOT / "tests" / "fixtures" / "browser"


@pytest.fixture(scope="session")
def front_end(tmp_path_factory) -> Path:
    """Static sources of the test site: htmx 4 and 2 from npm, and the Inertia app built by Vite."""
    npm = require_tool("npm")
    if (
        not (FIXTURE / "node_modules" / ".package-lock.json").exists()
        or (FIXTURE / "node_modules" / ".package-lock.json").stat().st_mtime
        < (FIXTURE / "package-lock.json").stat().st_mtime
    ):
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=FIXTURE, check=True, timeout=600)
    root = tmp_path_factory.mktemp("front-end")
    vite_out = root / "inertia"
    subprocess.run(
        [
            str(FIXTURE / "node_modules" / ".bin" / "vite"),
            "build",
            "--outDir",
            str(vite_out),
            "--logLevel",
            "warn",
        ],
        cwd=FIXTURE,
        check=True,
        timeout=300,
    )
    static = root / "static"
    (static / "js").mkdir(parents=True)
    (static / "css").mkdir()
    shutil.copy(
        FIXTURE / "node_modules" / "htmx.org" / "dist" / "htmx.min.js",
        static / "js" / "htmx4.min.js",
    )
    shutil.copy(
        FIXTURE / "node_modules" / "htmx2" / "dist" / "htmx.min.js", static / "js" / "htmx2.min.js"
    )
    return root


@pytest.fixture
def context(browser):
    ctx = browser.new_context(permissions=["camera", "microphone"])
    yield ctx
    ctx.close()


class Site:
    """A built static tree and a server process running tests/browser/site.py over it."""

    def __init__(
        self,
        kind: str,
        front_end: Path,
        work: Path,
        deploys: int = 0,
        env: dict[str, str] | None = None,
    ):
        self.kind = kind
        self.src = work / "static"
        shutil.copytree(front_end / "static", self.src)
        self.vite = front_end / "inertia"
        self.out = work / "out"
        self.deploys = deploys  # a site built as if deployed this many times: another release
        self._write_sources()
        self._build()
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = {
            **os.environ,
            "TEST_APP_KIND": kind,
            "SKEWGUARD_STATIC_ROOT": str(self.out),
            "SKEWGUARD_SECRET_KEY": "s3cret",
            "SKEWGUARD_VITE_HOT_FILE": "",
            "PYTHONPATH": str(ROOT),
            "TEST_REGISTRY_PATH": str(work / "registry.json"),
            **(env or {}),
        }
        self.registry_path = work / "registry.json"
        if kind in ("asgi", "flip", "flip-registry"):
            command = [
                sys.executable,
                "-m",
                "uvicorn",
                "tests.browser.site:app",
                "--port",
                str(self.port),
                "--host",
                "127.0.0.1",
                "--log-level",
                "warning",
            ]
        else:
            command = [
                sys.executable,
                "-c",
                WSGI_RUNNER.format(root=str(ROOT), port=self.port, module="tests.browser.site"),
            ]
        self.proc = subprocess.Popen(
            command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        wait_for_http(self.base + "/version", self.proc, "site")

    def _write_sources(self) -> None:
        accent = ["#3b6cf6", "#e4572e", "#17a398", "#f3a712"][self.deploys % 4]
        (self.src / "css" / "site.css").write_text(
            f"body {{ font-family: sans-serif; }} h1 {{ color: {accent}; }}\n/* deploy {self.deploys} */\n"
        )
        (self.src / "js" / "lazy.js").write_text(f"export const value = 'lazy {self.deploys}';\n")

    def _build(self) -> None:
        build([str(self.src), f"inertia={self.vite}"], str(self.out), BuildOptions(compress=False))

    @property
    def version(self) -> str:
        return httpx.get(self.base + "/version").json()["version"]

    def deploy(self, prune_old: str | None = None) -> str:
        """Rebuild with a visible change and bust: what a deploy does. Returns the new version."""
        old_manifest = json.loads((self.out / "staticfiles.json").read_text())
        self.deploys += 1
        self._write_sources()
        self._build()
        if prune_old:
            os.unlink(self.out / old_manifest["paths"][prune_old])
        response = httpx.post(
            self.base + "/cache/bust",
            headers={"Authorization": "Bearer " + make_token("s3cret", 60)},
        )
        assert response.status_code == 200, response.text
        return response.json()["version"]

    def log(self) -> list[dict]:
        return httpx.get(self.base + "/__log").json()

    def stop(self) -> None:
        stop(self.proc)


@pytest.fixture
def site_factory(front_end, tmp_path):
    sites = []

    def make(kind: str = "asgi", deploys: int = 0, env: dict[str, str] | None = None) -> Site:
        site = Site(kind, front_end, tmp_path / f"site{len(sites)}", deploys, env)
        sites.append(site)
        return site

    yield make
    for site in sites:
        site.stop()

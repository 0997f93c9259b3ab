"""Per-tab pinning (PIN_REQUESTS): real nginx, configured by `skewguard nginx-config`, in front of a
blue and a green server that share a release registry. A stale tab that something holds keeps
talking to its own release; page loads go to the default; a retired release drops the pin."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from ..conftest import require_tool, run_cli
from ..processes import free_port, stop, wait_for_http

pytestmark = pytest.mark.browser


class Nginx:
    """nginx running the generated config; ``route(default)`` regenerates it and reloads."""

    def __init__(self, work: Path, backends: dict[str, int], default: str):
        self.binary = require_tool("nginx")
        self.work = work
        self.backends = backends
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        (work / "tmp").mkdir(parents=True)
        self._write(default)
        temp = f"{work}/tmp"
        (work / "nginx.conf").write_text(f"""
worker_processes 1;
daemon off;
pid {work}/nginx.pid;
error_log {work}/error.log;
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {temp}; proxy_temp_path {temp}; fastcgi_temp_path {temp};
    uwsgi_temp_path {temp}; scgi_temp_path {temp};
    include {work}/skewguard.conf;
}}
""")
        self.proc = subprocess.Popen(
            [self.binary, "-c", str(work / "nginx.conf"), "-p", str(work)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        wait_for_http(self.base + "/version", self.proc, "nginx")

    def _write(self, default: str) -> None:
        args = [
            a for v, port in self.backends.items() for a in ("--backend", f"{v}=127.0.0.1:{port}")
        ]
        generated = run_cli(
            "nginx-config", *args, "--default", default, "--listen", f"127.0.0.1:{self.port}"
        )
        assert generated.returncode == 0, generated.stderr
        (self.work / "skewguard.conf").write_text(generated.stdout)

    def route(self, default: str) -> None:
        self._write(default)
        self.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 10
        while httpx.get(self.base + "/version", timeout=5).json()["version"] != default:
            assert time.monotonic() < deadline, "nginx did not switch"
            time.sleep(0.1)

    def stop(self) -> None:
        stop(self.proc)


def text(page, selector: str) -> str:
    return page.text_content(selector) or ""


def test_a_held_stale_tab_keeps_talking_to_its_own_release(site_factory, context, tmp_path):
    env = {
        "SKEWGUARD_REGISTRY": "file",
        "SKEWGUARD_REGISTRY_PATH": str(tmp_path / "registry.json"),
        "SKEWGUARD_PIN_REQUESTS": "true",
    }
    blue = site_factory("asgi", env=env)
    green = site_factory("asgi", deploys=1, env=env)
    assert blue.version != green.version
    # A server starting on a file registry activates its own build (one server: the build on
    # disk is the deploy), so green's start made green active: blue is the fleet's release
    # again before any tab opens, or the first tab could converge before its call starts.
    reactivated = run_cli(
        "release", "activate", blue.version, "--registry-path", env["SKEWGUARD_REGISTRY_PATH"]
    )
    assert reactivated.returncode == 0, reactivated.stderr
    deadline = time.monotonic() + 10
    while httpx.get(blue.base + "/version", timeout=5).json()["behind"]:
        assert time.monotonic() < deadline, "blue did not see itself activated"
        time.sleep(0.1)
    nginx = Nginx(
        tmp_path / "nginx", {blue.version: blue.port, green.version: green.port}, blue.version
    )
    try:
        call = context.new_page()  # an Inertia tab in a call
        call.goto(f"{nginx.base}/inertia?policy=reload&poll=300")
        call.wait_for_function("window.inertiaRouter !== undefined")
        call.evaluate("window.startCall()")
        call.wait_for_function("window.skewguard.holding.includes('call')", timeout=10000)
        busy = context.new_page()  # an htmx tab busy with an upload
        busy.goto(f"{nginx.base}/htmx?policy=reload&poll=300&htmx=2")
        busy.wait_for_function("window.htmx !== undefined")
        busy.evaluate("() => { window.__release = window.skewguard.hold('upload'); }")
        boots = [tab.evaluate("window.__boot") for tab in (call, busy)]

        # Green becomes the default and the fleet's active release.
        activated = run_cli(
            "release", "activate", green.version, "--registry-path", env["SKEWGUARD_REGISTRY_PATH"]
        )
        assert activated.returncode == 0, activated.stderr
        nginx.route(green.version)
        for tab in (call, busy):
            tab.wait_for_function("window.skewguard.stale", timeout=10000)

        call.click("#other-link")  # Inertia, pinned: blue answers
        call.wait_for_function(
            "(document.getElementById('component') || {}).textContent === 'Other'"
        )
        assert text(call, "#page-version") == blue.version
        busy.click("#load")  # htmx, pinned: blue answers
        busy.wait_for_selector("#fragment")
        assert text(busy, "#fragment") == f"fragment {blue.version}"
        pinned = [r for r in blue.log() if r["pin"]]
        assert {r["path"] for r in pinned} >= {"/inertia/other", "/fragment"}
        assert all(r["pin"] == blue.version for r in pinned)

        fresh = context.new_page()  # a tab opened after the switch gets green
        fresh.goto(f"{nginx.base}/inertia?policy=reload&poll=0")
        assert text(fresh, "#rendered-version") == green.version
        assert [tab.evaluate("window.__boot") for tab in (call, busy)] == boots

        call.evaluate("window.endCall()")  # the call ends: the tab converges onto green
        call.wait_for_function(
            f"window.skewguard && window.skewguard.version === {green.version!r}", timeout=10000
        )
        assert not [r for r in green.log() if r["path"] == "/inertia" and r["pin"]]

        retired = run_cli(
            "release", "retire", blue.version, "--registry-path", env["SKEWGUARD_REGISTRY_PATH"]
        )
        assert retired.returncode == 0, retired.stderr
        busy.wait_for_timeout(1500)  # its next poll says blue is retired: the pin is dropped
        busy.click("#load")
        busy.wait_for_function(
            f"(document.getElementById('fragment') || {{}}).textContent === 'fragment {green.version}'",
            timeout=10000,
        )
        assert busy.evaluate("window.__boot") == boots[1]  # still held, never reloaded
    finally:
        nginx.stop()

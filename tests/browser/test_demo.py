"""`skewguard demo`, started as a user starts it, driven in two tabs of real Chromium."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from ..processes import free_port, stop, wait_for_http

pytestmark = pytest.mark.browser
SHOTS = Path(__file__).resolve().parent.parent.parent / "test-results"


@pytest.fixture
def demo(tmp_path):
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "skewguard",
            "demo",
            "--port",
            str(port),
            "--workdir",
            str(tmp_path),
            "--poll",
            "1",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    wait_for_http(base + "/version", proc, "skewguard demo", timeout=60)
    yield base
    stop(proc)


def test_first_page_has_hashed_assets_and_the_client(demo):
    html = httpx.get(demo + "/").text
    assert re.search(r'href="/static/css/demo\.[0-9a-f]{12}\.css"', html)
    assert re.search(r'src="/static/js/htmx\.min\.[0-9a-f]{12}\.js"', html)
    assert re.search(r'src="/static/img/logo\.[0-9a-f]{12}\.svg"', html)
    assert 'src="/static/__skewguard/client.' in html and "data-skewguard" in html
    css = re.search(r'href="(/static/css/demo\.[0-9a-f]{12}\.css)"', html).group(1)
    assert httpx.get(demo + css).headers["cache-control"].endswith("immutable")


def test_deploy_idle_tab_converges_playing_tab_waits_with_a_banner(demo, context):
    playing = context.new_page()
    playing.goto(demo + "/?policy=prompt")
    playing.click("#play")
    playing.wait_for_function("window.skewguard.holding.includes('media')")
    playing_boot = playing.evaluate("window.__boot = window.__boot || Math.random()")
    idle = context.new_page()
    idle.goto(demo + "/?policy=reload")
    old = idle.text_content("#rendered-version")

    idle.click("#deploy")
    new = None
    deadline = time.monotonic() + 20
    while new in (None, old) and time.monotonic() < deadline:
        new = httpx.get(demo + "/version").json()["version"]
        time.sleep(0.1)
    assert new != old
    idle.wait_for_function(
        f"(document.getElementById('rendered-version') || {{}}).textContent === {new!r}",
        timeout=15000,
    )

    banner = playing.locator("[data-skewguard-banner]")
    banner.wait_for(state="visible", timeout=15000)
    SHOTS.mkdir(exist_ok=True)
    playing.screenshot(path=str(SHOTS / "demo-held-tab.png"))
    assert playing.evaluate("window.__boot") == playing_boot  # not reloaded
    assert playing.text_content("#rendered-version") == old
    assert playing.evaluate("!document.getElementById('clip').paused")
    playing.focus("[data-skewguard-banner] button")
    assert playing.evaluate("document.activeElement.textContent") == "Reload"

    playing.click("#pause")
    playing.click("[data-skewguard-banner] button")
    playing.wait_for_function(
        f"(document.getElementById('rendered-version') || {{}}).textContent === {new!r}",
        timeout=15000,
    )


def test_a_taken_port_is_one_clear_line(demo):
    port = demo.rsplit(":", 1)[1]
    result = subprocess.run(
        [sys.executable, "-m", "skewguard", "demo", "--port", port],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert (
        result.stderr.strip()
        == f"skewguard: error: 127.0.0.1:{port} is already in use; pass --port to pick another"
    )


def test_default_policy_idle_tab_reloads_held_tab_shows_the_banner(demo, context):
    held = context.new_page()
    held.goto(demo + "/")  # the demo's default policy: reload
    held.click("#play")
    held.wait_for_function("window.skewguard.holding.includes('media')")
    boot = held.evaluate("window.__boot = Math.random()")
    idle = context.new_page()
    idle.goto(demo + "/")
    old = idle.text_content("#rendered-version")
    idle.click("#deploy")
    idle.wait_for_function(
        f"(document.getElementById('rendered-version') || {{}}).textContent !== {old!r}",
        timeout=15000,
    )
    held.locator("[data-skewguard-banner]").wait_for(state="visible", timeout=15000)
    assert held.evaluate("window.__boot") == boot and held.text_content("#rendered-version") == old
    held.click("#pause")  # nothing holds it any more: it reloads by itself
    held.wait_for_function(
        f"(document.getElementById('rendered-version') || {{}}).textContent !== {old!r}",
        timeout=15000,
    )

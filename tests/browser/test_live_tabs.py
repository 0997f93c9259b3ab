"""Live tabs in real Chromium: three tabs on two releases, one held by a camera call; what
``skewguard status --json``, ``/metrics`` and the status page say; prune with a live tab, of
a build directory and of the release store."""

from __future__ import annotations

import io
import json
import os
import time
from pathlib import Path

import httpx
import pytest
from PIL import Image

from skewguard.store import open_store
from skewguard.store.collect import load_releases
from skewguard.store.publish import publish
from skewguard.telemetry.page import PALETTE
from skewguard.telemetry.redis_recorder import RedisRecorder

from ..conftest import ROOT, run_cli
from ..deploys.conftest import RedisServer
from ..store.test_collect import _age

pytestmark = pytest.mark.browser

POLL_MS = 1000
WINDOW = 4.0
STATUS = "/_skewguard/status"
AUTH = {"Authorization": "Bearer status-token"}
SHOTS = ROOT / "test-results"


@pytest.fixture
def redis_for_tabs(tmp_path):
    server = RedisServer(tmp_path)
    yield server
    server.stop()


@pytest.fixture
def tab_site(site_factory, redis_for_tabs, monkeypatch):
    for name, value in {
        "REDIS_URL": redis_for_tabs.url,
        "METRICS_PATH": "/metrics",
        "STATUS_PATH": STATUS,
        "STATUS_TOKEN": "status-token",
        "TELEMETRY_WINDOW": str(WINDOW),
    }.items():
        monkeypatch.setenv(f"SKEWGUARD_{name}", value)
    return site_factory("asgi")


def live(redis_url: str) -> dict:
    """What Redis holds now, per release with live tabs: (live, stale, held, reasons)."""
    report = RedisRecorder(redis_url, "skewguard", WINDOW, 100_000).report()
    return {
        r.version: (r.live, r.stale, r.held, dict(r.reasons)) for r in report.releases if r.live
    }


def metric(site, name: str, **labels: str) -> float:
    text = httpx.get(site.base + "/metrics", headers=AUTH).text
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        key, _, value = line.rpartition(" ")
        metric_name, _, rest = key.partition("{")
        if metric_name == name and ",".join(sorted(rest.rstrip("}").split(","))) == wanted:
            return float(value)
    return 0.0


def reported_within(expected: dict, redis_url: str, seconds: float) -> float:
    started = time.monotonic()
    last: dict = {}
    while time.monotonic() - started < seconds:
        last = live(redis_url)
        if last == expected:
            return time.monotonic() - started
        time.sleep(0.05)
    raise AssertionError(f"not within {seconds} s: {last} != {expected}")


def reasons_of(page) -> dict:
    return {r: 1 for r in page.evaluate("window.skewguard.holding") if r != "request"}


def test_three_tabs_two_releases_one_held_by_a_camera(tab_site, redis_for_tabs, context):
    site = tab_site
    old = site.version
    a, b = context.new_page(), context.new_page()
    for page in (a, b):
        page.goto(f"{site.base}/media?policy=reload&poll={POLL_MS}")
    assert a.evaluate("document.visibilityState") == "visible"
    b.evaluate("startCall()")
    b.wait_for_function("window.skewguard.holding.includes('call')", timeout=10000)
    new = site.deploy()
    activated = run_cli("release", "activate", new, "--redis-url", redis_for_tabs.url)
    assert activated.returncode == 0, activated.stderr  # the deploy done: the fleet runs it
    a.wait_for_function(f"window.skewguard && window.skewguard.version === {new!r}", timeout=10000)
    b.wait_for_function("window.skewguard.stale", timeout=10000)
    c = context.new_page()
    c.goto(f"{site.base}/media?policy=reload&poll={POLL_MS}")
    assert c.evaluate("window.skewguard.version") == new
    held_by = reasons_of(b)
    assert {"capture", "call"} <= set(held_by)

    expected = {new: (2, 0, 0, {}), old: (1, 1, 1, held_by)}
    took = reported_within(expected, redis_for_tabs.url, POLL_MS / 1000 + 0.5)
    print(f"reported {took:.2f} s after the state settled")

    status = run_cli("status", "--redis-url", redis_for_tabs.url, "--json")
    assert status.returncode == 0, status.stderr
    document = json.loads(status.stdout)
    by_version = {r["version"]: r for r in document["releases"]}
    assert (by_version[new]["live"], by_version[new]["held"]) == (2, 0)
    assert (by_version[old]["live"], by_version[old]["stale"], by_version[old]["held"]) == (1, 1, 1)
    assert by_version[old]["reasons"] == held_by
    assert metric(site, "skewguard_live_tabs", release=new) == 2
    assert metric(site, "skewguard_live_tabs", release=old) == 1
    assert metric(site, "skewguard_stale_tabs", release=old) == 1
    assert metric(site, "skewguard_held_tabs", release=old, reason="capture") == 1
    assert metric(site, "skewguard_busts_total") == 1
    assert metric(site, "skewguard_convergence_seconds_count") == 1  # tab a converged

    # The status page, for people: one chart series per release.
    shot = status_page_screenshot(context, site)
    assert_one_series_per_release(shot, 2)

    # The call ends: b converges, the counts move, the histogram has b's observation.
    b.evaluate("endCall()")
    b.wait_for_function(f"window.skewguard && window.skewguard.version === {new!r}", timeout=10000)
    reported_within({new: (3, 0, 0, {})}, redis_for_tabs.url, POLL_MS / 1000 + 0.5)
    assert metric(site, "skewguard_live_tabs", release=old) == 0
    assert metric(site, "skewguard_convergence_seconds_count") == 2
    assert metric(site, "skewguard_convergence_seconds_sum") > 0  # b waited for its call


def status_page_screenshot(context, site) -> bytes:
    page = context.new_page()
    page.set_viewport_size({"width": 900, "height": 520})
    assert page.goto(site.base + STATUS).status == 401  # no token, no numbers
    response = page.goto(site.base + STATUS + "?token=status-token")
    assert response.status == 200
    assert page.locator("svg.chart g.series").count() == 2
    shot = page.screenshot(full_page=True)
    SHOTS.mkdir(exist_ok=True)
    (SHOTS / "status-page.png").write_bytes(shot)
    docs_copy = os.environ.get("SKEWGUARD_DOCS_SCREENSHOT")  # scripts: refresh the docs' copy
    if docs_copy:
        Path(docs_copy).write_bytes(shot)
    page.close()
    return shot


def assert_one_series_per_release(png: bytes, releases: int) -> None:
    """The chart's pixels: each release's series colour is drawn, and no other series colour."""
    image = Image.open(io.BytesIO(png)).convert("RGB")
    colours = {tuple(int(c[i : i + 2], 16) for i in (1, 3, 5)) for c in PALETTE}
    counted = image.getcolors(maxcolors=1 << 24) or []
    seen = {colour: n for n, colour in counted if colour in colours}
    drawn = [c for c, n in seen.items() if n > 40]  # a dot of the chart, not a stray pixel
    expected = {tuple(int(c[i : i + 2], 16) for i in (1, 3, 5)) for c in PALETTE[:releases]}
    assert set(drawn) == expected, (seen, expected)


def test_prune_refuses_while_a_tab_runs_the_release(tab_site, redis_for_tabs, context):
    site = tab_site
    old = site.version
    tab = context.new_page()
    tab.goto(f"{site.base}/media?policy=defer&poll={POLL_MS}")  # defer: it stays on the old one
    new = site.deploy()
    tab.wait_for_function("window.skewguard.stale", timeout=10000)
    reported_within({old: (1, 1, 0, {})}, redis_for_tabs.url, POLL_MS / 1000 + 0.5)

    refused = run_cli(
        "prune", str(site.out), "--keep", "1", "--max-age", "1s", "--redis-url", redis_for_tabs.url
    )
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert f"live tabs still run {old}" in refused.stderr and "1 tab" in refused.stderr
    assert "deleted" not in refused.stdout
    history = json.loads((site.out / ".skewguard" / "releases.json").read_text())
    assert [r["hash"] for r in history["releases"]] == [old, new]

    tab.close()
    time.sleep(WINDOW + 0.5)  # the window passes without a beat from the old release
    pruned = run_cli(
        "prune", str(site.out), "--keep", "1", "--max-age", "1s", "--redis-url", redis_for_tabs.url
    )
    assert pruned.returncode == 0, pruned.stderr
    assert "dropped 1" in pruned.stdout
    history = json.loads((site.out / ".skewguard" / "releases.json").read_text())
    assert [r["hash"] for r in history["releases"]] == [new]


def test_store_prune_refuses_while_a_tab_runs_the_release(
    tab_site, redis_for_tabs, context, tmp_path
):
    site = tab_site
    store = open_store(f"file://{tmp_path / 'store'}")
    old = publish(str(site.out), store).release_id
    assert old == site.version
    tab = context.new_page()
    tab.goto(f"{site.base}/media?policy=defer&poll={POLL_MS}")  # defer: it stays on the old one
    new = site.deploy()
    assert publish(str(site.out), store).release_id == new
    _age(store, old, 10)  # published ten days ago: past --max-age, kept only by its tab
    tab.wait_for_function("window.skewguard.stale", timeout=10000)
    reported_within({old: (1, 1, 0, {})}, redis_for_tabs.url, POLL_MS / 1000 + 0.5)
    prune = ("prune", "--store", store.url, "--keep", "1", "--redis-url", redis_for_tabs.url)

    refused = run_cli(*prune)
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert f"live tabs still run {old} (1 tab)" in refused.stderr
    assert "deleted" not in refused.stdout
    assert [r.id for r in load_releases(store)] == [old, new]

    tab.close()
    time.sleep(WINDOW + 0.5)  # the window passes without a beat from the old release
    pruned = run_cli(*prune)
    assert pruned.returncode == 0, pruned.stderr
    assert "dropped 1" in pruned.stdout
    assert [r.id for r in load_releases(store)] == [new]


def test_a_hidden_tab_rests_but_still_beats(site_factory, context):
    site = site_factory("asgi")
    page = context.new_page()
    page.goto(f"{site.base}/form?policy=warn&poll=200&tab=hidden")
    page.evaluate(
        "Object.defineProperty(document, 'visibilityState', { get: () => 'hidden' });"
        "document.dispatchEvent(new Event('visibilitychange'))"
    )
    page.wait_for_timeout(300)  # a poll already on its way may still land
    before = len([r for r in site.log() if r["query"].startswith("tab=hidden&tid=")])
    page.wait_for_timeout(4000)  # 20 intervals
    beats = len([r for r in site.log() if r["query"].startswith("tab=hidden&tid=")]) - before
    assert 3 <= beats <= 7, beats  # every fourth interval: about 5, not 20 and not 0

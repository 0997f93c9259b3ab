"""Convergence on the fleet's release while two releases answer behind one address: no tab is
downgraded, moved by a passing header, stuck after a reload that landed on an old server, or
caught in a reload storm; chunk loads in flight hold the page; history restores check at once."""

from __future__ import annotations

import json
import time

import pytest

from ..conftest import run_cli

pytestmark = pytest.mark.browser


def loads(page) -> int:
    return int(page.evaluate("sessionStorage.getItem('loads')"))


def open_on(context, site, version: str, query: str):
    """A tab whose page was rendered by ``version`` (the two releases answer in turn)."""
    for _ in range(20):
        page = context.new_page()
        page.goto(f"{site.base}/form?{query}")
        page.wait_for_function("window.skewguard !== undefined")
        if page.evaluate("window.skewguard.version") == version:
            page.evaluate("sessionStorage.setItem('loads', '1')")
            return page
        page.close()
    raise AssertionError(f"no page rendered by {version}")


def test_mid_rollout_no_tab_moves_and_none_is_downgraded(site_factory, context):
    site = site_factory("flip-registry")  # flipA: active; flipB: newer, retained (rolling out)
    old = open_on(context, site, "flipA", "policy=reload&poll=200")
    newer = open_on(context, site, "flipB", "policy=reload&poll=200")
    old.click("#away")  # responses from flipB pass by: they decide nothing
    old.go_back()
    old.wait_for_function("window.skewguard !== undefined")
    page_versions = {old.evaluate("window.skewguard.version")}
    old.close()
    newer.wait_for_timeout(3000)  # ~15 polls, half of them answered by the older release
    assert newer.evaluate("window.skewguard.version") == "flipB" and loads(newer) == 1
    assert not newer.evaluate("window.skewguard.stale")  # not toward an older release, ever
    assert page_versions <= {"flipA", "flipB"}


def test_a_tab_of_the_active_release_ignores_a_newer_server(site_factory, context):
    site = site_factory("flip-registry")
    page = open_on(context, site, "flipA", "policy=reload&poll=200")
    page.wait_for_timeout(3000)
    assert loads(page) == 1 and not page.evaluate("window.skewguard.stale")


def test_a_reload_that_lands_on_a_server_behind_is_retried(site_factory, context):
    site = site_factory("flip-registry")
    page = open_on(context, site, "flipA", "policy=reload&poll=500")
    activated = run_cli("release", "activate", "flipB", "--registry-path", str(site.registry_path))
    assert activated.returncode == 0, activated.stderr
    # flipA's server is now behind the fleet: reloads land on it half the time, and are retried
    # until the tab runs flipB; it then stays there.
    page.wait_for_function(
        "window.skewguard && window.skewguard.version === 'flipB'", timeout=30000
    )
    settled = loads(page)
    page.wait_for_timeout(3000)
    assert page.evaluate("window.skewguard.version") == "flipB" and loads(page) == settled
    assert settled <= 1 + 5  # retries are bounded


def test_two_releases_alternating_cause_at_most_one_reload_per_tab(site_factory, context):
    site = site_factory("flip")  # no registry: two releases answering in turn, misconfigured
    tabs = [context.new_page() for _ in range(3)]
    messages: list[str] = []
    for tab in tabs:
        tab.on("console", lambda m: messages.append(m.text))
        tab.goto(f"{site.base}/form?policy=reload&poll=200")
    started = time.monotonic()
    while time.monotonic() - started < 120:  # two minutes, ~600 polls per tab
        tabs[0].wait_for_timeout(1000)
    for tab in tabs:
        tab.wait_for_function("window.skewguard !== undefined")
        assert loads(tab) <= 2, f"{loads(tab)} page loads"
    assert any("loop guard" in m for m in messages)  # said once it held a reload back


def test_a_module_preload_in_flight_holds_the_reload(site_factory, context):
    site = site_factory("asgi")
    page = context.new_page()
    page.goto(f"{site.base}/slow?policy=reload&poll=0")
    new = site.deploy()
    page.evaluate("() => { window.loadSlow(); }")  # 1.5 s to answer
    page.evaluate("window.skewguard.check()")  # the deploy is known while the chunk loads
    page.wait_for_function(
        f"window.skewguard && window.skewguard.version === {new!r}", timeout=10000
    )
    assert page.evaluate("sessionStorage.getItem('slow-at-reload')") == "slow module"


def test_a_tab_whose_reload_landed_behind_converges_once_that_server_catches_up(
    front_end, browser, tmp_path
):
    # Real nginx round-robin over two uvicorn servers and Redis. The new release is made active
    # before any server runs it (registered and activated in Redis), so the tab's reload lands on
    # the old release, whichever server answers. Once both servers are busted onto it, no answer
    # comes from a server behind any more, and the tab must still retry.
    from skewguard.releases.redis_registry import RedisRegistry

    from ..deploys.conftest import RedisServer
    from .test_rolling_deploy import RollingFleet

    redis_server = RedisServer(tmp_path)
    fleet = RollingFleet(front_end, tmp_path / "fleet", redis_server.url)
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(f"{fleet.base}/form?policy=reload&poll=500")
        page.wait_for_function("window.skewguard !== undefined")
        old = page.evaluate("window.skewguard.version")
        new = fleet.build()
        registry = RedisRegistry(redis_server.url)
        registry.register(new, activate_if_first=False)
        registry.activate(new)

        def tries() -> int:
            try:
                memory = page.evaluate("sessionStorage.getItem('skewguard:reloads')")
                return json.loads(memory or "{}").get("tries", {}).get(new, {}).get("n", 0)
            except Exception:  # mid-navigation
                return 0

        deadline = time.monotonic() + 15
        while tries() < 1:  # reloaded toward the new release, landed on the old one
            assert time.monotonic() < deadline, "the tab never tried to reload"
            page.wait_for_timeout(100)
        page.wait_for_function("window.skewguard !== undefined")
        assert page.evaluate("window.skewguard.version") == old
        fleet.replace("a")
        fleet.replace("b")
        caught_up = time.monotonic()
        page.wait_for_function(
            f"window.skewguard && window.skewguard.version === {new!r}", timeout=15000
        )
        assert time.monotonic() - caught_up < 4
    finally:
        context.close()
        fleet.stop()
        redis_server.stop()


@pytest.mark.parametrize(
    "start, link, title, destination",
    [
        ("/inertia/other?", "home-link", "#component", "/inertia"),  # an Inertia visit
        ("/htmx?htmx=2&", "next", "#title", "/htmx/next"),  # an htmx boosted link
    ],
)
def test_a_click_while_a_reload_is_under_way_goes_to_the_click_destination(
    site_factory, context, start, link, title, destination
):
    # A second server on the same build directory and file registry, whose full page loads take
    # 2 s: the reload skewguard starts is still pending when the user clicks a link.
    import os
    import subprocess
    import sys

    import httpx

    from ..conftest import ROOT
    from ..processes import free_port, stop, wait_for_http

    site = site_factory("asgi")
    port = free_port()
    env = {
        **os.environ,
        "TEST_APP_KIND": "asgi",
        "SKEWGUARD_STATIC_ROOT": str(site.out),
        "SKEWGUARD_SECRET_KEY": "s3cret",
        "SKEWGUARD_VITE_HOT_FILE": "",
        "PYTHONPATH": str(ROOT),
        "TEST_REGISTRY_PATH": str(site.registry_path),
    }
    slow = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "tests.browser.slow_documents_site:app"]
        + ["--port", str(port), "--host", "127.0.0.1", "--log-level", "warning"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(base + "/version", slow, "slow site")
        page = context.new_page()
        page.goto(f"{base}{start}policy=reload&poll=0&slow-documents=1")
        page.wait_for_function(
            "window.skewguard !== undefined && (window.inertiaRouter || window.htmx)"
        )
        new = site.deploy()  # reaches the slow server through the shared registry
        deadline = time.monotonic() + 10
        while httpx.get(base + "/version", timeout=5).json()["version"] != new:
            assert time.monotonic() < deadline, "the bust did not reach the second server"
            time.sleep(0.1)
        # Stale: a reload of this page starts, its document 2 s away; the user clicks meanwhile
        # (in the page itself: Playwright's click would wait for the pending navigation).
        page.evaluate(
            f"window.skewguard.check().then(() => document.getElementById({link!r}).click())"
        )
        page.wait_for_function(
            f"window.skewguard && window.skewguard.version === {new!r}", timeout=15000
        )
        page.wait_for_selector(title)
        assert page.url.split("?")[0].endswith(destination)
        assert page.text_content(title) == ("Home" if link == "home-link" else "Next")
    finally:
        stop(slow)

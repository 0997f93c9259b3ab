"""Back/forward after a deploy: a restored page (bfcache on or off, held or not) checks the
version at once; one that nothing holds converges within 2 s, a held one waits, then converges."""

from __future__ import annotations

import time

import pytest

from ..conftest import CHROMIUM_FLAGS, require_tool

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def no_bfcache_browser(browser):
    instance = browser.browser_type.launch(
        executable_path=require_tool("chromium"),
        args=[*CHROMIUM_FLAGS, "--disable-features=BackForwardCache"],
        headless=True,
    )
    yield instance
    instance.close()


@pytest.fixture(params=["bfcache", "no-bfcache"])
def history_context(request, browser):
    chosen = (
        browser if request.param == "bfcache" else request.getfixturevalue("no_bfcache_browser")
    )
    ctx = chosen.new_context(permissions=["camera", "microphone"])
    yield ctx, request.param
    ctx.close()


def back_after_deploy(site, page, start: str) -> tuple[str, bool]:
    page.goto(f"{site.base}{start}")
    page.wait_for_function("window.skewguard !== undefined")
    page.evaluate("window.__restoredFromBfcache = false")
    page.evaluate(
        "window.addEventListener('pageshow', (e) => { window.__restoredFromBfcache = e.persisted; })"
    )
    page.click("#away")
    page.wait_for_function("document.title === 'Media next'")
    new = site.deploy()
    page.go_back()
    page.wait_for_function("window.skewguard !== undefined")
    return new, page.evaluate("window.__restoredFromBfcache === true")


def test_an_unheld_restored_page_converges_within_2_s(site_factory, history_context):
    context, mode = history_context
    site = site_factory("asgi")
    page = context.new_page()
    new, persisted = back_after_deploy(site, page, "/form?policy=reload&poll=0")
    started = time.monotonic()
    page.wait_for_function(
        f"window.skewguard && window.skewguard.version === {new!r}", timeout=5000
    )
    assert time.monotonic() - started <= 2.0
    assert page.url.split("?")[0].endswith("/form")
    if mode == "no-bfcache":
        assert not persisted  # a fresh load from the HTTP cache, checked all the same


def test_a_held_restored_page_waits_then_converges(site_factory, history_context):
    context, _ = history_context
    site = site_factory("asgi")
    page = context.new_page()
    new, _ = back_after_deploy(site, page, "/form?policy=reload&poll=0&hold=1")
    page.wait_for_function("window.skewguard.stale", timeout=5000)  # it checked at once
    boot = page.evaluate("window.__boot")
    page.wait_for_timeout(1500)
    assert page.evaluate("window.__boot") == boot  # held: waits
    page.evaluate("window.__release()")
    page.wait_for_function(
        f"window.skewguard && window.skewguard.version === {new!r}", timeout=5000
    )


def test_an_inertia_history_restore_during_a_call_waits_then_converges(site_factory, context):
    site = site_factory("asgi")
    page = context.new_page()
    page.goto(f"{site.base}/inertia?policy=reload&poll=0")
    page.wait_for_function("window.inertiaRouter !== undefined")
    boot = page.evaluate("window.__boot")
    page.evaluate("window.startCall()")
    page.wait_for_function("window.skewguard.holding.includes('call')", timeout=10000)
    page.click("#other-link")
    page.wait_for_function("(document.getElementById('component') || {}).textContent === 'Other'")
    new = site.deploy()
    page.go_back()  # the restored page checks at once, and the live camera holds it
    page.wait_for_function("window.skewguard.stale", timeout=2000)
    page.wait_for_timeout(1500)
    assert page.evaluate("window.__boot") == boot
    assert page.evaluate("window.__call.a.connectionState") == "connected"
    page.evaluate("window.endCall()")
    page.wait_for_function(
        f"window.skewguard && window.skewguard.version === {new!r}", timeout=5000
    )


def test_an_inertia_history_restore_checks_at_once(site_factory, context):
    site = site_factory("asgi")
    page = context.new_page()
    page.goto(f"{site.base}/inertia?policy=reload&poll=0")
    page.wait_for_function("window.inertiaRouter !== undefined")
    page.click("#other-link")
    page.wait_for_function("(document.getElementById('component') || {}).textContent === 'Other'")
    new = site.deploy()
    page.go_back()  # Inertia restores the Home page object from history: an old release's
    started = time.monotonic()
    page.wait_for_function(
        f"window.skewguard && window.skewguard.version === {new!r}", timeout=5000
    )
    assert time.monotonic() - started <= 2.0
    assert page.url.split("?")[0].endswith("/inertia")

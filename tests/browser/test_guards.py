"""Guards, the loop guard, tabs and chunk failures, in real Chromium."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser


def loads(page) -> int:
    return int(page.evaluate("sessionStorage.getItem('loads')"))


def test_a_dirty_form_blocks_the_reload_until_saved(site_factory, context):
    site = site_factory("asgi")
    page = context.new_page()
    page.goto(f"{site.base}/form?policy=reload&poll=300")
    boot = page.evaluate("window.__boot")
    page.fill("#message", "half-written thoughts")
    assert page.evaluate("window.skewguard.holding") == ["form"]
    new = site.deploy()
    page.wait_for_function("window.skewguard.stale", timeout=10000)
    page.wait_for_timeout(1200)
    assert page.evaluate("window.__boot") == boot
    assert page.input_value("#message") == "half-written thoughts"
    page.click("#save")  # submitted: a full POST, then the redirected page is the new release
    page.wait_for_function(
        f"window.skewguard && window.skewguard.version === {new!r}", timeout=10000
    )


def test_hold_blocks_until_release(site_factory, context):
    site = site_factory("wsgi")
    page = context.new_page()
    page.goto(f"{site.base}/form?policy=reload&poll=300")
    boot = page.evaluate("window.__boot")
    page.evaluate(
        "() => { window.__release = window.skewguard.hold('upload'); }"
    )  # not returned: Playwright would call it
    new = site.deploy()
    page.wait_for_function("window.skewguard.stale", timeout=10000)
    page.wait_for_timeout(1200)
    assert page.evaluate("window.__boot") == boot and page.evaluate("window.skewguard.holding") == [
        "upload"
    ]
    page.evaluate("window.__release()")
    page.wait_for_function(
        f"window.skewguard && window.skewguard.version === {new!r}", timeout=10000
    )


def test_a_playing_video_holds_and_pausing_releases(site_factory, context):
    site = site_factory("asgi")
    page = context.new_page()
    page.goto(f"{site.base}/media?policy=reload&poll=300")
    boot = page.evaluate("window.__boot")
    page.evaluate("window.playClip()")
    page.wait_for_function("window.skewguard.holding.includes('media')")
    new = site.deploy()
    page.wait_for_function("window.skewguard.stale", timeout=10000)
    page.wait_for_timeout(1200)
    assert page.evaluate("window.__boot") == boot
    assert page.evaluate("!document.getElementById('clip').paused")
    page.evaluate("window.pauseClip()")
    page.wait_for_function(
        f"window.skewguard && window.skewguard.version === {new!r}", timeout=10000
    )


def test_cancelable_events(site_factory, context):
    site = site_factory("asgi")
    page = context.new_page()
    page.goto(f"{site.base}/form?policy=reload&poll=300")
    boot = page.evaluate("window.__boot")
    page.evaluate(
        """document.addEventListener('skewguard:reload', e => { window.__reloadDetail = e.detail; e.preventDefault(); })"""
    )
    new = site.deploy()
    page.wait_for_function("window.__reloadDetail !== undefined", timeout=10000)
    detail = page.evaluate("window.__reloadDetail")
    assert detail["serverVersion"] == new and detail["url"] == page.url
    page.wait_for_timeout(800)
    assert page.evaluate("window.__boot") == boot  # the app said no


def test_loop_guard_stops_a_reload_storm(site_factory, context):
    site = site_factory(
        "flip"
    )  # two releases answering alternately, as a misconfigured balancer would
    page = context.new_page()
    page.goto(f"{site.base}/form?policy=reload&poll=200")
    page.wait_for_timeout(6000)
    assert loads(page) <= 3, f"{loads(page)} page loads in 6 s"
    page.wait_for_function("window.skewguard !== undefined")
    # Both releases share the default file registry (flipA active, flipB newer): neither tab is
    # stale, and none may reload more than the loop guard allows.


def test_two_tabs_one_polls_the_other_hears(site_factory, context):
    site = site_factory("asgi")
    polling = context.new_page()
    polling.goto(f"{site.base}/form?policy=warn&poll=300&tab=polling")
    quiet = context.new_page()
    quiet.goto(f"{site.base}/form?policy=warn&poll=0&tab=quiet")
    new = site.deploy()
    polling.wait_for_function("window.__staleSource === 'poll'", timeout=10000)
    quiet.wait_for_function("window.__staleSource === 'broadcast'", timeout=10000)
    assert quiet.evaluate("window.skewguard.serverVersion") == new
    polls = [r["query"].split("&")[0] for r in site.log() if r["path"] == "/version"]
    assert "tab=polling" in polls and "tab=quiet" not in polls  # the quiet tab never asked


def test_a_failed_chunk_load_leads_to_one_reload_when_safe(site_factory, context):
    site = site_factory("asgi")
    page = context.new_page()
    page.goto(f"{site.base}/lazy?policy=defer&poll=0")  # defer: only the failure makes it reload
    first_loads = loads(page)
    new = site.deploy(prune_old="js/lazy.js")  # the old chunk is gone from the server
    page.click("#lazy")  # import() of the pruned chunk fails
    page.wait_for_function(
        f"window.skewguard && window.skewguard.version === {new!r}", timeout=10000
    )
    page.wait_for_timeout(1500)
    assert loads(page) == first_loads + 1  # exactly one reload
    page.click("#lazy")
    page.wait_for_function("window.__lazy === 'lazy 1'")  # the new chunk loads


def test_fetch_wrapper_detects_and_the_reload_keeps_query_and_hash(site_factory, context):
    site = site_factory("asgi")
    page = context.new_page()
    page.goto(f"{site.base}/form?policy=reload&poll=0&fetch=1#section-2")
    boot = page.evaluate("window.__boot")
    new = site.deploy()
    page.evaluate(
        "() => { fetch('/fragment'); }"
    )  # the app's own fetch (not awaited: it reloads the page)
    page.wait_for_function(
        f"window.skewguard && window.skewguard.version === {new!r}", timeout=10000
    )
    assert page.evaluate("window.__boot") != boot
    assert page.url.endswith("/form?policy=reload&poll=0&fetch=1#section-2")


def test_a_canceled_stale_event_ignores_the_release(site_factory, context):
    site = site_factory("asgi")
    page = context.new_page()
    page.goto(f"{site.base}/form?policy=reload&poll=300")
    boot = page.evaluate("window.__boot")
    page.evaluate(
        "() => { window.skewguard.on('stale', (e) => { window.__seen = e.detail.serverVersion; return false; }); }"
    )
    new = site.deploy()
    page.wait_for_function(f"window.__seen === {new!r}", timeout=10000)
    page.wait_for_timeout(1000)
    assert page.evaluate("window.__boot") == boot and not page.evaluate("window.skewguard.stale")

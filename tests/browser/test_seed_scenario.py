"""The seed scenario: a deploy during a video call must not reload the page (Inertia, real
@inertiajs/core bundled by Vite, a real RTCPeerConnection on the fake camera, a playing video).
When the call ends, the page converges on the new release by its policy."""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = pytest.mark.browser
SHOTS = Path(__file__).resolve().parent.parent.parent / "test-results"


def start_call(page):
    page.click("#start-call")
    page.wait_for_function("window.skewguard.holding.includes('call')", timeout=15000)
    page.wait_for_function("document.getElementById('remote').currentTime > 0.2", timeout=15000)


def call_is_up(page) -> bool:
    return page.evaluate("window.__call && window.__call.a.connectionState === 'connected'")


@pytest.mark.parametrize("kind", ["asgi", "wsgi"])
@pytest.mark.parametrize("policy", ["reload", "defer", "prompt"])
def test_a_deploy_during_a_call(site_factory, context, kind, policy):
    site = site_factory(kind)
    page = context.new_page()
    page.goto(f"{site.base}/inertia?policy={policy}&poll=0")
    page.wait_for_function("window.inertiaRouter !== undefined")
    old = page.evaluate("window.skewguard.version")
    boot = page.evaluate("window.__boot")
    start_call(page)
    requests_before = len(site.log())

    new = site.deploy()
    page.click("#like")  # an Inertia POST that redirects (303) to an Inertia GET
    page.wait_for_function("(document.getElementById('likes') || {}).textContent === '1'")
    page.wait_for_function("window.skewguard.stale")
    page.click("#other-link")  # an Inertia GET visit
    page.wait_for_function("(document.getElementById('component') || {}).textContent === 'Other'")
    played = page.evaluate("document.getElementById('remote').currentTime")
    page.wait_for_timeout(1500)

    # The page stayed: no reload, the call is up, the video still plays.
    assert page.evaluate("window.__boot") == boot
    assert call_is_up(page)
    assert page.evaluate("document.getElementById('remote').currentTime") > played
    assert (
        page.evaluate("window.skewguard.version") == old
        and page.evaluate("window.skewguard.serverVersion") == new
    )
    # The server answered without a 409, and the requests carried the hold marker.
    after = [r for r in site.log()[requests_before:] if r["path"].startswith("/inertia")]
    assert [r["method"] for r in after][:2] == ["POST", "GET"] and len(after) >= 3
    assert all(r["status"] != 409 for r in after), after
    for r in after:
        assert r["hold_header"] == old, r  # the marker is a header, exactly one value
    assert any(r["stale"] == "1" for r in after)

    if policy == "prompt":
        banner = page.locator("[data-skewguard-banner]")
        banner.wait_for(state="visible")
        SHOTS.mkdir(exist_ok=True)
        page.screenshot(path=str(SHOTS / f"seed-{kind}-prompt-banner.png"))
        box = banner.bounding_box()
        viewport = page.viewport_size
        assert box and box["width"] > 100 and 0 <= box["y"] < viewport["height"]  # on screen
        page.focus("[data-skewguard-banner] button")
        assert page.evaluate("document.activeElement.textContent") == "Reload"
        assert page.get_attribute("[data-skewguard-banner]", "role") == "status"

    page.click("#end-call")  # the call ends: now the page may converge
    if policy == "reload":
        page.wait_for_function(
            f"window.skewguard && window.skewguard.version === {new!r}", timeout=15000
        )
    elif policy == "defer":
        page.wait_for_timeout(1500)
        assert page.evaluate("window.__boot") == boot  # never forced
        page.click("#home-link")  # the next navigation is a full page load
        page.wait_for_function(
            f"window.skewguard && window.skewguard.version === {new!r}", timeout=15000
        )
        assert page.url.split("?")[0].endswith("/inertia")
    else:
        page.wait_for_timeout(1000)
        assert page.evaluate("window.__boot") == boot
        page.click("[data-skewguard-banner] button")  # the banner's Reload
        page.wait_for_function(
            f"window.skewguard && window.skewguard.version === {new!r}", timeout=15000
        )
    assert page.evaluate("window.__boot") != boot
    assert page.text_content("#rendered-version") == new
    assert f"policy={policy}" in page.url  # the query survived the reload

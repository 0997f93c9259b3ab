"""Every Inertia major (0.11 as @inertiajs/inertia, 1, 2 and 3 as @inertiajs/core, each bundled
from npm by Vite) through repeated deploys during one call, and Inertia's 409 after a deploy."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser
MAJORS = ["0", "1", "2", "3"]  # 0: Inertia 0.11


def open_inertia(context, site, major: str, policy: str, path: str = "/inertia"):
    page = context.new_page()
    page.goto(f"{site.base}{path}?policy={policy}&poll=0&inertia={major}")
    page.wait_for_function("window.inertiaRouter !== undefined")
    return page


def wait_for(page, selector: str, text: str) -> None:
    page.wait_for_function(
        f"(document.querySelector({selector!r}) || {{}}).textContent === {text!r}", timeout=10000
    )


@pytest.mark.parametrize("policy", ["reload", "defer"])
@pytest.mark.parametrize("major", MAJORS)
def test_a_call_survives_two_deploys_with_visits_and_posts(site_factory, context, major, policy):
    site = site_factory("asgi")
    page = open_inertia(context, site, major, policy)
    old = page.evaluate("window.skewguard.version")
    boot = page.evaluate("window.__boot")
    first = site.deploy()  # the page does not know yet (no polling)
    before = len(site.log())
    # The visit follows the camera at once: the marker is there from the first moment.
    page.evaluate("window.startCall().then(() => document.getElementById('like').click())")
    wait_for(page, "#likes", "1")
    page.wait_for_function("window.__call && window.__call.a.connectionState === 'connected'")
    page.click("#other-link")
    wait_for(page, "#component", "Other")
    second = site.deploy()
    page.click("#like")
    wait_for(page, "#likes", "2")
    page.click("#other-link")
    wait_for(page, "#component", "Other")
    page.wait_for_timeout(1000)

    assert page.evaluate("window.__boot") == boot  # never reloaded during the call
    assert page.evaluate("window.__call.a.connectionState") == "connected"
    visits = [r for r in site.log()[before:] if r["path"].startswith("/inertia")]
    assert len(visits) >= 6 and all(r["status"] != 409 for r in visits), visits
    for r in visits:  # one value, the page's own release: no "v1, v1"
        assert r["hold_header"] == old and r["inertia_version"] == old, r
    assert first != second

    page.evaluate("window.endCall()")  # after the call the page converges
    if policy == "defer":
        page.wait_for_timeout(1000)
        assert page.evaluate("window.__boot") == boot
        page.click("#home-link")
    page.wait_for_function(
        f"window.skewguard && window.skewguard.version === {second!r}", timeout=15000
    )
    assert page.evaluate("window.__boot") != boot


@pytest.mark.parametrize("major", MAJORS)
def test_an_unguarded_409_lands_on_the_visits_target(site_factory, context, major):
    site = site_factory("asgi")
    page = open_inertia(context, site, major, "reload")
    listener = context.new_page()  # another tab of the same release: told at once
    listener.goto(f"{site.base}/form?policy=warn&poll=0")
    new = site.deploy()
    before = len(site.log())
    page.click("#other-link")
    page.wait_for_function(
        f"window.skewguard && window.skewguard.version === {new!r}", timeout=10000
    )
    assert page.url.split("?")[0].endswith("/inertia/other")
    wait_for(page, "#component", "Other")
    visits = [r for r in site.log()[before:] if r["path"] == "/inertia/other"]
    assert visits[0]["status"] == 409, visits
    listener.wait_for_function("window.__staleSource === 'broadcast'", timeout=5000)


def test_a_refused_reload_lets_the_visit_go_ahead(site_factory, context):
    site = site_factory("asgi")
    page = open_inertia(context, site, "3", "reload")
    page.evaluate("document.addEventListener('skewguard:reload', (e) => e.preventDefault())")
    new = site.deploy()
    page.evaluate("window.skewguard.check()")
    page.wait_for_function("window.skewguard.stale")
    page.click("#other-link")  # the client may not reload: the click still goes where it points
    page.wait_for_function(
        f"window.skewguard && window.skewguard.version === {new!r}", timeout=10000
    )
    assert page.url.split("?")[0].endswith("/inertia/other")
    wait_for(page, "#component", "Other")

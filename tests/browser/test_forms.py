"""What a user just did survives a deploy: a submitted protected form's answer is shown before the
page converges (htmx 4 and 2, Inertia), an answer with errors keeps the page held, one tab's hold
is not another's, a failed lazy import still fails for the app, the banner returns for a newer
release, and the loop-guard warning means what it says. Real Chromium, real htmx and Inertia."""

from __future__ import annotations

import json
import os

import pytest

pytestmark = pytest.mark.browser


def shown_at_reload(page) -> dict:
    return json.loads(page.evaluate("sessionStorage.getItem('shown-at-reload') || 'null'"))


@pytest.mark.parametrize("htmx", ["4", "2"])
def test_a_submitted_form_stays_until_its_answer_has_settled(site_factory, context, htmx):
    site = site_factory("asgi")
    page = context.new_page()
    page.goto(f"{site.base}/htmx/form?policy=reload&poll=0&htmx={htmx}")
    page.wait_for_function("window.htmx !== undefined")
    page.fill("#note", "hello")
    assert page.evaluate("window.skewguard.holding") == ["form"]
    new = site.deploy()
    page.click("#send-note")  # the answer says the server moved on; it must be seen first
    page.wait_for_function(
        f"window.skewguard && window.skewguard.version === {new!r}", timeout=10000
    )
    assert shown_at_reload(page) == {"saved": "saved hello", "settled": True, "error": None}


@pytest.mark.parametrize("htmx", ["4", "2"])
def test_an_answer_with_errors_keeps_the_form_held(site_factory, context, htmx):
    site = site_factory("asgi")
    page = context.new_page()
    page.goto(f"{site.base}/htmx/form?policy=reload&poll=0&htmx={htmx}")
    page.wait_for_function("window.htmx !== undefined")
    boot = page.evaluate("window.__boot")
    page.fill("#note", "   ")  # edited, but blank: the server answers 422 with the form again
    new = site.deploy()
    page.click("#send-note")
    page.wait_for_function(
        "(document.getElementById('note-error') || {}).textContent === 'a note is required'"
    )
    page.wait_for_function("window.skewguard.stale", timeout=10000)
    page.wait_for_timeout(1500)
    assert page.evaluate("window.__boot") == boot  # the error and the typed text are still there
    assert page.input_value("#note") == "   " and page.evaluate("window.skewguard.holding") == [
        "form"
    ]
    page.fill("#note", "fixed")
    page.click("#send-note")  # saved: now the page converges, after showing the answer
    page.wait_for_function(
        f"window.skewguard && window.skewguard.version === {new!r}", timeout=10000
    )
    assert shown_at_reload(page)["saved"] == "saved fixed"


def test_an_inertia_form_stays_until_its_answer_is_rendered(site_factory, context):
    site = site_factory("asgi")
    page = context.new_page()
    page.goto(f"{site.base}/inertia?policy=reload&poll=0")
    page.wait_for_function("window.inertiaRouter !== undefined")
    page.evaluate(
        """document.addEventListener('skewguard:reload', () => sessionStorage.setItem(
             'flash-at-reload', document.getElementById('flash').textContent))"""
    )
    page.fill("#note", "from inertia")
    new = site.deploy()
    page.click("#send-note")  # POST, 303, GET: the redirect's answer carries the flash message
    page.wait_for_function(
        f"window.skewguard && window.skewguard.version === {new!r}", timeout=10000
    )
    assert page.evaluate("sessionStorage.getItem('flash-at-reload')") == "saved from inertia"
    assert all(r["status"] != 409 for r in site.log() if r["path"].startswith("/inertia/note"))


def test_an_inertia_validation_error_keeps_the_page_held(site_factory, context):
    site = site_factory("asgi")
    page = context.new_page()
    page.goto(f"{site.base}/inertia?policy=reload&poll=0")
    page.wait_for_function("window.inertiaRouter !== undefined")
    boot = page.evaluate("window.__boot")
    page.fill("#note", " ")
    site.deploy()
    page.click("#send-note")
    page.wait_for_function(
        "(document.getElementById('note-error') || {}).textContent === 'a note is required'"
    )
    page.wait_for_timeout(1500)
    assert page.evaluate("window.__boot") == boot
    assert page.evaluate("window.skewguard.holding") == ["form"]


def test_one_tabs_hold_does_not_exempt_another_tab(site_factory, context):
    site = site_factory("asgi")
    held = context.new_page()
    held.goto(f"{site.base}/inertia?policy=reload&poll=0")
    held.wait_for_function("window.inertiaRouter !== undefined")
    held.evaluate("() => { window.__release = window.skewguard.hold('upload'); }")
    idle = context.new_page()
    idle.goto(f"{site.base}/inertia?policy=reload&poll=0")
    idle.wait_for_function("window.inertiaRouter !== undefined")
    held.click("#like")  # the held tab talks to the server: whatever it leaves is its own
    held.wait_for_function("(document.getElementById('likes') || {}).textContent === '1'")
    new = site.deploy()
    before = len(site.log())
    idle.click("#other-link")  # not held: Inertia's 409, then a full load of the link's target
    idle.wait_for_function(
        f"window.skewguard && window.skewguard.version === {new!r}", timeout=10000
    )
    assert idle.url.split("?")[0].endswith("/inertia/other")
    assert idle.text_content("#component") == "Other"
    visits = [r for r in site.log()[before:] if r["path"] == "/inertia/other"]
    assert visits[0]["status"] == 409 and visits[0]["hold_header"] is None, visits


def test_a_failed_lazy_import_still_fails_for_the_app(site_factory, context):
    site = site_factory("asgi")
    page = context.new_page()
    page.goto(f"{site.base}/inertia?policy=defer&poll=0")  # defer: only the failure reloads
    page.wait_for_function("window.inertiaRouter !== undefined")
    boot = page.evaluate("window.__boot")
    new = site.deploy()
    for name in os.listdir(site.out / "inertia" / "assets"):
        if name.startswith("lazy-part-"):  # the chunk the page would load is gone
            os.unlink(site.out / "inertia" / "assets" / name)
    page.evaluate(
        """() => { window.loadLazy().then(
             (m) => sessionStorage.setItem('lazy', 'resolved ' + typeof m),
             (e) => sessionStorage.setItem('lazy', 'rejected ' + e.name)); }"""
    )
    page.wait_for_function(
        f"window.skewguard && window.skewguard.version === {new!r}", timeout=10000
    )
    assert page.evaluate("window.__boot") != boot  # skewguard's reload came alongside
    assert page.evaluate("sessionStorage.getItem('lazy')") == "rejected TypeError"


def test_the_banner_comes_back_for_a_newer_release_after_later(site_factory, context):
    site = site_factory("asgi")
    page = context.new_page()
    page.goto(f"{site.base}/form?policy=prompt&poll=300")
    banner = page.locator("[data-skewguard-banner]")
    site.deploy()
    banner.wait_for(state="visible", timeout=10000)
    page.click("[data-skewguard-banner] [aria-label=Dismiss]")
    banner.wait_for(state="hidden")
    page.wait_for_timeout(1000)
    assert not banner.is_visible()  # "Later" holds for that release
    newer = site.deploy()
    page.wait_for_function(f"window.skewguard.serverVersion === {newer!r}", timeout=10000)
    banner.wait_for(state="visible", timeout=5000)


def test_the_loop_guard_warning_only_when_it_suppressed_a_reload(site_factory, context):
    site = site_factory("asgi")
    page = context.new_page()
    messages: list[str] = []
    page.on("console", lambda m: messages.append(m.text))
    page.goto(f"{site.base}/form?policy=reload&poll=200")
    new = site.deploy()
    page.wait_for_function(
        f"window.skewguard && window.skewguard.version === {new!r}", timeout=10000
    )
    page.wait_for_timeout(1500)
    assert not [m for m in messages if "loop guard" in m], messages

"""htmx (4 and 2, the real packages) after a deploy, under each policy, ASGI and WSGI."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser


def open_page(context, site, policy: str, htmx: str):
    page = context.new_page()
    messages: list[str] = []
    page.on("console", lambda m: messages.append(m.text))
    page.goto(f"{site.base}/htmx?policy={policy}&poll=0&htmx={htmx}")
    page.wait_for_function("window.htmx !== undefined")
    return page, messages, page.evaluate("window.__boot")


@pytest.mark.parametrize("kind", ["asgi", "wsgi"])
@pytest.mark.parametrize("htmx", ["4", "2"])
def test_reload_policy_reloads(site_factory, context, kind, htmx):
    site = site_factory(kind)
    page, _, boot = open_page(context, site, "reload", htmx)
    new = site.deploy()
    page.click("#load")  # an htmx request: its response says the server moved on
    page.wait_for_function(
        f"(document.getElementById('rendered-version') || {{}}).textContent === {new!r}"
    )
    assert page.evaluate("window.__boot") != boot  # a real reload, not a swap
    assert page.evaluate("window.skewguard.version") == new
    assert "htmx" in page.url and f"htmx={htmx}" in page.url  # query kept


@pytest.mark.parametrize("htmx", ["4", "2"])
def test_boosted_navigation_detects_the_deploy(site_factory, context, htmx):
    site = site_factory("asgi")
    page, _, boot = open_page(context, site, "reload", htmx)
    new = site.deploy()
    page.click("#next")  # hx-boost: the body is swapped over XHR/fetch
    page.wait_for_function(f"window.skewguard && window.skewguard.version === {new!r}")
    assert page.evaluate("window.__boot") != boot
    assert page.url.split("?")[0].endswith("/htmx/next")


@pytest.mark.parametrize("htmx", ["4", "2"])
def test_warn_policy_only_warns(site_factory, context, htmx):
    site = site_factory("asgi")
    page, messages, boot = open_page(context, site, "warn", htmx)
    old = page.evaluate("window.skewguard.version")
    site.deploy()
    page.click("#load")
    page.wait_for_selector("#fragment")
    page.wait_for_function("window.skewguard.stale")
    page.wait_for_timeout(1200)
    assert (
        page.evaluate("window.__boot") == boot and page.evaluate("window.skewguard.version") == old
    )
    assert any("skewguard" in m and "fleet runs" in m for m in messages)


def test_ignore_policy_injects_nothing(site_factory, context):
    site = site_factory("asgi")
    page, _, boot = open_page(context, site, "reload", "4")
    # Policy "ignore" is a server setting: a fresh server with it.
    site.stop()
    import os

    os.environ["SKEWGUARD_APP_VERSION_MISMATCH"] = "ignore"
    try:
        ignoring = site_factory("asgi")
    finally:
        del os.environ["SKEWGUARD_APP_VERSION_MISMATCH"]
    page.goto(f"{ignoring.base}/htmx?htmx=4")
    page.wait_for_function("window.htmx !== undefined")
    boot = page.evaluate("window.__boot")
    assert (
        page.evaluate("window.skewguard === undefined") and "data-skewguard" not in page.content()
    )
    ignoring.deploy()
    page.click("#load")
    page.wait_for_selector("#fragment")
    page.wait_for_timeout(1000)
    assert page.evaluate("window.__boot") == boot


@pytest.mark.parametrize("kind", ["asgi", "wsgi"])
@pytest.mark.parametrize("htmx", ["4", "2"])
def test_defer_policy_turns_the_next_boosted_click_into_a_full_load(
    site_factory, context, kind, htmx
):
    site = site_factory(kind)
    page, _, boot = open_page(context, site, "defer", htmx)
    old = page.evaluate("window.skewguard.version")
    new = site.deploy()
    page.click("#load")
    page.wait_for_selector("#fragment")
    page.wait_for_function("window.skewguard.stale")
    page.wait_for_timeout(800)
    assert (
        page.evaluate("window.__boot") == boot and page.evaluate("window.skewguard.version") == old
    )  # not forced
    page.click("#next")  # would be a boosted swap; becomes a full page load of its target
    page.wait_for_function(f"window.skewguard && window.skewguard.version === {new!r}")
    assert page.evaluate("window.__boot") != boot
    assert page.url.split("?")[0].endswith("/htmx/next")
    assert page.text_content("#title") == "Next"

"""A deploy on each real stack while tab A is in a video call and tab B is idle.

B ends up running the new release's code (its bundle's marker, not only the label). A is never
reloaded during the call: its Inertia visits or htmx requests get no 409 and its old lazy chunk
loads. When the call ends, A converges on the new code. By bust and by restart."""

from __future__ import annotations

import subprocess
import time

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# Two peers in the page over loopback with the fake camera: a real call, started after load so
# skewguard's client (loaded first) sees the RTCPeerConnection.
START_CALL = """async () => {
  const stream = await navigator.mediaDevices.getUserMedia({ video: true, audio: false });
  const a = new RTCPeerConnection(), b = new RTCPeerConnection();
  a.onicecandidate = (e) => e.candidate && b.addIceCandidate(e.candidate);
  b.onicecandidate = (e) => e.candidate && a.addIceCandidate(e.candidate);
  stream.getTracks().forEach((t) => a.addTrack(t, stream));
  await a.setLocalDescription(await a.createOffer());
  await b.setRemoteDescription(a.localDescription);
  await b.setLocalDescription(await b.createAnswer());
  await a.setRemoteDescription(b.localDescription);
  window.__call = { a, b, stream };
}"""
END_CALL = """() => {
  window.__call.stream.getTracks().forEach((t) => t.stop());
  window.__call.a.close(); window.__call.b.close();
  window.__call = null;
}"""


def settle(page, expression: str, timeout: float = 20.0):
    """Until ``expression`` is truthy in the page, across the page's own reloads."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = page.evaluate(expression)
            if last:
                return last
        except Exception as exc:  # noqa: BLE001 - a navigation in progress: look again
            last = exc
        time.sleep(0.2)
    raise AssertionError(f"{expression!r} never became true (last: {last!r})")


def open_tab(context, stack):
    page = context.new_page()
    statuses: list[tuple[str, int]] = []
    page.on("response", lambda r: statuses.append((r.url, r.status)))
    page.on("pageerror", lambda e: statuses.append(("pageerror", str(e))))
    page.on("console", lambda m: statuses.append(("console", m.text)))
    page.goto(stack.base + "/")
    settle(page, "window.skewguard && window.appRelease")
    page.evaluate("window.__boot = Math.random()")  # gone if the page ever reloads
    return page, statuses


def interact(page, stack) -> None:
    """What a user in the call does: an Inertia visit, or an htmx request."""
    if stack.kind == "inertia":
        settle(page, "window.inertiaRouter", timeout=5)
        page.evaluate("window.inertiaRouter.visit('/other')")
        settle(page, "(document.getElementById('component') || {}).textContent === 'Other'")
    else:
        page.click("#load")
        settle(page, "document.getElementById('fragment')")


@pytest.mark.parametrize("how", ["bust", "restart"])
@pytest.mark.parametrize("name", ["litestar-vite", "django", "django6", "flask-gunicorn"])
def test_a_deploy_during_a_call(stack_factory, context, name, how):
    stack = stack_factory(name)
    if name == "django6":  # the server really runs Django 6 on Python 3.13
        probe = "import django, sys; print(django.VERSION[0], *sys.version_info[:2])"
        out = subprocess.run([stack.python, "-c", probe], capture_output=True, text=True).stdout
        major, *python = (int(x) for x in out.split())
        assert major >= 6 and python >= [3, 12], out
    old = stack.version
    tab_a, a_statuses = open_tab(context, stack)
    tab_b, _ = open_tab(context, stack)
    assert tab_a.evaluate("window.appRelease") == "1"
    tab_a.evaluate(START_CALL)
    settle(tab_a, "window.skewguard.holding.includes('call')")

    new = stack.deploy(how)
    assert new != old

    # B, idle, converges on the new release's code, not only its label.
    settle(tab_b, "window.appRelease === '2'")
    assert tab_b.evaluate("window.skewguard.version") == new

    # A stays in its call on the old code, and keeps working.
    settle(tab_a, f"window.skewguard.serverVersion === {new!r}")
    assert tab_a.evaluate("window.__boot") is not None, "tab A was reloaded during the call"
    before = len(a_statuses)
    try:
        interact(tab_a, stack)
    except AssertionError:
        raise AssertionError(a_statuses) from None
    assert tab_a.evaluate("window.loadLazy()") == "lazy 1"  # the old release's chunk
    tab_a.wait_for_timeout(1000)
    assert tab_a.evaluate("window.__boot") is not None, "tab A was reloaded during the call"
    assert tab_a.evaluate("window.__call.a.connectionState") == "connected"
    assert tab_a.evaluate("window.appRelease") == "1"
    during = a_statuses[before:]
    assert during and all(status != 409 for _, status in during), during

    # The call ends: A converges on the new code.
    tab_a.evaluate(END_CALL)
    settle(tab_a, "window.appRelease === '2'")
    assert tab_a.evaluate("window.skewguard.version") == new

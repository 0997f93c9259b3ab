"""Refreshes docs/images/status-page.png: the status page for three hours of a simulated fleet
(a deploy an hour in, most tabs converging within minutes, a few held by calls for longer),
computed by the real recorder and page code and photographed by Chromium.

    .venv/bin/python scripts/status-page-screenshot.py
"""

from __future__ import annotations

import shutil
import sys
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from skewguard.releases import RegistryState, Release  # noqa: E402
from skewguard.telemetry import Beat, TabWindow  # noqa: E402
from skewguard.telemetry.page import status_page  # noqa: E402
from skewguard.telemetry.runtime import status_document  # noqa: E402

OLD, NEW = "5742c8f1af31", "61a5c860c04a"


def simulate(now: float) -> tuple[TabWindow, RegistryState]:
    window = TabWindow(window=330, max_tabs=100_000)
    known = {OLD, NEW}
    start, deploy = now - 3 * 3600, now - 2 * 3600
    tabs = 400
    for minute in range(180):
        t = start + minute * 60
        beats = []
        for tab in range(tabs + (minute % 7) * 9):
            converge_at = deploy + (tab % 40) * 20 + (4 * 3600 if tab % 97 == 0 else 0)
            release = NEW if t >= converge_at else OLD
            held = ("media", "capture", "call") if tab % 97 == 0 and release == OLD else ()
            first_new = release == NEW and t - 60 < converge_at
            beat = Beat(
                tab=f"tab{tab:08d}",
                release=release,
                stale=release == OLD and t >= deploy,
                held=held,
                chunk_errors=1 if tab == 3 and minute == 150 else 0,
                converged_from=OLD if first_new else None,
                stale_seconds=converge_at - deploy if first_new else None,
            )
            beats.append((t + (tab % 60), beat))
        for at, beat in sorted(beats, key=lambda pair: pair[0]):
            window.record(beat, known, at)
    iso = lambda t: datetime.fromtimestamp(t, UTC).isoformat(timespec="seconds")  # noqa: E731
    registry = RegistryState(
        (
            Release(OLD, OLD, iso(start - 86400), "retained"),
            Release(NEW, NEW, iso(deploy), "active"),
        )
    )
    return window, registry


def main() -> None:
    from playwright.sync_api import sync_playwright

    now = datetime.now(UTC).timestamp()
    window, registry = simulate(now)
    document = status_document(window.report(now - 1), registry, NEW)
    html = status_page(document)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=shutil.which("chromium"), args=["--no-sandbox", "--disable-gpu"]
        )
        page = browser.new_page(viewport={"width": 900, "height": 560})
        page.set_content(html)
        page.screenshot(path=str(ROOT / "docs" / "images" / "status-page.png"), full_page=True)
        browser.close()


if __name__ == "__main__":
    main()

"""Shared fixtures: real tools, real packages. Locally a missing tool skips; under CI=true it fails."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
IN_CI = os.environ.get("CI") == "true"
NPM_FIXTURE = ROOT / "tests" / "fixtures" / "npm"


def require_tool(name: str) -> str:
    """The path of a system tool the test drives for real."""
    path = shutil.which(name) or next(
        (p for p in (f"/usr/sbin/{name}", f"/sbin/{name}") if os.access(p, os.X_OK)), None
    )  # daemons such as nginx live in sbin, not always on PATH
    if path is None:
        message = f"{name} is not installed (make test installs it under CI=true)"
        if IN_CI:
            pytest.fail(f"CI: {message}")
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def npm_packages() -> Path:
    """node_modules of tests/fixtures/npm: real front-end packages from the npm registry."""
    modules = NPM_FIXTURE / "node_modules"
    marker = modules / ".package-lock.json"
    lock = NPM_FIXTURE / "package-lock.json"
    if not marker.exists() or marker.stat().st_mtime < lock.stat().st_mtime:
        npm = require_tool("npm")
        subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts"], cwd=NPM_FIXTURE, check=True
        )
    return modules


def run_cli(*args: str, cwd: str | Path | None = None) -> subprocess.CompletedProcess:
    """Run the installed ``skewguard`` command as a user would."""
    return subprocess.run(
        [sys.executable, "-m", "skewguard", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )


# Chromium's flags for every browser test (no network, fake camera and microphone).
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
    "--autoplay-policy=no-user-gesture-required",
]


@pytest.fixture(scope="session")
def browser():
    """One Chromium for the whole session, shared by every package: Playwright's sync API keeps an
    event loop running in this thread while it lives, so a second sync_playwright() would fail."""
    chromium = require_tool("chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(
            executable_path=chromium, args=CHROMIUM_FLAGS, headless=True
        )
        yield instance
        instance.close()

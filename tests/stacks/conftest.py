"""Fixtures of the stack tests: the browser tests' Chromium, and real npm packages (Vite,
@inertiajs/core, htmx) from tests/fixtures/browser."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from ..browser.conftest import FIXTURE, browser, context  # noqa: F401 - the same Chromium
from ..conftest import require_tool
from .servers import STACKS, Stack


@pytest.fixture(scope="session")
def node_modules() -> Path:
    modules = FIXTURE / "node_modules"
    marker = modules / ".package-lock.json"
    if (
        not marker.exists()
        or marker.stat().st_mtime < (FIXTURE / "package-lock.json").stat().st_mtime
    ):
        npm = require_tool("npm")
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=FIXTURE, check=True, timeout=600)
    return modules


@pytest.fixture
def stack_factory(node_modules, tmp_path):
    started: list[Stack] = []

    def make(name: str) -> Stack:
        stack = STACKS[name](tmp_path / name, node_modules)
        started.append(stack)
        stack.first_release()
        return stack

    yield make
    for stack in started:
        stack.stop()

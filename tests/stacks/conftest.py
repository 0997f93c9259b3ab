"""Fixtures of the stack tests: the browser tests' Chromium, and real npm packages (Vite,
@inertiajs/core, htmx) from tests/fixtures/browser."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from ..browser.conftest import FIXTURE, context  # noqa: F401 - the same Chromium
from ..conftest import IN_CI, ROOT, require_tool
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


# The same environment as the Makefile's venv313 target (keep the two package lists alike).
PY313_VENV = ROOT / ".venv313"
DJANGO6_PACKAGES = [
    "django>=6.1",
    "django-vite>=3.0",
    "inertia-django>=1.0",
    "uvicorn>=0.29",
    "brotli>=1.1",
    "zstandard>=0.22",
]


@pytest.fixture(scope="session")
def django6_python() -> str:
    """Python 3.13 (pyenv) in a venv of its own with Django 6 and this checkout: Django 6 needs
    Python 3.12 or later, the default venv runs 3.11 with Django 5.2 LTS."""
    pyenv = require_tool("pyenv")
    python = PY313_VENV / "bin" / "python"
    marker = PY313_VENV / ".installed"
    if not marker.exists() or marker.stat().st_mtime < (ROOT / "pyproject.toml").stat().st_mtime:
        found = subprocess.run(
            [pyenv, "which", "python"],
            env={**os.environ, "PYENV_VERSION": "3.13.0"},
            capture_output=True,
            text=True,
        )
        if found.returncode != 0:
            message = "pyenv has no Python 3.13.0 (pyenv install 3.13.0)"
            if IN_CI:
                pytest.fail(f"CI: {message}")
            pytest.skip(message)
        subprocess.run([found.stdout.strip(), "-m", "venv", str(PY313_VENV)], check=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", "-e", str(ROOT), *DJANGO6_PACKAGES],
            check=True,
            timeout=900,
        )
        marker.touch()
    return str(python)


@pytest.fixture
def stack_factory(node_modules, tmp_path, request):
    started: list[Stack] = []

    def make(name: str) -> Stack:
        if name == "django6":
            python = request.getfixturevalue("django6_python")
            stack: Stack = STACKS["django"](tmp_path / name, node_modules, python=python)
        else:
            stack = STACKS[name](tmp_path / name, node_modules)
        started.append(stack)
        stack.first_release()
        return stack

    yield make
    for stack in started:
        stack.stop()

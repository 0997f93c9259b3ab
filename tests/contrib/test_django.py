"""The Django integration, in a real Django project with the admin (one process per scenario:
Django's settings are per process)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from ..conftest import ROOT


@pytest.mark.parametrize(
    "scenario",
    ["check_collected", "middleware", "asgi", "asgi_blocking_endpoint", "checks", "inertia", "dev"],
)
def test_django(scenario, tmp_path):
    settings = "inertia_settings" if scenario == "inertia" else "settings"
    env = {
        **os.environ,
        "TEST_STATIC_ROOT": str(tmp_path / "static_root"),
        "PYTHONPATH": str(ROOT),
        "DJANGO_SETTINGS_MODULE": f"tests.contrib.django_project.{settings}",
        "TEST_DEBUG": "1" if scenario == "dev" else "0",
    }
    result = subprocess.run(
        [sys.executable, "-m", "tests.contrib.django_project.scenario", scenario],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0 and result.stdout.startswith("OK"), (
        result.stdout + result.stderr[-3000:]
    )

"""skewguard's collectstatic storage, through the real collectstatic command (one process per
scenario: Django's settings are per process). The scenarios are in django_storage_scenarios.py."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from ..conftest import ROOT

SCENARIOS = [
    "stale_output",
    "static_url",
    "missing_references",
    "default_ignore",
    "storage_api",
    "custom_manifest_storage",
    "save_manifest_keeps_fields",
    "dry_run",
    "non_local_output",
    "incremental",
    "copy_step_counts",
    "link_flag",
    "vite",
    "no_post_process",
]


def run_scenario(name: str, workdir, **env: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "tests.contrib.django_storage_scenarios", name, str(workdir)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), **env},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0 and result.stdout.strip().endswith("OK"), (
        result.stdout[-3000:] + result.stderr[-3000:]
    )


@pytest.mark.parametrize("name", SCENARIOS)
def test_collectstatic(name, tmp_path):
    run_scenario(name, tmp_path)


@pytest.mark.parametrize("mode", ["default", "off"])
def test_import_hook_option(mode, tmp_path):
    run_scenario("import_hook_option", tmp_path, IMPORT_HOOK_MODE=mode)


@pytest.mark.parametrize(
    "mode, env",
    [("default", {}), ("setting", {}), ("env", {"SKEWGUARD_COMPRESS": "0"})],
)
def test_compression_switch(mode, env, tmp_path):
    run_scenario("compression_switch", tmp_path, SCENARIO_COMPRESS=mode, **env)

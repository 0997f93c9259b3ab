"""Deploys on a Django project as its operators run them: management commands before and after
collectstatic, a bust that switches Django's and django-vite's URLs, and ``manage.py skewguard``
against a running server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from skewguard.tokens import verify_token

from ..conftest import ROOT
from ..processes import free_port, stop, wait_for_http


@pytest.fixture
def project(tmp_path) -> dict[str, str]:
    """The environment of the deploy test project (tests/contrib/django_project/deploy_settings)."""
    return {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "DJANGO_SETTINGS_MODULE": "tests.contrib.django_project.deploy_settings",
        "TEST_DEBUG": "0",
        "TEST_STATIC_ROOT": str(tmp_path / "static_root"),
        "TEST_STATIC_SRC": str(tmp_path / "src"),
        "TEST_VITE_MANIFEST": str(tmp_path / "vite-manifest.json"),
    }


def manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "django", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def write_release(env: dict[str, str], n: int) -> None:
    src = Path(env["TEST_STATIC_SRC"])
    (src / "css").mkdir(parents=True, exist_ok=True)
    (src / "css" / "site.css").write_text(f"body {{ color: #{n:06d}; }}\n")
    stamp = time.time() + 10 * n  # collectstatic copies only files newer by whole seconds
    os.utime(src / "css" / "site.css", (stamp, stamp))
    Path(env["TEST_VITE_MANIFEST"]).write_text("{}")


@pytest.mark.parametrize("scenario", ["bust_switches_renderers", "bust_needs_restart"])
def test_a_bust_switches_every_renderer_or_says_restart(scenario, project):
    """``{% static %}`` (the staticfiles storage) and django-vite's tags follow a bust; when one of
    them cannot, the bust answers "restart needed" and the process keeps its release whole."""
    result = subprocess.run(
        [sys.executable, "-m", "tests.contrib.django_project.deploys", scenario],
        cwd=ROOT,
        env=project,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0 and result.stdout.startswith("OK"), (
        result.stdout[-3000:] + result.stderr[-3000:]
    )


def test_migrate_and_test_run_before_collectstatic(project):
    """DEBUG off, nothing collected yet (CI, container entrypoints): commands are not blocked;
    the missing manifest is reported by ``check --deploy``."""
    write_release(project, 1)
    migrate = manage(project, "migrate", "--noinput")
    assert migrate.returncode == 0, migrate.stderr[-2000:]
    tests = manage(project, "test", "tests.contrib.django_project", "--noinput")
    assert tests.returncode == 0, tests.stderr[-2000:]
    assert "skewguard.E001" not in migrate.stderr + tests.stderr
    deploy = manage(project, "check", "--deploy")
    assert deploy.returncode == 1 and "skewguard.E001" in deploy.stderr, deploy.stderr


def test_manage_py_skewguard(project, tmp_path):
    env = {**project, "SKEWGUARD_REGISTRY": "file"}
    write_release(env, 1)
    # Before collectstatic: the commands that need no build work.
    for ttl, seconds in (("60", 60), ("10m", 600)):  # seconds, or a duration as the CLI's
        token = manage(env, "skewguard", "token", "--ttl", ttl)
        assert token.returncode == 0, token.stderr
        assert verify_token("django-test-secret", token.stdout.strip())
        assert seconds - 30 <= int(token.stdout.split(".")[1]) - time.time() <= seconds
    usage = manage(env, "skewguard", "nonsense")
    assert usage.returncode == 2 and "No such command" in usage.stderr, usage.stderr

    assert manage(env, "collectstatic", "--noinput", "-v0").returncode == 0
    first = manage(env, "skewguard", "version").stdout.split()[0]  # STATIC_ROOT by default

    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "django", "runserver", "--noreload", f"127.0.0.1:{port}"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(base + "/version", server, "runserver")
        assert httpx.get(base + "/version").json()["version"] == first

        # A deploy by bust over HTTP: the command signs the request with SECRET_KEY.
        write_release(env, 2)
        assert manage(env, "collectstatic", "--noinput", "-v0").returncode == 0
        second = manage(env, "skewguard", "version").stdout.split()[0]
        bust = manage(env, "skewguard", "bust", "--url", base + "/cache/bust")
        assert bust.returncode == 0 and bust.stdout.strip() == f"{first} -> {second}", bust
        assert httpx.get(base + "/version").json()["version"] == second

        # A deploy by bust through the release registry: no URL needed, every worker follows.
        write_release(env, 3)
        assert manage(env, "collectstatic", "--noinput", "-v0").returncode == 0
        third = manage(env, "skewguard", "version").stdout.split()[0]
        announced = manage(env, "skewguard", "bust")
        assert announced.returncode == 0 and third in announced.stdout, announced
        deadline = time.monotonic() + 5
        while httpx.get(base + "/version").json()["version"] != third:
            assert time.monotonic() < deadline, "the server did not follow the registry's bust"
            time.sleep(0.1)

        listed = manage(env, "skewguard", "release", "list", "--json")
        versions = [r["version"] for r in json.loads(listed.stdout)["releases"]]
        assert {first, second, third} <= set(versions), listed.stdout
        status = manage(env, "skewguard", "status")
        assert status.returncode == 0 and third in status.stdout, status  # the CLI's own view
        activated = manage(env, "skewguard", "release", "activate", third)
        assert activated.returncode == 0 and activated.stdout.strip() == f"activated {third}"
        pruned = manage(env, "skewguard", "prune", "--keep", "1", "--max-age", "1s", "--dry-run")
        assert pruned.returncode == 0 and "kept 1 release(s)" in pruned.stdout, pruned
        refused = manage(env, "skewguard", "bust", "--url", base + "/nowhere")
        assert refused.returncode == 1 and "404" in refused.stderr, refused
    finally:
        stop(server)

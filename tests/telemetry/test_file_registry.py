"""The file registry's recorder: two server processes on one machine share their counts through
the build directory, and the CLI reads them there."""

from __future__ import annotations

import json
import signal
import subprocess
import sys

import httpx
import pytest

from ..conftest import run_cli
from ..deploys.test_fleet import built, wait_until


@pytest.mark.parametrize("registry", ["file", "auto"])
def test_two_processes_share_counts_and_retire_warns(tmp_path, app_servers, registry):
    """With REGISTRY=file, and with the default (auto), which picks the file registry when the
    build directory is writable."""
    _, out, version = built(tmp_path, "blue")
    a = app_servers(STATIC_ROOT=str(out), REGISTRY=registry)
    b = app_servers(STATIC_ROOT=str(out), REGISTRY=registry)
    for server, tab, extra in (
        (a, "tab-aaaa-1", {}),
        (b, "tab-bbbb-2", {"held": "media"}),
        (a, "tab-cccc-3", {"stale": "1"}),
        (b, "tab-cccc-3", {"stale": "1"}),  # one tab, both processes: counted once
    ):
        params = {"tid": tab, "rel": version, **extra}
        assert httpx.get(server.base + "/version", params=params).status_code == 200

    def counted() -> dict:
        result = run_cli("status", "--static-root", str(out), "--json")
        assert result.returncode == 0, result.stderr
        return {
            r["version"]: (r["live"], r["stale"], r["held"])
            for r in json.loads(result.stdout)["releases"]
        }

    wait_until(lambda: counted() == {version: (3, 1, 1)}, 10)  # each process writes every second
    table = run_cli("status", "--static-root", str(out))
    assert version in table.stdout and "file recorder" in table.stdout

    # Retiring the active release is refused by the registry, but the warning comes first.
    retire = run_cli("release", "retire", version, "--static-root", str(out))
    assert f"live tabs still run {version} (3 tabs, 1 held)" in retire.stderr


def test_status_watch_refreshes_and_draws_the_last_hour(tmp_path, app_servers):
    _, out, version = built(tmp_path, "teal")
    server = app_servers(STATIC_ROOT=str(out), REGISTRY="file")
    httpx.get(server.base + "/version", params={"tid": "tab-watch-1", "rel": version})
    # --watch runs until interrupted: give it three seconds, then stop it like Ctrl-C would.
    watcher = subprocess.Popen(
        [sys.executable, "-m", "skewguard", "status", "--static-root", str(out), "--watch", "0.5"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # A shell's background job starts with SIGINT ignored, and Python keeps it so: give the
        # child the default, so that Python turns SIGINT into KeyboardInterrupt as at a terminal.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        stdout, _ = watcher.communicate(timeout=3)
    except subprocess.TimeoutExpired:
        watcher.send_signal(2)  # SIGINT
        stdout, _ = watcher.communicate(timeout=10)
    assert stdout.count("RELEASE") >= 3  # refreshed
    assert watcher.returncode == 0  # Ctrl-C ends --watch quietly
    assert f"{version:<16} active" in stdout and "█" in stdout  # one live tab: a full bar


def test_sparkline():
    from skewguard.telemetry.terminal import sparkline

    assert sparkline([0, 1, 2, 4, 8]) == "▁▂▃▅█"
    assert sparkline([]) == "" and sparkline([0, 0]) == "▁▁"
    line = sparkline([0, 4, 8])
    assert line[0] == "▁" and line[-1] == "█" and len(line) == 3


def test_status_on_a_build_no_server_has_run_says_so(tmp_path):
    _, out, _ = built(tmp_path, "blue")
    result = run_cli("status", "--static-root", str(out))
    assert result.returncode == 1, result.stderr
    assert result.stderr.strip() == (
        f"skewguard: error: no live-tab counts at {out} yet: no server with the file registry "
        "has run there (or give --redis-url or --url)"
    )
    nowhere = run_cli("status")
    assert nowhere.returncode == 2 and "say where the counts are" in nowhere.stderr

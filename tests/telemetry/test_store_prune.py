"""``skewguard prune --store`` refuses while a live tab runs a release it would drop, matches a
release published under its own id by the version its tabs report, and lets --pin-max-age end
a forgotten tab's hold. (With a real Chromium tab: tests/browser/test_live_tabs.py.)"""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from skewguard.build import BuildOptions, build
from skewguard.store import open_store
from skewguard.store.collect import load_releases
from skewguard.store.publish import publish

from ..conftest import run_cli
from ..deploys.test_fleet import wait_until
from ..store.conftest import build_release, write_site
from ..store.test_collect import _age


def counted(registry: Path) -> dict[str, int]:
    """Live tabs per release, as ``skewguard status`` reads them from the file registry."""
    result = run_cli("status", "--registry-path", str(registry), "--json")
    assert result.returncode == 0, result.stderr
    return {r["version"]: r["live"] for r in json.loads(result.stdout)["releases"] if r["live"]}


def beat_until_counted(server, registry: Path, tab: str, version: str) -> None:
    """One beat, then wait until the workers' counts show it (they write once a second)."""
    assert httpx.get(server.base + "/version", params={"tid": tab, "rel": version}).is_success
    wait_until(lambda: counted(registry) == {version: 1}, 10)


def test_store_prune_refuses_with_a_live_tab(tmp_path, app_servers, store_url):
    url = store_url  # file:// and a real S3 protocol server (moto)
    store = open_store(url)
    old = build_release(tmp_path, "r1", 1, extra_files=1)
    first = publish(str(old), store).release_id
    new = build_release(tmp_path, "r2", 2, extra_files=1)
    publish(str(new), store)
    _age(store, first, 100)
    server = app_servers(STATIC_ROOT=str(old), REGISTRY="file", TELEMETRY_WINDOW="3")
    registry = old / ".skewguard" / "registry.json"
    args = ("prune", "--store", url, "--keep", "1", "--max-age", "7d", "--pin-max-age", "365d")

    beat_until_counted(server, registry, "tab-store-1", first)
    refused = run_cli(*args, "--registry-path", str(registry))
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert f"live tabs still run {first} (1 tab)" in refused.stderr
    assert first in {r.id for r in load_releases(store)}

    # No more beats: once the window passes, the tab is gone and the prune goes ahead.
    wait_until(lambda: counted(registry) == {}, 10)
    pruned = run_cli(*args, "--registry-path", str(registry))
    assert pruned.returncode == 0, pruned.stderr
    assert "dropped 1" in pruned.stdout
    assert first not in {r.id for r in load_releases(store)}


def test_store_prune_matches_a_release_id_by_its_version(tmp_path, app_servers):
    """Published as ``commit-1`` (its own id); its tabs report the manifest hash."""
    url = f"file://{tmp_path / 'store'}"
    store = open_store(url)
    write_site(tmp_path / "src1", 1, 1)
    old = tmp_path / "r1"
    build([str(tmp_path / "src1")], str(old), BuildOptions(workers=1, release_id="commit-1"))
    publish(str(old), store)
    publish(str(build_release(tmp_path, "r2", 2, extra_files=1)), store)
    (record,) = [r for r in load_releases(store) if r.id == "commit-1"]
    assert record.version != record.id
    _age(store, "commit-1", 100)
    server = app_servers(STATIC_ROOT=str(old), REGISTRY="file", TELEMETRY_WINDOW="30")
    registry = old / ".skewguard" / "registry.json"
    args = ("prune", "--store", url, "--keep", "1", "--registry-path", str(registry))

    beat_until_counted(server, registry, "tab-commit-1", record.version)
    refused = run_cli(*args, "--pin-max-age", "365d")
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert f"live tabs still run {record.version} (1 tab)" in refused.stderr
    assert "commit-1" in {r.id for r in load_releases(store)}

    # Published 100 days ago: past the default --pin-max-age of 30 days, the tab no longer
    # keeps it. The prune warns and goes ahead.
    pruned = run_cli(*args)
    assert pruned.returncode == 0, pruned.stderr
    assert f"warning: {record.version} is older than --pin-max-age" in pruned.stderr
    assert "commit-1" not in {r.id for r in load_releases(store)}

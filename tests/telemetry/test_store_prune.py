"""``skewguard prune --store`` refuses while a live tab runs a release it would drop."""

from __future__ import annotations

import httpx

from skewguard.store import open_store
from skewguard.store.collect import load_releases
from skewguard.store.publish import publish

from ..conftest import run_cli
from ..deploys.test_fleet import wait_until
from ..store.conftest import build_release
from ..store.test_collect import _age


def test_store_prune_refuses_with_a_live_tab(tmp_path, app_servers):
    url = f"file://{tmp_path / 'store'}"
    store = open_store(url)
    old = build_release(tmp_path, "r1", 1, extra_files=1)
    first = publish(str(old), store).release_id
    new = build_release(tmp_path, "r2", 2, extra_files=1)
    publish(str(new), store)
    _age(store, first, 100)
    server = app_servers(STATIC_ROOT=str(old), REGISTRY="file", TELEMETRY_WINDOW="3")
    registry = old / ".skewguard" / "registry.json"
    args = ("prune", "--store", url, "--keep", "1", "--max-age", "7d")

    def refused() -> bool:
        httpx.get(server.base + "/version", params={"tid": "tab-store-1", "rel": first})
        result = run_cli(*args, "--registry-path", str(registry))
        return result.returncode == 1 and f"live tabs still run {first} (1 tab)" in result.stderr

    wait_until(refused, 10)
    assert first in {r.id for r in load_releases(store)}
    wait_until(lambda: run_cli(*args, "--registry-path", str(registry)).returncode == 0, 15)
    assert first not in {r.id for r in load_releases(store)}  # the window passed: pruned

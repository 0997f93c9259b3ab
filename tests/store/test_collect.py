"""Garbage collection of the store by reference: ``skewguard prune --store``."""

from __future__ import annotations

import json
import os
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

from skewguard.build import BuildOptions, build
from skewguard.store import open_store
from skewguard.store.collect import collect, current_release, load_releases
from skewguard.store.layout import CURRENT, FILES, release_key
from skewguard.store.publish import publish

from ..conftest import run_cli
from .conftest import build_release, write_site


def _age(store, release_id: str, days: int) -> None:
    """Make a release look published ``days`` ago (what months of waiting would do)."""
    record = json.loads(store.get(release_key(release_id)))
    record["published_at"] = (datetime.now(UTC) - timedelta(days=days)).isoformat()
    store.put(release_key(release_id), json.dumps(record).encode())


def _names(store) -> set[str]:
    return {info.key[len(FILES) :] for info in store.list(FILES)}


def _publish_four(tmp_path: Path, url: str) -> list[tuple[str, set[str]]]:
    """Four releases; every one shares shared-*.txt, each has its own chunk and stylesheet."""
    store = open_store(url)
    releases = []
    for n in range(1, 5):
        out = build_release(tmp_path, f"r{n}", n, extra_files=3)
        report = publish(str(out), store)
        record = next(r for r in load_releases(store) if r.id == report.release_id)
        releases.append((report.release_id, set(record.objects)))
    for days, (release_id, _) in zip((300, 200, 100, 0), releases, strict=True):
        _age(store, release_id, days)
    if url.startswith("file://"):  # objects untouched for a year: age alone must not matter
        root = Path(url[len("file://") :]) / "files"
        old = (datetime.now(UTC) - timedelta(days=365)).timestamp()
        for path in root.rglob("*"):
            os.utime(path, (old, old))
    return releases


def test_prune_deletes_only_what_no_retained_release_references(tmp_path, store_url):
    releases = _publish_four(tmp_path, store_url)
    store = open_store(store_url)
    before = _names(store)
    (r1, o1), (r2, o2), (r3, o3), (r4, o4) = releases
    assert o1 & o4  # shared objects, unchanged since release 1

    dry = run_cli("prune", "--store", store_url, "--keep", "2", "--max-age", "7d", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert _names(store) == before  # --dry-run deletes nothing
    assert {r.id for r in load_releases(store)} == {r1, r2, r3, r4}
    expected = (o1 | o2) - (o3 | o4)
    assert expected
    assert {
        line.split("would delete files/", 1)[1]
        for line in dry.stdout.splitlines()
        if "files/" in line
    } == expected
    assert "would drop 2" in dry.stdout

    result = run_cli("prune", "--store", store_url, "--keep", "2", "--max-age", "7d")
    assert result.returncode == 0, result.stderr
    assert f"deleted {len(expected)} object(s); kept 2 release(s), dropped 2" in result.stdout
    assert _names(store) == before - expected
    assert o3 | o4 <= _names(store)  # everything retained releases use, old or not
    assert o1 & o4 <= _names(store)
    assert {r.id for r in load_releases(store)} == {r3, r4}
    assert current_release(store) == r4


def test_prune_never_drops_the_current_release(tmp_path, store_url):
    releases = _publish_four(tmp_path, store_url)
    store = open_store(store_url)
    (r1, o1), _, _, (r4, o4) = releases
    # A rollback: the oldest release is current again.
    store.put(CURRENT, json.dumps({"release": r1, "version": "x"}).encode())
    plan = collect(store, keep=1, max_age=timedelta(days=1))
    assert sorted(plan.kept) == sorted([r1, r4])
    assert o1 | o4 <= _names(store)


def test_prune_keeps_young_releases_whatever_the_count(tmp_path, store_url):
    releases = _publish_four(tmp_path, store_url)
    store = open_store(store_url)
    plan = collect(store, keep=1, max_age=timedelta(days=250))
    assert plan.kept == [r for r, _ in releases[1:]]


class _Pausing:
    """The real store, with a pause at one call: a concurrent step runs meanwhile."""

    def __init__(self, store, method: str, prefix: str, before: bool = False):
        self.store, self.method, self.prefix, self.before = store, method, prefix, before
        self.url = store.url
        self.reached, self.go = threading.Event(), threading.Event()

    def __getattr__(self, name):
        real = getattr(self.store, name)
        if name != self.method:
            return real

        def call(key, *args, **kwargs):
            if self.before:
                self._pause(key)
            result = real(key, *args, **kwargs)
            if not self.before:
                self._pause(key)
            return result

        return call

    def _pause(self, key: str) -> None:
        if key.startswith(self.prefix) and not self.reached.is_set():
            self.reached.set()
            assert self.go.wait(30)


def _rebuild_release_one(tmp_path: Path) -> Path:
    """Release 1's files again under a new release id: every object exists in the store."""
    src = tmp_path / "again-src"
    write_site(src, 1, extra_files=3)
    out = tmp_path / "again"
    build([str(src)], str(out), BuildOptions(workers=1, release_id="again"))
    return out


def test_prune_during_a_publish_keeps_what_the_publish_just_referenced(tmp_path, store_url):
    releases = _publish_four(tmp_path, store_url)
    r1_objects = releases[0][1]
    out = _rebuild_release_one(tmp_path)
    # The publish has decided to skip release 1's objects (present) and is about to write its
    # release record.
    paused = _Pausing(open_store(store_url), "put", "releases/", before=True)
    result: dict = {}
    worker = threading.Thread(target=lambda: result.update(r=publish(str(out), paused)))
    worker.start()
    assert paused.reached.wait(30)
    # Now a prune drops release 1, whose objects the publish is about to reference.
    try:
        plan = collect(open_store(store_url), keep=1, max_age=timedelta(days=1))
    finally:
        paused.go.set()
    worker.join(30)
    assert releases[0][0] in plan.dropped
    store = open_store(store_url)
    assert current_release(store) == "again" and result["r"].uploaded == 0
    record = next(r for r in load_releases(store) if r.id == "again")
    assert set(record.objects) <= _names(store)
    assert r1_objects - {n for n in r1_objects if n.startswith("__skewguard/")} <= _names(store)
    assert plan.leased > 0


def test_a_publish_waits_for_a_running_prune(tmp_path, store_url):
    releases = _publish_four(tmp_path, store_url)
    out = _rebuild_release_one(tmp_path)
    # The prune has planned (release 1 dropped) and is deleting when the publish starts.
    paused = _Pausing(open_store(store_url), "delete", FILES)
    prune = threading.Thread(target=lambda: collect(paused, keep=1, max_age=timedelta(days=1)))
    prune.start()
    assert paused.reached.wait(30)
    result: dict = {}
    worker = threading.Thread(
        target=lambda: result.update(r=publish(str(out), open_store(store_url)))
    )
    worker.start()
    worker.join(1.0)
    assert worker.is_alive()  # waiting for the prune's lock
    paused.go.set()
    prune.join(30)
    worker.join(30)
    store = open_store(store_url)
    assert current_release(store) == "again" and result["r"].uploaded > 0  # re-uploaded
    record = next(r for r in load_releases(store) if r.id == "again")
    assert set(record.objects) <= _names(store)
    assert releases[0][0] not in {r.id for r in load_releases(store)}


def test_prune_store_errors_are_one_line(tmp_path):
    result = run_cli("prune", "--store", "s3://", "--keep", "2")
    assert result.returncode == 1 and "name the bucket" in result.stderr
    result = run_cli("prune")
    assert result.returncode == 2 and "give a build DIRECTORY or --store URL" in result.stderr

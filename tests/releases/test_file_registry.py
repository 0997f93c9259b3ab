"""The file registry's writes: a change is written once, an unchanged state never."""

from __future__ import annotations

import os

from skewguard.releases import FileRegistry


def _identity(path: str) -> tuple[int, int]:
    st = os.stat(path)
    return st.st_ino, st.st_mtime_ns


def test_joining_the_active_release_leaves_the_file_untouched(tmp_path):
    path = str(tmp_path / "registry.json")
    first = FileRegistry(path).join("r1")
    assert first.active is not None and first.active.version == "r1" and first.bust == 1
    written = _identity(path)
    # A second worker (or a restart) on the release that is already active: nothing to say,
    # so no other worker's watcher is woken by a rewrite.
    again = FileRegistry(path).join("r1")
    assert again == first
    assert _identity(path) == written
    FileRegistry(path).register("r1")  # already registered: unchanged as well
    assert _identity(path) == written
    # A real change is still written.
    after = FileRegistry(path).join("r2")
    assert after.active is not None and after.active.version == "r2" and after.bust == 2
    assert _identity(path) != written
    assert FileRegistry(path).state() == after

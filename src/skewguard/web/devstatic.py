"""Dev mode: files straight from the source directories, checked on every request."""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Mapping

from .responder import Header, StaticResponse, StaticTable, make_entry, respond


def safe_join(root: str, name: str) -> str | None:
    """``root/name`` if it is a regular file inside ``root`` (symlinks resolved); else None.

    ``name`` is the decoded URL path: anything that could climb out is refused before the
    filesystem is asked.
    """
    if not name or len(name) > 1024 or "\x00" in name or "\\" in name or name.startswith("/"):
        return None
    parts = name.split("/")
    if any(part in ("", ".", "..") for part in parts):
        return None
    real_root = os.path.realpath(root)
    candidate = os.path.realpath(os.path.join(real_root, *parts))
    if os.path.commonpath([candidate, real_root]) != real_root:
        return None
    try:
        st = os.stat(candidate)
    except (OSError, ValueError):
        return None
    return candidate if stat.S_ISREG(st.st_mode) else None


class DiskStatic:
    """Files straight from directories, looked up on every request (dev mode, root files).

    Canonical names only (nothing is hashed in dev), ``no-cache`` with a strong ETag from the
    file's bytes, hashed once per (path, mtime_ns, size).
    """

    def __init__(
        self, roots: list[str], extra: list[Header], file_headers: list[Header] | None = None
    ):
        self.roots = [r for r in roots if r]
        self.table = StaticTable("", {}, extra, file_headers)
        self.hashes = ContentHashCache()

    def respond(self, name: str, method: str, headers: Mapping[str, str]) -> StaticResponse | None:
        for root in self.roots:
            path = safe_join(root, name)
            if path is None:
                continue
            try:
                st = os.stat(path)
                digest = self.hashes.digest(path, st)
            except OSError:
                continue
            entry = make_entry(path, st, digest[:16], False, {}, self.table.file_headers)
            response = respond(entry, method, headers, self.table)
            if response.file is not None:
                response.file_ino = st.st_ino
            return response
        return None

    def refresh(self, name: str) -> None:
        """Nothing is kept between requests."""


class ContentHashCache:
    """sha256 of a file's bytes, recomputed only when (mtime_ns, size) changes."""

    def __init__(self) -> None:
        self._cache: dict[str, tuple[int, int, str]] = {}

    def digest(self, path: str, st: os.stat_result | None = None) -> str:
        st = st or os.stat(path)
        cached = self._cache.get(path)
        if cached is not None and cached[0] == st.st_mtime_ns and cached[1] == st.st_size:
            return cached[2]
        with open(path, "rb") as fh:
            digest = hashlib.sha256(fh.read()).hexdigest()
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[path] = (st.st_mtime_ns, st.st_size, digest)
        return digest

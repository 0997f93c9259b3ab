"""Hashed files of a build that finished after this worker loaded its static table.

While a bust is under way, the worker that received it already renders pages naming the new
release's files, and another worker may not have applied the bust yet. Hashed names are
content-addressed and immutable, so serving them as soon as the build has recorded them is
always right: this source answers the static table's misses with the files the build
directory's release history lists, read again whenever the history changes.
"""

from __future__ import annotations

import hashlib
import os
import stat
import threading

from ..build.errors import BuildError
from ..build.history import HISTORY_PATH, load_history
from ..encodings import SUFFIX
from ..web.responder import FallbackSource, Header, StaticEntry, make_entry


class NewerBuildFiles:
    """A ``FallbackSource`` over the build directory ``root``; misses go on to ``then``."""

    def __init__(
        self, root: str, file_headers: list[Header], then: FallbackSource | None = None
    ) -> None:
        self.root = os.path.realpath(root)
        self.file_headers = file_headers
        self.then = then
        self._history = os.path.join(self.root, HISTORY_PATH)
        self._seen: tuple[int, int, int] | None = None
        self._names: frozenset[str] = frozenset()
        self._entries: dict[str, StaticEntry] = {}
        self._lock = threading.Lock()

    def lookup(self, name: str) -> StaticEntry | None:
        entry = self._lookup(name)
        if entry is None and self.then is not None:
            return self.then.lookup(name)
        return entry

    def _lookup(self, name: str) -> StaticEntry | None:
        with self._lock:
            self._reread_history()
            if name not in self._names:
                return None
            cached = self._entries.get(name)
            if cached is not None:
                return cached
            entry = self._entry(name)
            if entry is not None:
                self._entries[name] = entry
            return entry

    def _reread_history(self) -> None:
        """One stat per miss; the history is parsed again only when the build rewrote it."""
        try:
            st = os.stat(self._history)
        except OSError:
            return
        key = (st.st_ino, st.st_size, st.st_mtime_ns)
        if key == self._seen:
            return
        try:
            records = load_history(self.root)
        except BuildError:
            return  # unreadable: serve nothing more than the table does
        self._seen = key
        self._names = frozenset(n for r in records for n in r.files if isinstance(n, str))
        self._entries = {}

    def _entry(self, name: str) -> StaticEntry | None:
        path = os.path.realpath(os.path.join(self.root, name))
        if not path.startswith(self.root + os.sep):
            return None  # a history entry pointing outside the directory is not ours to serve
        try:
            st = os.stat(path)
        except OSError:
            return None
        if not stat.S_ISREG(st.st_mode):
            return None
        encodings = {}
        for encoding, suffix in SUFFIX.items():
            if name + suffix in self._names:
                continue  # a file in its own right (data.csv.gz beside data.csv), not a variant
            try:
                encodings[encoding] = os.stat(path + suffix)
            except OSError:
                pass
        content_hash = hashlib.sha256(name.encode()).hexdigest()[:16]  # the name is the content
        return make_entry(path, st, content_hash, True, encodings, self.file_headers)

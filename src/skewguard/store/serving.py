"""Serving old releases' files from the store: the static table's fallback source.

A hashed name the local table lacks is looked up (``StoreSource.lookup``, the table's
``FallbackSource``) in the index of every retained release
(built from the store's release records, refreshed in the background). A name in no retained
release is a 404 at once, without asking the store. A known name is fetched once, with its
precompressed siblings, into a size-bounded local cache, and from then on answered exactly like
a local file (same headers, ETag, Range and encodings) by the same responder.

The store being slow or down never turns into a 500 or a stall: every fetch is bounded by the
store's timeout, a failure is a 503 (or a 404 for an object the store lost) with one log line,
and for a few seconds after an outage further misses get their 503 without waiting again.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass

from ..encodings import SUFFIX as ENCODING_SUFFIX
from ..manifest import FileInfo, Manifest
from ..web.responder import (
    MEMORY_FILE_LIMIT,
    StaticEntry,
    StaticResponse,
    StaticTable,
    make_entry,
)
from ..web.responder import _content_hash as content_hash
from .backend import StoreBackend, StoreError, StoreMissing
from .collect import load_releases
from .layout import FILES, ReleaseRecord, parse_time

logger = logging.getLogger("skewguard")

REFRESH_SECONDS = 30.0  # how often the index of retained releases is re-read
OUTAGE_BACKOFF = 5.0  # after a failed fetch, misses answer 503 at once for this long


@dataclass(frozen=True)
class StoredFile:
    release: str
    info: FileInfo
    built_at: float  # seconds: Last-Modified of the served file
    compression: Mapping[str, int] | None  # levels to compress with; None: siblings are stored


class StoreSource:
    """The store as a source of files, shared by every reload of one process."""

    def __init__(self, store: StoreBackend, cache_dir: str, cache_bytes: int):
        self.store = store
        self.cache_bytes = cache_bytes
        base = cache_dir or tempfile.gettempdir()
        os.makedirs(base, exist_ok=True)
        # One directory per process: a worker evicting a file never pulls it from under another.
        self.cache_root = tempfile.mkdtemp(prefix=f"skewguard-store-{os.getpid()}-", dir=base)
        self.index: dict[str, StoredFile] = {}
        self.releases: tuple[str, ...] = ()
        self.versions: dict[str, str] = {}  # release id -> version
        self._records: dict[tuple[str, int], ReleaseRecord] = {}  # by (key, size)
        self._indexed_at = 0.0
        self._refreshing = False
        self._lock = threading.Lock()
        self._fetch_locks: dict[str, threading.Lock] = {}
        self._down_until = 0.0
        self._cached: OrderedDict[str, tuple[StaticEntry, int]] = OrderedDict()
        self._cached_bytes = 0
        self._extra: list[tuple[bytes, bytes]] = []
        self.refresh()

    # -- the index of retained releases --------------------------------------------------------

    def refresh(self) -> bool:
        """Re-read the store's release records; False (and a log line) when it is unreachable."""
        try:
            records = load_releases(self.store, self._records)
        except StoreError as exc:
            logger.warning("skewguard: release store: cannot read the retained releases: %s", exc)
            with self._lock:
                self._indexed_at = time.monotonic()
                self._refreshing = False
            return False
        index: dict[str, StoredFile] = {}
        for record in records:  # oldest first: a name's newest record wins
            built = parse_time(record.built_at or record.published_at).timestamp()
            for name, info in record.manifest.files.items():
                index[name] = StoredFile(record.id, info, built, record.compression)
        with self._lock:
            self.index = index
            self.releases = tuple(r.id for r in records)
            self.versions = {r.id: r.version for r in records}
            self._indexed_at = time.monotonic()
            self._refreshing = False
        return True

    def _refresh_soon(self) -> None:
        """Re-read the index in the background when it is old: requests never wait for it."""
        if self._refreshing or time.monotonic() - self._indexed_at < REFRESH_SECONDS:
            return  # the common case, decided without the lock
        with self._lock:
            if self._refreshing or time.monotonic() - self._indexed_at < REFRESH_SECONDS:
                return
            self._refreshing = True
        threading.Thread(target=self.refresh, name="skewguard-store-index", daemon=True).start()

    # -- answering -----------------------------------------------------------------------------

    def knows(self, name: str) -> bool:
        return name in self.index

    def is_cached(self, name: str) -> bool:
        return name in self._cached

    def lookup(self, name: str) -> StaticEntry | None:
        """The entry for ``name`` (fetched into the cache if need be); None when no retained
        release has it, the store lost it, or the store is unreachable (``unavailable()`` then
        says so)."""
        self._refresh_soon()
        cached = self._cached.get(name)
        if cached is not None:
            try:
                self._cached.move_to_end(name)  # least recently used goes first
            except KeyError:
                pass  # evicted by another thread meanwhile: this answer still has its entry
            return cached[0]
        stored = self.index.get(name)
        if stored is None:
            return None
        fetched = self._fetch(name, stored)
        return fetched[0] if fetched is not None else None

    def unavailable(self, name: str) -> bool:
        """True when ``name`` belongs to a retained release but the store could not be reached
        for it just now (the answer is then a 503, not a 404)."""
        return (
            name in self.index and name not in self._cached and time.monotonic() < self._down_until
        )

    def use_headers(self, extra: list[tuple[bytes, bytes]]) -> None:
        """Headers every file answer carries (X-App-Version, Access-Control-Allow-Origin): a
        reload that changes them empties the cache, whose entries have them built in."""
        with self._lock:
            if extra == self._extra:
                return
            for name in list(self._cached):
                self._forget_locked(name)
            self._extra = extra

    def _fetch(self, name: str, stored: StoredFile) -> tuple[StaticEntry, int] | None:
        with self._lock:
            lock = self._fetch_locks.setdefault(name, threading.Lock())
        with lock:  # one fetch per name, however many requests wait for it
            cached = self._cached.get(name)
            if cached is not None:
                return cached
            if time.monotonic() < self._down_until:
                return None
            stored_siblings = stored.compression is None
            variants = [(None, name)] + [
                (enc, name + ENCODING_SUFFIX[enc])
                for enc in stored.info.encodings
                if enc in ENCODING_SUFFIX and stored_siblings
            ]
            bodies: dict[str | None, bytes] = {}
            started = time.monotonic()
            try:
                for encoding, key in variants:
                    try:
                        bodies[encoding] = self.store.get(FILES + key)
                    except StoreMissing:
                        if encoding is None:
                            raise
            except StoreMissing:
                logger.warning(
                    "skewguard: release store: %s (release %s) is missing from %s: 404",
                    name,
                    stored.release,
                    self.store.url,
                )
                return None
            except StoreError as exc:
                self._down_until = time.monotonic() + OUTAGE_BACKOFF
                logger.error(
                    "skewguard: release store unreachable after %.1fs, 503 for %s: %s",
                    time.monotonic() - started,
                    name,
                    exc,
                )
                return None
            if not stored_siblings:
                bodies.update(_compress(bodies[None], stored))
            return self._remember(name, stored, bodies)

    def _remember(
        self,
        name: str,
        stored: StoredFile,
        bodies: dict[str | None, bytes],
    ) -> tuple[StaticEntry, int]:
        path = os.path.join(self.cache_root, *name.split("/"))
        os.makedirs(os.path.dirname(path), exist_ok=True)
        stats: dict[str | None, os.stat_result] = {}
        for encoding, body in bodies.items():
            variant_path = path + (ENCODING_SUFFIX[encoding] if encoding else "")
            tmp = variant_path + ".part"
            with open(tmp, "wb") as fh:
                fh.write(body)
            os.utime(tmp, (stored.built_at, stored.built_at))
            os.replace(tmp, variant_path)
            stats[encoding] = os.stat(variant_path)
        manifest = Manifest(paths={}, hash="", files={name: stored.info})
        encoded = {enc: st for enc, st in stats.items() if enc is not None}
        entry = make_entry(
            path, stats[None], content_hash(name, manifest), True, encoded, self._extra
        )
        # Small files are answered from memory, as the local table does with hashed files.
        for variant in (entry.identity, *entry.encoded.values()):
            body = bodies[variant.encoding]
            if len(body) <= MEMORY_FILE_LIMIT:
                variant.full = StaticResponse(200, variant.headers, body)
        size = sum(len(b) for b in bodies.values())
        with self._lock:
            self._cached[name] = (entry, size)
            self._cached_bytes += size
            while self._cached_bytes > self.cache_bytes and len(self._cached) > 1:
                oldest = next(iter(self._cached))
                self._forget_locked(oldest)
        return self._cached[name] if name in self._cached else (entry, size)

    def _forget(self, name: str) -> None:
        with self._lock:
            self._forget_locked(name)

    def _forget_locked(self, name: str) -> None:
        item = self._cached.pop(name, None)
        if item is None:
            return
        entry, size = item
        self._cached_bytes -= size
        for variant in (entry.identity, *entry.encoded.values()):
            try:
                os.unlink(variant.path)
            except OSError:
                pass

    def close(self) -> None:
        shutil.rmtree(self.cache_root, ignore_errors=True)


def _compress(body: bytes, stored: StoredFile) -> dict[str | None, bytes]:
    """The siblings the build made of this file, made again here with the same encoders and
    levels: the same bytes. (An encoder this machine lacks leaves that encoding out.)"""
    from ..build.compress import Levels, encoders_for

    assert stored.compression is not None
    default = Levels()
    levels = Levels(
        brotli=stored.compression.get("br", default.brotli),
        gzip=stored.compression.get("gzip", default.gzip),
        zstd=stored.compression.get("zstd", default.zstd),
    )
    wanted = set(stored.info.encodings)
    return {e.name: e.compress(body) for e in encoders_for(levels) if e.name in wanted}


def _unavailable(extra: list[tuple[bytes, bytes]]) -> StaticResponse:
    body = b"Release store unavailable\n"
    return StaticResponse(
        503,
        [
            (b"content-type", b"text/plain; charset=utf-8"),
            (b"content-length", str(len(body)).encode()),
            (b"cache-control", b"no-store"),
            (b"retry-after", b"5"),
            *extra,
        ],
        body,
    )


class StoreStatic:
    """The static table (whose fallback is the store) as the adapters read it, plus the two
    answers a fallback source cannot give: a 503 while the store is unreachable, and whether
    an answer must wait for the store (async adapters then answer from a worker thread, so the
    event loop never waits on the network)."""

    def __init__(self, table: StaticTable, source: StoreSource, extra: list[tuple[bytes, bytes]]):
        self.table = table
        self.source = source
        self.extra = extra
        self.entries = table.entries

    def respond(self, name: str, method: str, headers: Mapping[str, str]) -> StaticResponse | None:
        response = self.table.respond(name, method, headers)
        if response is None and self.source.unavailable(name):
            return _unavailable(self.extra)
        return response

    def refresh(self, name: str) -> object:
        return self.table.refresh(name)

    def fetch_needed(self, name: str) -> bool:
        if name in self.table.entries:
            return False
        return self.source.knows(name) and not self.source.is_cached(name)

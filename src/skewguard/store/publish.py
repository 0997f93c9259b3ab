"""``skewguard publish``: upload a build to the store, safely ordered and incrementally.

Order, so that a publish killed at any instant leaves the previous release current and
complete, and running it again finishes the job:

1. a lease naming every object the release will reference (garbage collection keeps them);
2. wait for a running garbage collection to end (it may have planned before the lease);
3. the assets the store lacks (names carry their content hash: present means identical);
4. the release record (its manifest);
5. one atomic write of the current-release pointer;
6. the lease is dropped.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from ..encodings import SUFFIX as ENCODING_SUFFIX
from ..manifest import Manifest, ManifestError, manifest_path
from .backend import StoreBackend, StoreError, StoreMissing
from .layout import (
    CURRENT,
    FILES,
    GC_LOCK,
    HASHED_NAME,
    ReleaseRecord,
    lease_key,
    now_iso,
    parse_time,
    release_key,
)

IMMUTABLE = "public, max-age=31536000, immutable"
NO_CACHE = "no-cache"
UPLOAD_THREADS = 16
GC_WAIT_LIMIT = 900.0  # seconds; a lock older than its expiry is a collection that died
_SAFE_ID = re.compile(r"^[A-Za-z0-9._+-]{1,128}$")


@dataclass
class PublishReport:
    store: str
    release_id: str
    version: str
    objects: int
    uploaded: int
    skipped: int
    bytes: int  # uploaded
    seconds: float
    previous: str | None  # the release that was current before
    uploaded_keys: list[str] = field(default_factory=list, repr=False)

    def as_dict(self) -> dict[str, object]:
        return {
            "store": self.store,
            "release": self.release_id,
            "version": self.version,
            "objects": self.objects,
            "uploaded": self.uploaded,
            "skipped": self.skipped,
            "bytes": self.bytes,
            "seconds": round(self.seconds, 3),
            "previous": self.previous,
        }


@dataclass(frozen=True)
class _Upload:
    name: str  # relative to files/
    path: str | None  # on disk; None for ``data``
    data: bytes | None
    attributes: dict[str, str]
    immutable: bool


def publish(
    directory: str,
    store: StoreBackend,
    progress: Callable[[int, int], None] | None = None,
) -> PublishReport:
    """Publish the build in ``directory``; StoreError (one line) when it cannot be done.

    ``progress(advance, total)`` is called as objects are uploaded."""
    started = time.perf_counter()
    manifest = _load_build(directory)
    assert manifest.release is not None
    release_id = manifest.release.id
    uploads = _objects(directory, manifest)
    names = [u.name for u in uploads]

    interrupted = _exists(store, lease_key(release_id))  # an earlier run of this publish died
    store.put(
        lease_key(release_id),
        json.dumps({"release": release_id, "started": now_iso(), "objects": names}).encode(),
    )
    _wait_for_collection(store)
    previous = _current_release(store)
    present = _present(store, interrupted)
    missing = [u for u in uploads if _needs_upload(u, present)]
    uploaded_bytes = 0
    uploaded_keys: list[str] = []
    if missing:
        if progress is not None:
            progress(0, len(missing))

        def upload(item: _Upload) -> int:
            data = item.data if item.data is not None else _read(item.path or "")
            key = FILES + item.name
            if item.immutable:
                store.put_if_absent(key, data, item.attributes)
            else:  # a name without a hash may change between releases: replace it
                store.put(key, data, item.attributes)
            return len(data)

        with ThreadPoolExecutor(UPLOAD_THREADS) as pool:
            for item, size in zip(missing, pool.map(upload, missing), strict=True):
                uploaded_bytes += size
                uploaded_keys.append(item.name)
                if progress is not None:
                    progress(1, len(missing))

    record = ReleaseRecord(
        id=release_id,
        version=manifest.hash,
        built_at=manifest.release.built_at,
        published_at=now_iso(),
        objects=tuple(names),
        manifest=manifest,
    )
    store.put(release_key(release_id), record.to_json(), {"Content-Type": "application/json"})
    pointer = {"release": release_id, "version": manifest.hash, "published_at": now_iso()}
    store.put(CURRENT, json.dumps(pointer).encode(), {"Content-Type": "application/json"})
    store.delete(lease_key(release_id))
    return PublishReport(
        store=store.url,
        release_id=release_id,
        version=manifest.hash,
        objects=len(uploads),
        uploaded=len(missing),
        skipped=len(uploads) - len(missing),
        bytes=uploaded_bytes,
        seconds=time.perf_counter() - started,
        previous=previous,
        uploaded_keys=uploaded_keys,
    )


def _load_build(directory: str) -> Manifest:
    try:
        manifest = Manifest.load(manifest_path(directory))
    except ManifestError as exc:
        raise StoreError(f"nothing to publish: {exc}") from None
    if manifest.release is None:
        raise StoreError(
            f"{directory}: the manifest was not written by skewguard build (no release id)"
        )
    if not _SAFE_ID.match(manifest.release.id):
        raise StoreError(
            f"release id {manifest.release.id!r} cannot name a store object "
            "(use letters, digits and . _ + -)"
        )
    return manifest


def _objects(directory: str, manifest: Manifest) -> list[_Upload]:
    """Every object the release needs: each emitted file, its precompressed siblings, and the
    browser client (so a CDN serving the store serves it too)."""
    from ..web.media_types import content_type

    names = set(manifest.files) | {
        hashed for canonical, hashed in manifest.paths.items() if canonical != hashed
    }
    uploads: list[_Upload] = []
    for name in sorted(names):
        immutable = bool(HASHED_NAME.search(name))
        base = {
            "Content-Type": content_type(name),
            "Cache-Control": IMMUTABLE if immutable else NO_CACHE,
        }
        path = os.path.join(directory, name)
        if not os.path.isfile(path):
            raise StoreError(
                f"{directory} is incomplete: {name} is missing (rebuild, then publish)"
            )
        uploads.append(_Upload(name, path, None, base, immutable))
        info = manifest.files.get(name)
        for encoding in info.encodings if info is not None else ():
            suffix = ENCODING_SUFFIX.get(encoding)
            if suffix is None or not os.path.isfile(path + suffix):
                continue
            attributes = {**base, "Content-Encoding": encoding}
            uploads.append(_Upload(name + suffix, path + suffix, None, attributes, immutable))
    uploads.extend(_client_objects())
    return uploads


def _client_objects() -> list[_Upload]:
    import gzip

    from ..client import client_code, client_name

    code = client_code()
    base = {"Content-Type": "text/javascript; charset=utf-8", "Cache-Control": IMMUTABLE}
    return [
        _Upload(client_name(), None, code, base, True),
        _Upload(
            client_name() + ".gz",
            None,
            gzip.compress(code, 9, mtime=0),
            {**base, "Content-Encoding": "gzip"},
            True,
        ),
    ]


def _needs_upload(item: _Upload, present: dict[str, int]) -> bool:
    if item.name not in present:
        return True
    if item.immutable:
        return False
    size = len(item.data) if item.data is not None else os.path.getsize(item.path or "")
    return size != present[item.name]


def _present(store: StoreBackend, list_everything: bool) -> dict[str, int]:
    """Objects the store has, by name (relative to ``files/``) and size.

    Every object a release record names exists: publish writes a record only after its objects,
    and a collection deletes a record before its objects. So the retained records tell what the
    store has without listing ``files/`` (slow on large stores). Only after an interrupted run of
    this publish, whose uploads no record names yet, is the store listed."""
    if list_everything:
        return {info.key[len(FILES) :]: info.size for info in store.list(FILES)}
    from .collect import load_releases

    present: dict[str, int] = {}
    for record in load_releases(store):
        for name in record.objects:
            present[name] = -1  # size unknown: only names without a hash compare sizes
        for name, info in record.manifest.files.items():
            present[name] = info.size
    return present


def _exists(store: StoreBackend, key: str) -> bool:
    try:
        store.get(key)
        return True
    except StoreMissing:
        return False


def _read(path: str) -> bytes:
    try:
        with open(path, "rb") as fh:
            return fh.read()
    except OSError as exc:
        raise StoreError(f"cannot read {path}: {exc.strerror}") from None


def _current_release(store: StoreBackend) -> str | None:
    try:
        return str(json.loads(store.get(CURRENT))["release"])
    except StoreMissing:
        return None
    except (ValueError, KeyError, TypeError):
        return None


def _wait_for_collection(store: StoreBackend) -> None:
    """A garbage collection that started before our lease may not have seen it: let it finish.
    One that starts after the lease sees it and keeps everything it names."""
    deadline = time.monotonic() + GC_WAIT_LIMIT
    while True:
        try:
            lock = json.loads(store.get(GC_LOCK))
        except StoreMissing:
            return
        except ValueError:
            return  # a torn or foreign lock file: collection refuses to run with it anyway
        expires = parse_time(str(lock.get("expires", "")))
        from datetime import UTC, datetime

        if datetime.now(UTC) >= expires or time.monotonic() > deadline:
            return
        time.sleep(0.2)

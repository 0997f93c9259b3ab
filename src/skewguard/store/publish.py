"""``skewguard publish``: upload a build to the store, safely ordered and incrementally.

Each file is stored once, under its hashed name. Its precompressed siblings are not stored
unless asked for (``siblings=True``): a server that fetches a file compresses it itself, with the
encoders and levels the build used (recorded in the release record), into the same bytes as the
build's siblings. A release whose siblings cannot be reproduced here (other levels, an encoder
missing on this machine) is published with them. Against object storage, where each object is
a request, that stores 3.6 times fewer objects on a typical tree.

A republish of a release the store already holds, unchanged and current, reads its record and
the pointer and writes nothing.

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

import dataclasses
import json
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

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

if TYPE_CHECKING:
    from ..build.compress import Levels

IMMUTABLE = "public, max-age=31536000, immutable"
NO_CACHE = "no-cache"
UPLOAD_THREADS = 16
SAMPLE_LIMIT = 64 * 1024  # bytes; the file recompressed to check the build's levels
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
    levels: Levels | None = None,
    siblings: bool = False,
) -> PublishReport:
    """Publish the build in ``directory``; StoreError (one line) when it cannot be done.

    ``progress(advance, total)`` is called as objects are uploaded. ``levels``: the compression
    levels the build used, when known (default: the build's defaults; checked either way).
    ``siblings``: store the precompressed siblings too (for a CDN that negotiates encodings)."""
    started = time.perf_counter()
    manifest = _load_build(directory)
    assert manifest.release is not None
    release_id = manifest.release.id
    compression = None if siblings else reproducible_levels(directory, manifest, levels)
    uploads = _objects(directory, manifest, with_siblings=compression is None)
    names = [u.name for u in uploads]
    record = ReleaseRecord(
        id=release_id,
        version=manifest.hash,
        built_at=manifest.release.built_at,
        published_at="",
        objects=tuple(names),
        manifest=manifest,
        compression=compression,
    )
    current = _current_release(store)
    if current == release_id and _published(store, record):
        return PublishReport(
            store=store.url,
            release_id=release_id,
            version=manifest.hash,
            objects=len(uploads),
            uploaded=0,
            skipped=len(uploads),
            bytes=0,
            seconds=time.perf_counter() - started,
            previous=current,
        )

    lease = json.dumps({"release": release_id, "started": now_iso(), "objects": names}).encode()
    # One conditional write in the usual case; a lease already there is an earlier run of this
    # publish that died: renew it, and list the store (its uploads are in no record yet).
    interrupted = not store.put_if_absent(lease_key(release_id), lease)
    if interrupted:
        store.put(lease_key(release_id), lease)
    _wait_for_collection(store)
    previous = current
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

        from concurrent.futures import ThreadPoolExecutor  # only a publish that uploads pays

        with ThreadPoolExecutor(UPLOAD_THREADS) as pool:
            for item, size in zip(missing, pool.map(upload, missing), strict=True):
                uploaded_bytes += size
                uploaded_keys.append(item.name)
                if progress is not None:
                    progress(1, len(missing))

    record = dataclasses.replace(record, published_at=now_iso())
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


def _published(store: StoreBackend, record: ReleaseRecord) -> bool:
    """The store holds this very release already: its record exists (so do its objects: a
    record is written after them and a collection drops it before them) and matches."""
    try:
        stored = ReleaseRecord.parse(store.get(release_key(record.id)), origin=store.url)
    except (StoreMissing, ValueError):
        return False
    return stored.same_release(record)


def reproducible_levels(
    directory: str, manifest: Manifest, levels: Levels | None = None
) -> dict[str, int] | None:
    """The levels that reproduce the build's siblings byte for byte on this machine, by
    encoding; None when some cannot be (then the siblings must be stored).

    One sibling per encoding is recompressed and compared: a build compresses every file with
    the same encoders and levels, so one of a fair size tells them all."""
    from ..build.compress import Levels, encoders_for

    levels = levels or Levels()
    by_encoding = {"br": levels.brotli, "gzip": levels.gzip, "zstd": levels.zstd}
    encoders = {e.name: e for e in encoders_for(levels)}
    # The largest file up to 64 KB: a tiny one may come out the same at other levels too.
    samples: dict[str, tuple[int, str]] = {}
    for name, info in manifest.files.items():
        for encoding in info.encodings:
            rank = info.size if info.size <= SAMPLE_LIMIT else -info.size
            if encoding not in samples or rank > samples[encoding][0]:
                samples[encoding] = (rank, name)
    for encoding, (_, name) in samples.items():
        encoder = encoders.get(encoding)
        if encoder is None or encoding not in ENCODING_SUFFIX:
            return None
        path = os.path.join(directory, name)
        try:
            with open(path, "rb") as fh:
                data = fh.read()
            with open(path + ENCODING_SUFFIX[encoding], "rb") as fh:
                sibling = fh.read()
        except OSError:
            return None
        if encoder.compress(data) != sibling:
            return None
    return {encoding: by_encoding[encoding] for encoding in sorted(samples)}


def _objects(directory: str, manifest: Manifest, with_siblings: bool) -> list[_Upload]:
    """Every object the release needs: each emitted file (and, ``with_siblings``, its
    precompressed siblings), and the browser client (so a CDN serving the store serves it)."""
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
        if not with_siblings:
            continue
        info = manifest.files.get(name)
        for encoding in info.encodings if info is not None else ():
            suffix = ENCODING_SUFFIX.get(encoding)
            if suffix is None or not os.path.isfile(path + suffix):
                continue
            attributes = {**base, "Content-Encoding": encoding}
            uploads.append(_Upload(name + suffix, path + suffix, None, attributes, immutable))
    uploads.extend(_client_objects(with_siblings))
    return uploads


def _client_objects(with_siblings: bool) -> list[_Upload]:
    from ..client import client_code, client_name

    code = client_code()
    base = {"Content-Type": "text/javascript; charset=utf-8", "Cache-Control": IMMUTABLE}
    client = [_Upload(client_name(), None, code, base, True)]
    if with_siblings:
        import gzip

        compressed = gzip.compress(code, 9, mtime=0)
        gz = {**base, "Content-Encoding": "gzip"}
        client.append(_Upload(client_name() + ".gz", None, compressed, gz, True))
    return client


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

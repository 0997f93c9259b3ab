"""Where things live in a store, and the release record every server reads.

    files/<hashed name>                 the assets, under their content-hashed names
    files/<hashed name>.br|.gz|.zst     their precompressed siblings, when published with them
    releases/<release id>.json          one record per published release (its manifest inside)
    leases/<release id>.json            a publish in progress: what it is about to reference
    current.json                        the current-release pointer (one atomic write)
    gc.lock                             a running garbage collection

A URL ``<bucket or CDN>/<prefix>/files/`` therefore serves every retained release as it is.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ..manifest import Manifest, ManifestError

FILES = "files/"
RELEASES = "releases/"
LEASES = "leases/"
CURRENT = "current.json"
GC_LOCK = "gc.lock"

# A hash in the name: the object never changes under that name (immutable, put once).
HASHED_NAME = re.compile(r"\.[0-9a-f]{8,64}(?:\.[^./]+)?$")


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def parse_time(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except (TypeError, ValueError):
        return datetime.fromtimestamp(0, UTC)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


@dataclass(frozen=True)
class ReleaseRecord:
    """A published release: its manifest and every object key (relative to ``files/``) it uses."""

    id: str
    version: str
    built_at: str
    published_at: str
    objects: tuple[str, ...]
    manifest: Manifest
    # Encoding -> level the build compressed with, when the siblings were left out of the store:
    # a server compresses a fetched file itself, into the same bytes. None: they are stored.
    compression: dict[str, int] | None = None

    def to_json(self) -> bytes:
        document: dict[str, Any] = {
            "id": self.id,
            "version": self.version,
            "built_at": self.built_at,
            "published_at": self.published_at,
            "objects": list(self.objects),
            "manifest": json.loads(self.manifest.to_json()),
        }
        if self.compression is not None:
            document["compression"] = self.compression
        return json.dumps(document, separators=(",", ":")).encode()

    def same_release(self, other: ReleaseRecord) -> bool:
        """The same build published the same way (only the publish time may differ)."""
        return (
            self.id == other.id
            and self.version == other.version
            and self.built_at == other.built_at
            and self.objects == other.objects
            and self.manifest == other.manifest
            and self.compression == other.compression
        )

    @classmethod
    def parse(cls, raw: bytes, origin: str) -> ReleaseRecord:
        try:
            document: Any = json.loads(raw)
            manifest = Manifest.parse(json.dumps(document["manifest"]).encode(), origin=origin)
            return cls(
                id=str(document["id"]),
                version=str(document["version"]),
                built_at=str(document.get("built_at", "")),
                published_at=str(document.get("published_at", "")),
                objects=tuple(str(o) for o in document["objects"]),
                manifest=manifest,
                compression=_levels(document.get("compression")),
            )
        except (ValueError, KeyError, TypeError, ManifestError) as exc:
            raise ValueError(f"{origin} is not a release record ({exc})") from None


def _levels(value: Any) -> dict[str, int] | None:
    if value is None:
        return None
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, int) for k, v in value.items()
    ):
        raise ValueError(f'"compression" must map encodings to levels, found {value!r:.60}')
    return dict(value)


def release_key(release_id: str) -> str:
    return f"{RELEASES}{release_id}.json"


def lease_key(release_id: str) -> str:
    return f"{LEASES}{release_id}.json"

"""The build stamp: proof that nothing changed since the last complete build.

Written last, after the manifest and the canonical copies. A rebuild whose sources (paths, sizes,
mtimes, none in the racy window), options and manifest file all match the stamp repeats the
previous report without reading a single source or checking a single output: what ``make`` does
for an up-to-date target. Anything that differs falls through to the full incremental build,
which verifies outputs. Files deleted by hand from the output directory are not noticed by the
stamp; ``--force`` or deleting ``.skewguard/`` makes the next build verify everything.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from typing import Any

from ..atomic import write_atomic
from ..layout import STATE_DIR
from .sources import SourceFile, SourceSpec

STAMP_FORMAT = 2
STAMP_PATH = os.path.join(STATE_DIR, "build-stamp.json")
# A file modified this close to a build's start may change again without its mtime moving.
RACY_WINDOW_NS = 2_000_000_000


@dataclass
class BuildStamp:
    fingerprint: str
    start_ns: int
    sources: str  # sources_digest() of the build's sources
    watched: dict[str, list[int] | None]  # other inputs (Vite manifests) and the output manifest
    report: dict[str, Any]

    @classmethod
    def load(cls, path: str) -> BuildStamp | None:
        try:
            with open(path, "rb") as fh:
                document = json.load(fh)
            if document.get("format") != STAMP_FORMAT:
                return None
            return cls(
                document["fingerprint"],
                document["start_ns"],
                document["sources"],
                document["watched"],
                document["report"],
            )
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def save(self, path: str) -> None:
        document = {
            "format": STAMP_FORMAT,
            "fingerprint": self.fingerprint,
            "start_ns": self.start_ns,
            "sources": self.sources,
            "watched": self.watched,
            "report": self.report,
        }
        write_atomic(path, json.dumps(document, separators=(",", ":")).encode())

    def matches(self, fingerprint: str, files: dict[str, SourceFile]) -> bool:
        if fingerprint != self.fingerprint:
            return False
        racy_after = self.start_ns - RACY_WINDOW_NS
        if any(source.mtime_ns >= racy_after for source in files.values()):
            return False
        if sources_digest(files) != self.sources:
            return False
        return all(stat_key(path) == key for path, key in self.watched.items())


def sources_digest(files: dict[str, SourceFile]) -> str:
    """One digest over every source's path, size and mtime: the stamp stays a few hundred bytes,
    so loading and comparing it costs a fraction of the directory scan it follows."""
    lines = sorted(f"{f.path}\0{f.size}\0{f.mtime_ns}" for f in files.values())
    return hashlib.sha256("\n".join(lines).encode("utf-8", "surrogateescape")).hexdigest()


def stat_key(path: str) -> list[int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return [st.st_size, st.st_mtime_ns, st.st_ino]


def vite_manifest_candidates(spec: SourceSpec) -> list[str]:
    return [
        os.path.join(spec.root, ".vite", "manifest.json"),
        os.path.join(spec.root, "manifest.json"),
    ]

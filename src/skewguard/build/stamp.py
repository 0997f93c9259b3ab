"""The build stamp: proof that nothing changed since the last complete build.

Written last, after the manifest and the canonical copies. A rebuild whose sources (paths, sizes,
mtimes, none in the racy window), options and manifest file all match the stamp repeats the
previous report without reading a single source or checking a single output: what ``make`` does
for an up-to-date target. Anything that differs falls through to the full incremental build,
which verifies outputs. Files deleted by hand from the output directory are not noticed by the
stamp; ``--force`` or deleting ``.skewguard/`` makes the next build verify everything.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

from ..atomic import write_atomic
from .sources import SourceFile, SourceSpec

STAMP_FORMAT = 1
STAMP_PATH = os.path.join(".skewguard", "build-stamp.json")
# A file modified this close to a build's start may change again without its mtime moving.
RACY_WINDOW_NS = 2_000_000_000


@dataclass
class BuildStamp:
    fingerprint: str
    start_ns: int
    sources: dict[str, list[int]]  # absolute path -> [size, mtime_ns]
    watched: dict[str, list[int] | None]  # other inputs (Vite manifests) and the output manifest
    report: dict

    @classmethod
    def load(cls, path: str) -> BuildStamp | None:
        try:
            with open(path, "rb") as fh:
                document = json.load(fh)
            if document.get("format") != STAMP_FORMAT:
                return None
            return cls(document["fingerprint"], document["start_ns"], document["sources"], document["watched"], document["report"])
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
        if fingerprint != self.fingerprint or len(files) != len(self.sources):
            return False
        racy_after = self.start_ns - RACY_WINDOW_NS
        for source in files.values():
            recorded = self.sources.get(source.path)
            if recorded is None or recorded[0] != source.size or recorded[1] != source.mtime_ns:
                return False
            if source.mtime_ns >= racy_after:
                return False
        return all(stat_key(path) == key for path, key in self.watched.items())


def stat_key(path: str) -> list[int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return [st.st_size, st.st_mtime_ns, st.st_ino]


def vite_manifest_candidates(spec: SourceSpec) -> list[str]:
    return [os.path.join(spec.root, ".vite", "manifest.json"), os.path.join(spec.root, "manifest.json")]

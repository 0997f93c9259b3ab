"""What an earlier build learned, so a rebuild re-reads only what changed.

A source is trusted when its size and mtime_ns match what was recorded *and* it was not
modified within two seconds of that build's start (the "racy" window: a file written in the
same clock tick as the scan could change without its mtime moving). Anything else is re-read.
The cache is an optimisation only: deleting it changes nothing but speed.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any

from ..atomic import write_atomic
from .references import Reference
from .sources import SourceFile
from .stamp import RACY_WINDOW_NS
from .urls import Target

CACHE_FORMAT = 3


@dataclass
class CachedSource:
    size: int
    mtime_ns: int
    digest: str  # sha384 hex of the source bytes
    refs: list[Reference] | None  # None for files that are not parsed
    # What the references resolved to, for the canonical path they were resolved from: a
    # rerun does not resolve the references of unchanged files again.
    canonical: str = ""
    targets: list[tuple[Reference, Target]] | None = None


@dataclass
class BuildCache:
    fingerprint: str
    previous_start_ns: int = 0
    sources: dict[str, CachedSource] = field(default_factory=dict)
    # output key (source digest + rewrites) -> [hashed name, file hash, integrity, size]
    outputs: dict[str, list[Any]] = field(default_factory=dict)
    # hashed name -> encodings whose siblings exist
    encodings: dict[str, list[str]] = field(default_factory=dict)
    # file and directory modes the last build applied ("None,None": left to the umask)
    modes: str = "None,None"

    @classmethod
    def load(cls, path: str, fingerprint: str) -> BuildCache:
        try:
            with open(path, "rb") as fh:
                document = json.load(fh)
            if document.get("format") != CACHE_FORMAT or document.get("fingerprint") != fingerprint:
                return cls(fingerprint)
            sources = {p: _source_from_json(e) for p, e in document["sources"].items()}
            return cls(
                fingerprint,
                int(document["start_ns"]),
                sources,
                dict(document["outputs"]),
                dict(document["encodings"]),
                str(document.get("modes", "None,None")),
            )
        except (OSError, ValueError, KeyError, TypeError, IndexError):
            return cls(fingerprint)  # a missing or damaged cache only costs a full rebuild

    def lookup(self, source: SourceFile) -> CachedSource | None:
        entry = self.sources.get(source.path)
        if (
            entry is None
            or entry.size != source.size
            or entry.mtime_ns != source.mtime_ns
            or source.mtime_ns >= self.previous_start_ns - RACY_WINDOW_NS
        ):
            return None
        return entry

    def save(self, path: str, start_ns: int, live_sources: set[str]) -> None:
        document = {
            "format": CACHE_FORMAT,
            "fingerprint": self.fingerprint,
            "start_ns": start_ns,
            "sources": {
                p: _source_to_json(e) for p, e in self.sources.items() if p in live_sources
            },
            "outputs": self.outputs,
            "encodings": self.encodings,
            "modes": self.modes,
        }
        os.makedirs(os.path.dirname(path), exist_ok=True)
        write_atomic(path, json.dumps(document, separators=(",", ":")).encode())


def _source_to_json(entry: CachedSource) -> list[object]:
    refs = None if entry.refs is None else [list(r) for r in entry.refs]
    targets = None
    if entry.targets is not None and entry.refs is not None:
        # Targets hold the very Reference objects of ``refs`` (pickling keeps that): by index.
        index = {id(ref): i for i, ref in enumerate(entry.refs)}
        positions = [index.get(id(ref)) for ref, _ in entry.targets]
        if None not in positions:
            targets = [
                [i, t.canonical, t.path_end]
                for i, (_, t) in zip(positions, entry.targets, strict=True)
            ]
    return [entry.size, entry.mtime_ns, entry.digest, refs, entry.canonical, targets]


def _source_from_json(e: list[Any]) -> CachedSource:
    refs = None if e[3] is None else [Reference(*r) for r in e[3]]
    targets = None
    if e[5] is not None and refs is not None:
        targets = [(refs[i], Target(canonical, end)) for i, canonical, end in e[5]]
    return CachedSource(e[0], e[1], e[2], refs, e[4], targets)

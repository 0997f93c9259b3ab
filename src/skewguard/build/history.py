"""The release history of an output directory, and pruning what no retained release needs.

Every build records its release (id, hash, time, and the files it emitted) in
``DIR/.skewguard/releases.json``. Old releases' hashed files stay on disk so tabs still running
an old release can load them. ``prune`` keeps the newest N releases and every release younger
than the maximum age, and deletes only files that belong to no kept release and not to the
current manifest.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from ..atomic import write_atomic
from ..layout import STATE_DIR
from ..manifest import Manifest, ManifestError, manifest_path
from .compress import SUFFIX
from .errors import BuildError

HISTORY_PATH = os.path.join(STATE_DIR, "releases.json")


@dataclass
class ReleaseRecord:
    id: str
    hash: str
    built_at: str  # ISO 8601 UTC
    files: list[str]  # hashed (or passed-through) names; precompressed siblings implied
    originals: list[str]  # canonical-name copies written by this release


def load_history(out: str) -> list[ReleaseRecord]:
    path = os.path.join(out, HISTORY_PATH)
    try:
        with open(path, "rb") as fh:
            document = json.load(fh)
        return [ReleaseRecord(**entry) for entry in document["releases"]]
    except FileNotFoundError:
        return []
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise BuildError(
            f"release history {path} is unreadable ({exc}); move it away to start a new one"
        ) from None


def save_history(out: str, releases: list[ReleaseRecord]) -> None:
    path = os.path.join(out, HISTORY_PATH)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    document = {"releases": [vars(r) for r in releases]}
    write_atomic(path, json.dumps(document, separators=(",", ":")).encode(), durable=True)


def add_release(releases: list[ReleaseRecord], record: ReleaseRecord) -> list[ReleaseRecord]:
    """Append ``record`` as the newest release; a rebuild of a known release moves it to the end."""
    return [r for r in releases if r.id != record.id] + [record]


_DURATION = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str) -> timedelta:
    """``90s``, ``10m``, ``12h``, ``7d``, ``2w``."""
    m = _DURATION.match(text)
    if not m:
        raise ValueError(f"invalid duration {text!r} (use a number and one of s, m, h, d, w: '7d')")
    return timedelta(seconds=int(m.group(1)) * _UNIT_SECONDS[m.group(2)])


@dataclass
class PrunePlan:
    kept: list[str]  # release ids
    dropped: list[str]
    delete: list[str]  # paths relative to the output directory


def plan_prune(out: str, keep: int, max_age: timedelta, now: datetime | None = None) -> PrunePlan:
    if keep < 1:
        raise BuildError("--keep must be at least 1 (the current release is always kept)")
    releases = load_history(out)
    try:
        current = Manifest.load(manifest_path(out))
    except ManifestError as exc:
        raise BuildError(f"cannot prune without a current manifest: {exc}") from None
    now = now or datetime.now(UTC)
    newest = {r.id for r in releases[-keep:]}
    kept: list[ReleaseRecord] = []
    dropped: list[ReleaseRecord] = []
    for record in releases:
        young = _age(record, now) <= max_age
        is_current = current.release is not None and record.id == current.release.id
        (kept if record.id in newest or young or is_current else dropped).append(record)

    needed: set[str] = set(current.paths.values()) | set(current.paths)
    for record in kept:
        needed.update(record.files)
        needed.update(record.originals)
    candidates: set[str] = set()
    for record in dropped:
        candidates.update(record.files)
        candidates.update(record.originals)
    delete = []
    for name in sorted(candidates - needed):
        for variant in [name] + [name + suffix for suffix in SUFFIX.values()]:
            # A "sibling" may be a file of its own that a kept release ships (data.csv.gz).
            if variant not in needed and os.path.lexists(os.path.join(out, variant)):
                delete.append(variant)
    return PrunePlan([r.id for r in kept], [r.id for r in dropped], delete)


def apply_prune(out: str, plan: PrunePlan) -> None:
    for name in plan.delete:
        try:
            os.unlink(os.path.join(out, name))
        except FileNotFoundError:
            pass
    releases = [r for r in load_history(out) if r.id not in set(plan.dropped)]
    save_history(out, releases)


def _age(record: ReleaseRecord, now: datetime) -> timedelta:
    try:
        built = datetime.fromisoformat(record.built_at)
    except ValueError:
        return timedelta.max  # unknown age: only the --keep count protects it
    if built.tzinfo is None:
        built = built.replace(tzinfo=UTC)
    return now - built

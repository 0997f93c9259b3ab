"""Retention that never strands a live tab: which of the releases about to go still have tabs.

A release with live tabs in the window is not pruned (its hashed files are what those tabs
load next) unless it is older than the pinning limit: a tab forgotten in a background window
must not keep a release for ever.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from .report import TabsReport


@dataclass(frozen=True)
class LiveRelease:
    version: str
    live: int
    held: int
    pinned: bool  # True: young enough that its live tabs keep it


def live_releases(
    report: TabsReport,
    candidates: Iterable[str],
    created: Mapping[str, datetime | None] | None = None,
    pin_max_age: timedelta | None = None,
    now: datetime | None = None,
) -> list[LiveRelease]:
    """The candidates that live tabs run, and whether each is still young enough to be kept."""
    now = now or datetime.now(UTC)
    created = created or {}
    found = []
    for version in dict.fromkeys(candidates):
        tabs = report.get(version)
        if tabs.live <= 0:
            continue
        born = created.get(version)
        if born is not None and born.tzinfo is None:
            born = born.replace(tzinfo=UTC)
        pinned = pin_max_age is None or born is None or now - born <= pin_max_age
        found.append(LiveRelease(version, tabs.live, tabs.held, pinned))
    return found


def describe(found: Iterable[LiveRelease]) -> str:
    """``3f2a9c1d0b7e (2 tabs, 1 held), 1a2b3c4d5e6f (1 tab)``"""
    parts = []
    for r in found:
        tabs = f"{r.live} tab{'s' if r.live != 1 else ''}"
        parts.append(f"{r.version} ({tabs}{f', {r.held} held' if r.held else ''})")
    return ", ".join(parts)

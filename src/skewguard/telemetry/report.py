"""What the recorders report: live, stale and held tabs per release, plus a little history.

One plain model for every backend, for ``skewguard status``, ``/metrics`` and the status page.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .heartbeat import REASONS


@dataclass(frozen=True)
class ReleaseTabs:
    """The tabs running one release, within the window."""

    version: str
    live: int = 0
    stale: int = 0  # tabs that know a newer release exists
    held: int = 0  # tabs something holds (a call, a video, a form...)
    reasons: Mapping[str, int] = field(default_factory=dict)  # held tabs per reason
    chunk_errors: int = 0  # chunk-load failures reported within the window
    convergence: Sequence[float] = ()  # seconds stale before converging here, most recent last

    def convergence_summary(self) -> dict[str, float | int | None]:
        values = sorted(self.convergence)
        if not values:
            return {"count": 0, "p50": None, "p90": None, "max": None}
        return {
            "count": len(values),
            "p50": round(statistics.median(values), 3),
            "p90": round(values[min(len(values) - 1, int(len(values) * 0.9))], 3),
            "max": round(values[-1], 3),
        }

    def as_json(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "live": self.live,
            "stale": self.stale,
            "held": self.held,
            "reasons": {r: self.reasons.get(r, 0) for r in REASONS if self.reasons.get(r)},
            "chunk_errors": self.chunk_errors,
            "convergence": self.convergence_summary(),
        }


@dataclass(frozen=True)
class TabsReport:
    at: float  # epoch seconds
    window: float  # a tab counts when it beat within this many seconds
    backend: str  # "memory", "file" or "redis"
    releases: tuple[ReleaseTabs, ...] = ()
    # Live tabs per release sampled once a minute: (minute start, {release: live}), oldest first.
    history: tuple[tuple[float, Mapping[str, int]], ...] = ()
    dropped: int = 0  # beats within the window not counted (unknown release, tab cap reached)
    available: bool = True  # False: the backend is unreachable and these numbers are not current

    def get(self, version: str) -> ReleaseTabs:
        return next((r for r in self.releases if r.version == version), ReleaseTabs(version))

    @property
    def live(self) -> int:
        return sum(r.live for r in self.releases)

    def as_json(self) -> dict[str, Any]:
        return {
            "at": self.at,
            "window": self.window,
            "backend": self.backend,
            "available": self.available,
            "dropped": self.dropped,
            "releases": [r.as_json() for r in self.releases],
            "history": [{"at": at, "live": dict(counts)} for at, counts in self.history],
        }

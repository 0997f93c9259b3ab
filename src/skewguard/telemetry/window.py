"""Counting tabs in one process, with a hard memory bound (pure: time is passed in).

A tab counts while it beat within the window. Each tab id lives once, under the release of its
latest beat (a tab runs one release at a time, so a converged tab moves instead of being counted
twice). Bounds, whatever clients send:

- only releases the caller says are known are counted; other beats add to ``dropped``;
- at most ``max_tabs`` tab ids per release; new ids beyond that add to ``dropped``;
- chunk errors are kept per minute and per known release for the window only;
- the last ``CONVERGENCE_KEPT`` convergence times per known release, and ``HISTORY_MINUTES`` of
  once-a-minute samples.

So memory is at most about ``releases x max_tabs x TAB_BYTES`` plus small change.
"""

from __future__ import annotations

import math
from collections import Counter, deque
from collections.abc import Container, Iterable, Iterator
from typing import NamedTuple

from .heartbeat import Beat
from .report import ReleaseTabs, TabsReport

HISTORY_MINUTES = 180  # three hours of once-a-minute samples for the sparkline and the chart
CONVERGENCE_KEPT = 500
TAB_BYTES = 300  # measured upper bound of one tab entry in CPython (tests/telemetry checks it)


class TabEntry(NamedTuple):
    release: str
    seen: float
    stale: bool
    held: tuple[str, ...]


def minute_of(t: float) -> float:
    return math.floor(t / 60) * 60.0


class TabWindow:
    def __init__(self, window: float, max_tabs: int) -> None:
        self.window = window
        self.max_tabs = max_tabs
        self._tabs: dict[str, TabEntry] = {}  # in order of last beat: the oldest come first
        self._per_release: Counter[str] = Counter()
        self._chunks: dict[float, Counter[str]] = {}  # minute -> release -> errors
        self._dropped: Counter[float] = Counter()  # minute -> beats not counted
        self._convergence: dict[str, deque[float]] = {}
        self._history: deque[tuple[float, dict[str, int]]] = deque(maxlen=HISTORY_MINUTES)
        self._sampled_minute = 0.0
        self._shared: dict[tuple[str, ...], tuple[str, ...]] = {}  # one tuple per reason set

    def __len__(self) -> int:
        return len(self._tabs)

    def record(self, beat: Beat, known: Container[str], now: float) -> bool:
        """Count one beat; False when it is not counted (unknown release, cap reached)."""
        self._sample(now)
        self.expire(now)
        minute = minute_of(now)
        if beat.release not in known:
            self._dropped[minute] += 1
            return False
        old = self._tabs.pop(beat.tab, None)
        if old is not None:
            self._per_release[old.release] -= 1
        if (old is None or old.release != beat.release) and self._per_release[
            beat.release
        ] >= self.max_tabs:
            if old is not None:  # keep what we knew of it
                self._tabs[beat.tab] = old
                self._per_release[old.release] += 1
            self._dropped[minute] += 1
            return False
        held = self._shared.setdefault(beat.held, beat.held)
        self._tabs[beat.tab] = TabEntry(beat.release, now, beat.stale, held)
        self._per_release[beat.release] += 1
        if beat.chunk_errors:
            self._chunks.setdefault(minute, Counter())[beat.release] += beat.chunk_errors
        if beat.converged_from is not None and beat.stale_seconds is not None:
            self.add_convergence(beat.release, beat.stale_seconds)
        return True

    def add_convergence(self, release: str, seconds: float) -> None:
        self._convergence.setdefault(release, deque(maxlen=CONVERGENCE_KEPT)).append(seconds)

    def expire(self, now: float) -> None:
        cutoff = now - self.window
        tabs = self._tabs
        while tabs:
            tab = next(iter(tabs))
            entry = tabs[tab]
            if entry.seen >= cutoff:
                break
            del tabs[tab]
            self._per_release[entry.release] -= 1
        oldest_minute = minute_of(cutoff)
        for minute in [m for m in self._chunks if m < oldest_minute]:
            del self._chunks[minute]
        for minute in [m for m in self._dropped if m < oldest_minute]:
            del self._dropped[minute]
        for release in [r for r, n in self._per_release.items() if n <= 0]:
            del self._per_release[release]

    def entries(self) -> Iterator[tuple[str, TabEntry]]:
        return iter(self._tabs.items())

    def load(self, tab: str, entry: TabEntry) -> None:
        """Take an entry from another process's window (the newest beat of a tab wins)."""
        old = self._tabs.get(tab)
        if old is not None:
            if old.seen >= entry.seen:
                return
            del self._tabs[tab]
            self._per_release[old.release] -= 1
        self._tabs[tab] = entry
        self._per_release[entry.release] += 1

    def add_chunks(self, minute: float, release: str, count: int) -> None:
        self._chunks.setdefault(minute, Counter())[release] += count

    def add_dropped(self, minute: float, count: int) -> None:
        self._dropped[minute] += count

    def add_history(self, samples: Iterable[tuple[float, dict[str, int]]]) -> None:
        merged = {at: dict(counts) for at, counts in self._history}
        for at, counts in samples:
            current = merged.setdefault(at, {})
            for release, live in counts.items():  # each process saw the same fleet: the max
                current[release] = max(current.get(release, 0), live)
        self._history.clear()
        self._history.extend(sorted(merged.items())[-HISTORY_MINUTES:])

    def chunk_buckets(self) -> dict[float, dict[str, int]]:
        return {m: dict(c) for m, c in self._chunks.items()}

    def dropped_buckets(self) -> dict[float, int]:
        return dict(self._dropped)

    def convergence(self) -> dict[str, list[float]]:
        return {r: list(d) for r, d in self._convergence.items()}

    def history(self) -> list[tuple[float, dict[str, int]]]:
        return list(self._history)

    def live_counts(self) -> dict[str, int]:
        return {r: n for r, n in self._per_release.items() if n > 0}

    def _sample(self, now: float) -> None:
        minute = minute_of(now)
        if minute == self._sampled_minute:
            return
        if self._sampled_minute:
            self.expire(now)
            self._history.append((minute, self.live_counts()))
        self._sampled_minute = minute

    def report(self, now: float, backend: str = "memory") -> TabsReport:
        self.expire(now)
        stale: Counter[str] = Counter()
        held: Counter[str] = Counter()
        reasons: dict[str, Counter[str]] = {}
        for entry in self._tabs.values():
            if entry.stale:
                stale[entry.release] += 1
            if entry.held:
                held[entry.release] += 1
                reasons.setdefault(entry.release, Counter()).update(entry.held)
        chunks: Counter[str] = Counter()
        for bucket in self._chunks.values():
            chunks.update(bucket)
        names = set(self._per_release) | set(chunks) | set(self._convergence)
        return TabsReport(
            at=now,
            window=self.window,
            backend=backend,
            releases=tuple(
                ReleaseTabs(
                    version=name,
                    live=max(self._per_release.get(name, 0), 0),
                    stale=stale[name],
                    held=held[name],
                    reasons=dict(reasons.get(name, {})),
                    chunk_errors=chunks[name],
                    convergence=tuple(self._convergence.get(name, ())),
                )
                for name in sorted(names)
            ),
            history=tuple(self._history),
            dropped=sum(self._dropped.values()),
        )

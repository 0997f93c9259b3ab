"""Where beats are counted: in this process, across the workers of one machine, or in Redis.

Every recorder takes beats without blocking the request that carried them (in process: a dict
under a lock; file and Redis: a background thread writes), and reports a ``TabsReport``.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Container
from typing import Any, Protocol

from ..atomic import write_atomic
from .heartbeat import Beat
from .report import TabsReport
from .window import TabEntry, TabWindow, minute_of

logger = logging.getLogger("skewguard")


class Recorder(Protocol):
    backend: str
    window: float

    def record(self, beat: Beat, known: Container[str]) -> None:
        """Count a beat from a release in ``known``; never blocks on I/O, never raises."""

    def report(self) -> TabsReport: ...

    def close(self) -> None: ...


class MemoryRecorder:
    """One process (a single server without a registry): a ``TabWindow`` under a lock."""

    backend = "memory"

    def __init__(self, window: float, max_tabs: int) -> None:
        self.window = window
        self._tabs = TabWindow(window, max_tabs)
        self._lock = threading.Lock()

    def record(self, beat: Beat, known: Container[str]) -> None:
        with self._lock:
            self._tabs.record(beat, known, time.time())

    def report(self) -> TabsReport:
        with self._lock:
            return self._tabs.report(time.time(), self.backend)

    def close(self) -> None:
        pass


class FileRecorder:
    """The workers of one machine: each keeps its own window and writes it to
    ``<directory>/<pid>.json`` once a second; a report merges every fresh file (the newest beat
    of each tab wins). Files of workers gone for longer than the window are removed."""

    backend = "file"
    FLUSH_SECONDS = 1.0

    def __init__(self, directory: str, window: float, max_tabs: int) -> None:
        self.directory = directory
        self.window = window
        self.max_tabs = max_tabs
        self._tabs = TabWindow(window, max_tabs)
        self._lock = threading.Lock()
        self._dirty = False
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._sampled_minute = 0.0
        self._history: list[tuple[float, dict[str, int]]] = []

    def record(self, beat: Beat, known: Container[str]) -> None:
        with self._lock:
            self._tabs.record(beat, known, time.time())
            self._dirty = True
        if self._thread is None:
            self._start()

    def _start(self) -> None:
        with self._lock:
            if self._thread is not None:
                return
            self._thread = threading.Thread(
                target=self._run, name="skewguard-telemetry", daemon=True
            )
            self._thread.start()

    def _run(self) -> None:
        last_write = 0.0
        while not self._stop.wait(self.FLUSH_SECONDS):
            try:
                now = time.time()
                if self._dirty or now - last_write > self.window / 4:
                    self.flush()
                    last_write = now
                self._sample(now)
            except Exception:  # a telemetry thread must never die (disk full, permissions)
                logger.exception("skewguard: writing tab telemetry failed")

    @property
    def path(self) -> str:
        return os.path.join(self.directory, f"{os.getpid()}.json")

    def flush(self) -> None:
        with self._lock:
            now = time.time()
            self._tabs.expire(now)
            document = {
                "at": now,
                "tabs": [[tab, *entry] for tab, entry in self._tabs.entries()],
                "chunks": [
                    [m, r, n] for m, c in self._tabs.chunk_buckets().items() for r, n in c.items()
                ],
                "dropped": [[m, n] for m, n in self._tabs.dropped_buckets().items()],
                "convergence": self._tabs.convergence(),
                "history": self._history[-180:],
            }
            self._dirty = False
        os.makedirs(self.directory, exist_ok=True)
        write_atomic(self.path, json.dumps(document, separators=(",", ":")).encode())

    def _sample(self, now: float) -> None:
        """Once a minute, note the machine-wide live counts (every worker's view is the same)."""
        minute = minute_of(now)
        if minute == self._sampled_minute:
            return
        first = not self._sampled_minute
        self._sampled_minute = minute
        if not first:
            counts = {r.version: r.live for r in self.report().releases if r.live}
            with self._lock:
                self._history.append((minute, counts))
                del self._history[:-180]
                self._dirty = True

    def report(self) -> TabsReport:
        if self._dirty:  # this worker's own beats count at once, not after the next flush
            self.flush()
        return read_directory(self.directory, self.window, self.max_tabs)

    def close(self) -> None:
        self._stop.set()


def read_directory(directory: str, window: float, max_tabs: int) -> TabsReport:
    """The machine-wide report from every worker's file in ``directory``."""
    now = time.time()
    merged = TabWindow(window, max_tabs)
    try:
        names = [n for n in os.listdir(directory) if n.endswith(".json")]
    except FileNotFoundError:
        names = []
    for name in names:
        path = os.path.join(directory, name)
        try:
            if now - os.path.getmtime(path) > window + 60:
                os.unlink(path)  # a worker that is gone: its tabs are out of the window anyway
                continue
            with open(path, "rb") as fh:
                document: dict[str, Any] = json.load(fh)
            for tab, release, seen, stale, held in document.get("tabs", ()):
                merged.load(tab, TabEntry(release, float(seen), bool(stale), tuple(held)))
            for minute, release, count in document.get("chunks", ()):
                merged.add_chunks(float(minute), release, int(count))
            for minute, count in document.get("dropped", ()):
                merged.add_dropped(float(minute), int(count))
            for release, values in document.get("convergence", {}).items():
                for value in values:
                    merged.add_convergence(release, float(value))
            merged.add_history((float(at), counts) for at, counts in document.get("history", ()))
        except (OSError, ValueError, TypeError):
            continue  # a file being replaced or removed right now: the next read sees it
    return merged.report(now, "file")

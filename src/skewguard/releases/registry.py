"""Registry backends: a JSON file (atomic, locked for concurrent workers) and Redis (shared by
a fleet, with changes published so every worker applies them within a second)."""

from __future__ import annotations

import fcntl
import json
import logging
import os
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

from ..atomic import write_atomic
from .model import ACTIVE, RETAINED, RETIRED, RegistryState, Release

logger = logging.getLogger("skewguard")


class RegistryError(Exception):
    """A registry operation the user asked for cannot be done (one line)."""


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _registered(
    state: RegistryState, version: str, release_id: str, activate_if_first: bool
) -> RegistryState:
    if state.get(version) is not None:
        return state
    release = Release(version, release_id or version, _now(), RETAINED)
    releases = state.releases + (release,)
    if activate_if_first and state.active is None:
        releases = tuple(
            Release(r.version, r.id, r.created, ACTIVE if r.version == version else r.state)
            for r in releases
        )
    return RegistryState(releases, state.bust)


def _activated(state: RegistryState, version: str) -> RegistryState:
    if state.get(version) is None:
        raise RegistryError(
            f"release {version!r} is not registered (known: {', '.join(r.version for r in state.releases) or 'none'})"
        )
    releases = []
    for r in state.releases:
        if r.version == version:
            releases.append(Release(r.version, r.id, r.created, ACTIVE))
        elif r.state == ACTIVE:
            releases.append(Release(r.version, r.id, r.created, RETAINED))
        else:
            releases.append(r)
    return RegistryState(tuple(releases), state.bust)


def _retired(state: RegistryState, version: str) -> RegistryState:
    entry = state.get(version)
    if entry is None:
        raise RegistryError(f"release {version!r} is not registered")
    if entry.state == ACTIVE:
        raise RegistryError(f"release {version!r} is active: activate another one first")
    releases = tuple(
        Release(r.version, r.id, r.created, RETIRED) if r.version == version else r
        for r in state.releases
    )
    return RegistryState(releases, state.bust)


class ReleaseRegistry:
    """The interface both backends offer; state changes go through ``_update`` (atomic)."""

    def state(self) -> RegistryState:
        raise NotImplementedError

    def _update(self, change: Callable[[RegistryState], RegistryState]) -> RegistryState:
        raise NotImplementedError

    def register(
        self, version: str, release_id: str = "", activate_if_first: bool = True
    ) -> RegistryState:
        return self._update(lambda s: _registered(s, version, release_id, activate_if_first))

    def activate(self, version: str) -> RegistryState:
        return self._update(lambda s: _activated(s, version))

    def retire(self, version: str) -> RegistryState:
        return self._update(lambda s: _retired(s, version))

    def announce_bust(self) -> RegistryState:
        """Every server watching the registry reloads (a fleet-wide bust)."""
        return self._update(lambda s: RegistryState(s.releases, s.bust + 1))

    def watch(self, on_change: Callable[[RegistryState], None]) -> None:
        raise NotImplementedError


class FileRegistry(ReleaseRegistry):
    """``<dir>/.skewguard/registry.json``: one server, any number of worker processes."""

    def __init__(self, path: str, poll_seconds: float = 0.2):
        self.path = path
        self.poll_seconds = poll_seconds
        self._watching = False

    def state(self) -> RegistryState:
        try:
            with open(self.path, "rb") as fh:
                return RegistryState.from_json(json.load(fh))
        except FileNotFoundError:
            return RegistryState()
        except (OSError, ValueError, TypeError, KeyError) as exc:
            raise RegistryError(f"release registry {self.path} is unreadable ({exc})") from None

    def _update(self, change):
        os.makedirs(os.path.dirname(self.path) or ".", exist_ok=True)
        with open(self.path + ".lock", "a+") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # workers activating at once: one after the other
            new = change(self.state())
            write_atomic(self.path, json.dumps(new.as_json(), indent=1).encode(), durable=True)
            return new

    def watch(self, on_change):
        if self._watching:
            return
        self._watching = True

        def loop() -> None:
            last = self._stat()
            while True:
                time.sleep(self.poll_seconds)
                current = self._stat()
                if current != last:
                    last = current
                    try:
                        on_change(self.state())
                    except Exception:  # a watcher must never die: log and keep watching
                        logger.exception("skewguard: applying a registry change failed")

        threading.Thread(target=loop, name="skewguard-registry", daemon=True).start()

    def _stat(self):
        try:
            st = os.stat(self.path)
            return (st.st_ino, st.st_size, st.st_mtime_ns)
        except OSError:
            return None


def open_registry(settings) -> ReleaseRegistry | None:
    """The registry the settings ask for: Redis (REDIS_URL), a file beside the manifest, or none."""
    if not settings.REGISTRY and not settings.REDIS_URL:
        return None
    if settings.REDIS_URL or settings.REGISTRY == "redis":
        if not settings.REDIS_URL:
            raise RegistryError("REGISTRY is 'redis' but REDIS_URL is empty")
        from .redis_registry import RedisRegistry

        return RedisRegistry(settings.REDIS_URL, settings.REDIS_PREFIX)
    path = settings.REGISTRY_PATH or (
        os.path.join(settings.STATIC_ROOT, ".skewguard", "registry.json")
        if settings.STATIC_ROOT
        else ""
    )
    return FileRegistry(path) if path else None

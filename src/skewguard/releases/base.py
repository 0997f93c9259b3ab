"""What every registry backend shares: the error type, the state transitions and the interface.

Both backends (``registry.FileRegistry``, ``redis_registry.RedisRegistry``) import this module and
nothing of each other.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import weakref
from collections.abc import Callable
from datetime import UTC, datetime

from ..errors import SkewguardError
from .model import ACTIVE, RETAINED, RETIRED, RegistryState, Release

logger = logging.getLogger("skewguard")

OnChange = Callable[[RegistryState], None]


class RegistryError(SkewguardError):
    """A registry operation the user asked for cannot be done (one line)."""


class RegistryUnreachable(RegistryError):
    """The registry cannot be reached for now (Redis down or hung): worth trying again."""


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def registered(
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


def activated(state: RegistryState, version: str) -> RegistryState:
    if state.get(version) is None:
        known = ", ".join(r.version for r in state.releases) or "none"
        raise RegistryError(f"release {version!r} is not registered (known: {known})")
    releases = []
    for r in state.releases:
        if r.version == version:
            releases.append(Release(r.version, r.id, r.created, ACTIVE))
        elif r.state == ACTIVE:
            releases.append(Release(r.version, r.id, r.created, RETAINED))
        else:
            releases.append(r)
    return RegistryState(tuple(releases), state.bust)


def retired(state: RegistryState, version: str) -> RegistryState:
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


def deployed(state: RegistryState, version: str, release_id: str) -> RegistryState:
    """A bust of ``version``: registered (a release retired earlier comes back), made active,
    and the bust counter bumped so every watcher reloads."""
    entry = state.get(version)
    if entry is not None and entry.state == RETIRED:
        releases = tuple(r for r in state.releases if r.version != version)
        state = RegistryState(releases, state.bust)
    state = activated(registered(state, version, release_id, False), version)
    return RegistryState(state.releases, state.bust + 1)


class ReleaseRegistry:
    """The interface both backends offer; state changes go through ``_update`` (atomic).

    ``watch(on_change)`` calls ``on_change(state)`` from a daemon thread whenever the state
    changes. The registry holds a bound method weakly, so a discarded ``Skewguard`` does not keep
    a watcher thread alive; after ``os.fork()`` the child starts its own watcher (a thread does
    not survive a fork, and servers such as ``gunicorn --preload`` fork after the app is built).
    """

    def __init__(self) -> None:
        self._on_change: Callable[[], OnChange | None] | None = None
        self._watch_lock = threading.Lock()
        self._watcher: threading.Thread | None = None
        self._watcher_pid = 0
        # A bust that could not be announced: the watcher announces it once the registry is back.
        self._pending: Callable[[RegistryState], RegistryState] | None = None

    # -- the state -------------------------------------------------------------------------------

    def state(self) -> RegistryState:
        raise NotImplementedError

    def _update(self, change: Callable[[RegistryState], RegistryState]) -> RegistryState:
        raise NotImplementedError

    def register(
        self, version: str, release_id: str = "", activate_if_first: bool = True
    ) -> RegistryState:
        return self._update(lambda s: registered(s, version, release_id, activate_if_first))

    def activate(self, version: str) -> RegistryState:
        return self._update(lambda s: activated(s, version))

    def retire(self, version: str) -> RegistryState:
        return self._update(lambda s: retired(s, version))

    def announce_bust(self) -> RegistryState:
        """Every server watching the registry reloads (a fleet-wide bust)."""
        return self._update(lambda s: RegistryState(s.releases, s.bust + 1))

    def join(self, version: str, release_id: str = "") -> RegistryState:
        """A process starts serving ``version``. In a fleet (Redis) it is registered, and the
        first release ever registered becomes active: later ones wait for ``release activate``,
        so a rolling deploy never forces anyone mid-way."""
        return self.register(version, release_id)

    def deploy(
        self, version: str | None, release_id: str = "", retry_for: float = 0.0
    ) -> RegistryState:
        """One atomic change: ``version`` registered, active, and announced to every watcher
        (``None``: announced only). While the registry is unreachable, tries again for
        ``retry_for`` seconds; then raises RegistryUnreachable and leaves the announcement
        pending, for the watcher to make as soon as the registry answers again."""

        def change(state: RegistryState) -> RegistryState:
            if version is None:
                return RegistryState(state.releases, state.bust + 1)
            return deployed(state, version, release_id)

        deadline = time.monotonic() + retry_for
        while True:
            try:
                new = self._update(change)
            except RegistryUnreachable:
                if time.monotonic() >= deadline:
                    self._pending = change
                    raise
                time.sleep(0.1)
                continue
            self._pending = None
            return new

    def _announce_pending(self) -> None:
        """Make the announcement a failed ``deploy`` left; raises while still unreachable."""
        change = self._pending
        if change is not None:
            self._update(change)
            self._pending = None
            logger.warning("skewguard: announced the bust made while the registry was unreachable")

    # -- workers ---------------------------------------------------------------------------------

    def acknowledge(self, state: RegistryState) -> None:
        """This process now serves ``state`` (backends that can, record it for ``wait_for``)."""

    def wait_for(self, bust: int, timeout: float) -> list[str]:
        """Wait until every other live worker acknowledged ``bust``; the ones that did not."""
        return []

    # -- watching --------------------------------------------------------------------------------

    def watch(self, on_change: OnChange) -> None:
        reference: Callable[[], OnChange | None]
        if hasattr(on_change, "__self__") and hasattr(on_change, "__func__"):
            reference = weakref.WeakMethod(on_change)
        else:
            reference = lambda: on_change  # noqa: E731
        with self._watch_lock:
            self._on_change = reference
            first = self._watcher_pid == 0
            self._start_watcher()
        if first:
            os.register_at_fork(after_in_child=self._after_fork)

    def _after_fork(self) -> None:
        self._watch_lock = threading.Lock()
        self._forked()
        if self._on_change is not None and self._on_change() is not None:
            self._start_watcher()

    def _forked(self) -> None:
        """Backends drop what a forked child cannot share (connections)."""

    def _start_watcher(self) -> None:
        if self._watcher_pid == os.getpid() and self._watcher is not None:
            return
        self._watcher_pid = os.getpid()
        self._watcher = threading.Thread(
            target=self._watch_loop, name=f"skewguard-{type(self).__name__}", daemon=True
        )
        self._watcher.start()

    def _watch_loop(self) -> None:
        raise NotImplementedError

    def _listener(self) -> OnChange | None:
        """The watcher to call, or None once its owner is gone (the watch thread then ends)."""
        if self._on_change is None or self._watcher_pid != os.getpid():
            return None
        return self._on_change()

    def _deliver(self, state: RegistryState) -> bool:
        """Hand ``state`` to the watcher; False when nobody listens any more."""
        listener = self._listener()
        if listener is None:
            return False
        try:
            listener(state)
        except Exception:  # a watcher must never die: log and keep watching
            logger.exception("skewguard: applying a registry change failed")
            return True
        self.acknowledge(state)
        return True


def describe(exc: BaseException) -> str:
    """One line for a lower-level error."""
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


__all__ = [
    "OnChange",
    "RegistryError",
    "RegistryUnreachable",
    "ReleaseRegistry",
    "activated",
    "deployed",
    "describe",
    "registered",
    "retired",
]

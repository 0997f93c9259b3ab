"""The file registry (one server, any number of worker processes) and the choice of backend."""

from __future__ import annotations

import fcntl
import json
import logging
import os
import time
from collections.abc import Callable

from ..atomic import write_atomic
from ..layout import STATE_DIR
from ..settings import Settings
from .base import RegistryError, ReleaseRegistry, deployed, describe
from .model import RegistryState

logger = logging.getLogger("skewguard")

REGISTRY_FILE = os.path.join(STATE_DIR, "registry.json")


class FileRegistry(ReleaseRegistry):
    """``<dir>/.skewguard/registry.json``: one server, any number of worker processes.

    Workers poll the file (a stat every ``poll_seconds``). Each worker records the bust it last
    applied in ``workers/<pid>`` beside the file, so a bust can wait until every live worker
    serves the new release before it answers (``wait_for``).
    """

    def __init__(self, path: str, poll_seconds: float = 0.1):
        super().__init__()
        self.path = path
        self.poll_seconds = poll_seconds
        self.workers_dir = os.path.join(os.path.dirname(path) or ".", "workers")

    def state(self) -> RegistryState:
        try:
            with open(self.path, "rb") as fh:
                raw = fh.read()
        except FileNotFoundError:
            return RegistryState()
        except OSError as exc:
            raise RegistryError(f"release registry {self.path}: {exc.strerror}") from None
        try:
            return RegistryState.from_json(json.loads(raw))
        except (ValueError, UnicodeDecodeError) as exc:
            raise RegistryError(
                f"release registry {self.path} is not a registry ({describe(exc)}); "
                "move it away to start a new one"
            ) from None

    def _update(self, change: Callable[[RegistryState], RegistryState]) -> RegistryState:
        try:
            os.makedirs(os.path.dirname(self.path) or ".", exist_ok=True)
            with open(self.path + ".lock", "a+") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)  # workers changing it at once: one at a time
                old = self.state()
                new = change(old)
                # An unchanged state is not written: every worker starting on the active
                # release would otherwise fsync the file and make every other worker re-read it.
                if new != old:
                    write_atomic(
                        self.path, json.dumps(new.as_json(), indent=1).encode(), durable=True
                    )
                return new
        except OSError as exc:
            raise RegistryError(
                f"release registry {self.path} cannot be written ({exc.strerror})"
            ) from None

    def join(self, version: str, release_id: str = "") -> RegistryState:
        """On one server, the build on disk is the deploy: a worker starting on a release that
        is not the active one (the app was restarted after a build) activates it and tells the
        other workers, so that every worker serves the active release."""

        def change(state: RegistryState) -> RegistryState:
            active = state.active
            if active is not None and active.version == version:
                return state
            return deployed(state, version, release_id)

        return self._update(change)

    # -- workers ---------------------------------------------------------------------------------

    def acknowledge(self, state: RegistryState) -> None:
        if not os.path.isdir(os.path.dirname(self.workers_dir)):
            return  # the directory was removed (a test tearing down, a reset): never recreate it
        try:
            os.makedirs(self.workers_dir, exist_ok=True)
            write_atomic(os.path.join(self.workers_dir, str(os.getpid())), str(state.bust).encode())
        except OSError as exc:  # a bust then waits its timeout for us: say why once
            logger.warning("skewguard: cannot record this worker in %s: %s", self.workers_dir, exc)

    def wait_for(self, bust: int, timeout: float) -> list[str]:
        deadline = time.monotonic() + timeout
        while True:
            late = self._workers_behind(bust)
            if not late or time.monotonic() >= deadline:
                break
            time.sleep(0.01)
        for pid in late:  # alive but not answering: forgotten until it records itself again
            _remove(os.path.join(self.workers_dir, pid))
        return late

    def _workers_behind(self, bust: int) -> list[str]:
        try:
            names = os.listdir(self.workers_dir)
        except OSError:
            return []
        behind = []
        for name in names:
            if not name.isdigit() or int(name) == os.getpid():
                continue
            path = os.path.join(self.workers_dir, name)
            if not _alive(int(name)):
                _remove(path)  # a worker that exited (or was restarted) waits for nothing
                continue
            try:
                with open(path, "rb") as fh:
                    applied = int(fh.read() or b"-1")
            except (OSError, ValueError):
                continue
            if applied < bust:
                behind.append(name)
        return behind

    # -- watching --------------------------------------------------------------------------------

    def _watch_loop(self) -> None:
        last = self._stat()
        try:
            # Once at the start: a change made between the owner's first read and this stat
            # would otherwise go unseen (delivering also records this worker).
            if not self._deliver(self.state()):
                return
        except RegistryError as exc:
            logger.warning("skewguard: %s", exc)
        while self._listener() is not None:
            time.sleep(self.poll_seconds)
            current = self._stat()
            if current == last:
                continue
            last = current
            if current is None:
                continue  # removed, not changed: nothing to apply (and nothing to write back)
            try:
                state = self.state()
            except RegistryError as exc:
                logger.error("skewguard: %s", exc)
                continue
            if not self._deliver(state):
                return

    def _stat(self) -> tuple[int, int, int] | None:
        try:
            st = os.stat(self.path)
            return (st.st_ino, st.st_size, st.st_mtime_ns)
        except OSError:
            return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: alive
    return True


def _remove(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def _writable(directory: str) -> bool:
    state_dir = os.path.join(directory, STATE_DIR)
    target = state_dir if os.path.isdir(state_dir) else directory
    return os.path.isdir(target) and os.access(target, os.W_OK | os.X_OK)


def open_registry(settings: Settings) -> ReleaseRegistry | None:
    """The registry the settings ask for.

    ``auto`` (the default): Redis when REDIS_URL is set; else a file beside the manifest when
    REGISTRY_PATH is set or STATIC_ROOT is writable, so that every worker process of a server
    hears a bust without any setting; else none (a bust then reaches only the process that
    receives it, which is said once at start-up). Never in dev mode, which has no busts.
    """
    choice = settings.REGISTRY
    if choice == "none":
        return None
    if settings.REDIS_URL or choice == "redis":
        if not settings.REDIS_URL:
            raise RegistryError("REGISTRY is 'redis' but REDIS_URL is empty")
        from .redis_registry import RedisRegistry

        return RedisRegistry(settings.REDIS_URL, settings.REDIS_PREFIX)
    path = settings.REGISTRY_PATH or (
        os.path.join(settings.STATIC_ROOT, REGISTRY_FILE) if settings.STATIC_ROOT else ""
    )
    if choice == "file":
        if not path:
            raise RegistryError(
                "REGISTRY is 'file' but neither REGISTRY_PATH nor STATIC_ROOT is set"
            )
        return FileRegistry(path)
    if settings.DEBUG or not path:
        return None
    if settings.REGISTRY_PATH or _writable(settings.STATIC_ROOT):
        return FileRegistry(path)
    if settings.VERSION_ENDPOINT:
        logger.warning(
            "skewguard: %s is not writable: a bust reaches only the worker that receives it "
            "(set REDIS_URL or REGISTRY_PATH for several workers)",
            settings.STATIC_ROOT,
        )
    return None

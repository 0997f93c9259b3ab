"""How a bust reaches every worker: the one function the bust endpoint calls.

A bust received by one worker is applied there, then published to the registry as one atomic
change (the release registered, made active, the bust counter bumped). The bust answers only once
every other live worker of the file registry has applied it, so no page rendered after the answer
names a file another worker does not serve yet.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from .base import RegistryError, ReleaseRegistry
from .model import RegistryState

logger = logging.getLogger("skewguard")

# While the registry is unreachable, a bust keeps trying this long before it answers.
RETRY_SECONDS = 5.0
# A worker that has not applied a bust within this is reported and no longer waited for.
WORKER_WAIT_SECONDS = 2.0


@dataclass(frozen=True)
class Propagation:
    state: RegistryState | None  # None: the registry was not reached
    error: str = ""  # why it was not reached
    late_workers: tuple[str, ...] = ()  # pids that had not applied it in time


def propagate_bust(
    registry: ReleaseRegistry,
    version: str | None,
    release_id: str,
    applied_here: Callable[[RegistryState], None],
    retry_for: float = RETRY_SECONDS,
    wait_for: float = WORKER_WAIT_SECONDS,
) -> Propagation:
    """Publish the bust of ``version`` (None: a version-less bust, announced only), call
    ``applied_here(state)`` so this worker takes the new registry view, and wait for the others.

    When the registry stays unreachable the bust is left pending: the registry's watcher
    announces it as soon as the registry answers again."""
    try:
        state = registry.deploy(version, release_id, retry_for=retry_for)
    except RegistryError as exc:
        return Propagation(None, str(exc))
    applied_here(state)
    late = tuple(registry.wait_for(state.bust, wait_for))
    if late:
        logger.warning(
            "skewguard: bust %d: worker(s) %s had not applied it after %.1f s",
            state.bust,
            ", ".join(late),
            wait_for,
        )
    return Propagation(state, "", late)

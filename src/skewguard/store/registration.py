"""The store and the release registry: published releases are registered under their version,
and a server started from a fresh image learns of the retained releases from the store."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from ..releases import RegistryError, ReleaseRegistry

logger = logging.getLogger("skewguard")


def register_releases(registry: ReleaseRegistry, releases: Iterable[tuple[str, str]]) -> int:
    """Register each (version, release id) the registry does not know yet, as retained (never
    made active: activation stays an explicit step). Returns how many were added."""
    added = 0
    for version, release_id in releases:
        try:
            if registry.state().get(version) is None:
                registry.register(version, release_id, activate_if_first=False)
                added += 1
        except RegistryError as exc:
            logger.warning("skewguard: cannot register release %s from the store: %s", version, exc)
            return added
    return added

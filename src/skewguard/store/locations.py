"""Where each release's files are: in the local build directory, in the store, both or neither.

Read from one listing of the store's release records (``releases/``) and the build directory's
own release history: nothing is downloaded."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from .backend import StoreBackend
from .layout import RELEASES

BOTH = "both"
LOCAL = "local"
STORE = "store"
NEITHER = "neither"
NOT_IN_STORE = "not in store"  # no build directory named: whether it is local is unknown


class _Named(Protocol):
    """What is read of a registry release."""

    @property
    def id(self) -> str: ...


@dataclass(frozen=True)
class ReleaseLocations:
    store: str  # the store's URL, for messages
    in_store: frozenset[str]  # release ids with a release record in the store
    local: frozenset[str] | None  # release ids and versions the build directory holds

    @classmethod
    def find(cls, store: StoreBackend, static_root: str | None) -> ReleaseLocations:
        """StoreError when the store cannot be listed; BuildError for an unreadable history."""
        in_store = frozenset(
            info.key[len(RELEASES) : -len(".json")]
            for info in store.list(RELEASES)
            if info.key.endswith(".json")
        )
        local = None
        if static_root:
            from ..build.history import load_history

            local = frozenset(
                label
                for record in (load_history(static_root) if os.path.isdir(static_root) else [])
                for label in (record.id, record.hash)
            )
        return cls(store.url, in_store, local)

    def of(self, release_id: str, version: str) -> str:
        stored = release_id in self.in_store
        if self.local is None:
            return STORE if stored else NOT_IN_STORE
        local = release_id in self.local or version in self.local
        if local:
            return BOTH if stored else LOCAL
        return STORE if stored else NEITHER

    def unregistered(self, releases: Iterable[_Named]) -> list[str]:
        """Release ids the store holds that no registry release names."""
        known = {r.id for r in releases}
        return sorted(self.in_store - known)

"""The one small protocol every store backend offers: list, get, put-if-absent, atomic put,
delete. Everything else (publish, garbage collection, serving) is written against it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from ..errors import SkewguardError


class StoreError(SkewguardError):
    """A store operation failed; the message is one line naming the store and what to fix."""


class StoreMissing(StoreError):
    """The object does not exist."""


class StoreUnavailable(StoreError):
    """The store could not be reached in time (network, permissions, outage)."""


@dataclass(frozen=True)
class ObjectInfo:
    key: str  # relative to the store's root
    size: int


class StoreBackend(Protocol):
    """Keys are ``/``-separated paths relative to the store's root (bucket prefix, directory).

    Every write is atomic: a reader sees the whole object or none (S3 PUT; a rename on disk).
    """

    url: str  # for messages, without credentials

    def list(self, prefix: str) -> list[ObjectInfo]:
        """Every object whose key starts with ``prefix`` (a folder such as ``"files/"``)."""
        ...

    def get(self, key: str) -> bytes:
        """The object's bytes; StoreMissing when absent, StoreUnavailable when unreachable."""
        ...

    def put_if_absent(
        self, key: str, data: bytes, attributes: dict[str, str] | None = None
    ) -> bool:
        """Create the object unless it exists; True when this call created it.

        ``attributes``: HTTP metadata kept with the object where the backend can
        (``Content-Type``, ``Cache-Control``, ``Content-Encoding``)."""
        ...

    def put(self, key: str, data: bytes, attributes: dict[str, str] | None = None) -> None:
        """Create or replace the object in one atomic write (the current-release pointer)."""
        ...

    def delete(self, key: str) -> None:
        """Remove the object; absent is fine."""
        ...

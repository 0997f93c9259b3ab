"""What a request reads: one immutable ``GuardState`` per release, and the adapter contract.

``Skewguard.current()`` returns the state; a reload swaps it by a single assignment, so a request
that read it once sees one release throughout (version, static table, client settings agree).
Adapters (ASGI, WSGI, Django, the framework integrations) depend on the ``Guard`` protocol here,
never on ``guard.py``: the object they wrap is typed by what they use of it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any, Protocol

from .protocol import RequestFacts, Respond
from .settings import Settings
from .version import VersionSnapshot
from .web.devstatic import DiskStatic
from .web.responder import StaticEntry, StaticTable

if TYPE_CHECKING:
    from .store.serving import StoreStatic

RequestContext = Any  # an ASGI scope, a WSGI environ or Django's request.META


@dataclass(frozen=True)
class GuardState:
    """One release as requests see it."""

    snapshot: VersionSnapshot
    # STATIC_ROOT under STATIC_URL (None: not served); StoreStatic when a release store is set.
    static: StaticTable | DiskStatic | StoreStatic | None
    version_header: tuple[bytes, bytes] | None  # ready for ASGI; None when the header is off
    client: StaticEntry  # the browser client, served from memory
    client_config: dict[str, Any]  # what every page's bootstrap tells the client
    root_files: StaticTable | None = None  # ROOT_FILES_DIR at "/" (robots.txt, .well-known/...)

    @property
    def extra_headers(self) -> list[tuple[bytes, bytes]]:
        """Headers every answer of skewguard's own carries (X-App-Version)."""
        return [self.version_header] if self.version_header is not None else []

    @cached_property
    def response_headers(self) -> tuple[tuple[bytes, bytes], ...]:
        """The same, as the ASGI middleware adds them to every answer of the application:
        worked out once per release, then a plain attribute read."""
        return (self.version_header,) if self.version_header is not None else ()


@dataclass(frozen=True)
class Endpoint:
    """A path skewguard answers itself (``/version``, ``/cache/bust``, and any added ones).

    ``handler(request, state)`` returns the answer; ``blocking`` handlers (they do I/O, like a
    bust) run in a worker thread under ASGI. A request body is drained and dropped."""

    path: str
    handler: Callable[[RequestFacts, GuardState], Respond]
    blocking: bool = False


class Guard(Protocol):
    """What the web adapters use of a ``Skewguard``."""

    settings: Settings

    @property
    def endpoints(self) -> Mapping[str, Endpoint]: ...

    def current(self) -> GuardState: ...

    def note_decision(self, decision: object) -> None:
        """Count what ``protocol.decide`` said (409s sent, holds honoured) for the metrics."""

    def bootstrap(
        self, context: RequestContext = None, state: GuardState | None = None
    ) -> bytes: ...

"""Releases and the pure question every request asks: where does the client's version stand?"""

from __future__ import annotations

from dataclasses import dataclass, field

ACTIVE, RETAINED, RETIRED = "active", "retained", "retired"


@dataclass(frozen=True)
class Release:
    version: str
    id: str
    created: str  # ISO 8601
    state: str  # active, retained or retired


@dataclass(frozen=True)
class RegistryState:
    """Releases oldest first; at most one active."""

    releases: tuple[Release, ...] = ()
    bust: int = 0  # bumped by every fleet-wide bust: watchers reload
    by_version: dict[str, int] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_version", {r.version: i for i, r in enumerate(self.releases)})

    @property
    def active(self) -> Release | None:
        return next((r for r in self.releases if r.state == ACTIVE), None)

    def get(self, version: str) -> Release | None:
        index = self.by_version.get(version)
        return None if index is None else self.releases[index]

    def as_json(self) -> dict:
        return {"bust": self.bust, "releases": [vars(r) for r in self.releases]}

    @classmethod
    def from_json(cls, document: dict) -> RegistryState:
        releases = tuple(Release(**entry) for entry in document.get("releases", ()))
        return cls(releases, int(document.get("bust", 0)))


def classify(client: str, server: str, state: RegistryState | None) -> str:
    """Where a client at ``client`` stands, for a server at ``server``:

    - "current": what this server runs, or the fleet's active release (mid-rollout a newer
      server must not force clients of the release everyone agreed on);
    - "newer": newer than this server (a rolling deploy reached the client first): never forced;
    - "stale": an older release still retained: its files are served, the policy decides;
    - "retired": retired, or unknown to the registry: must reload.
    Without a registry every other version is "stale" (the single-server case).
    """
    if client == server:
        return "current"
    if state is None or not state.releases:
        return "stale"
    active = state.active
    if active is not None and client == active.version:
        return "current"
    entry = state.get(client)
    if entry is None or entry.state == RETIRED:
        return "retired"
    server_index = state.by_version.get(server)
    if server_index is not None and state.by_version[client] > server_index:
        return "newer"
    return "stale"

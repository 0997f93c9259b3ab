"""Releases and the pure question every request asks: where does the client's version stand?"""

from __future__ import annotations

from collections.abc import Collection
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

    def as_json(self) -> dict[str, object]:
        return {"bust": self.bust, "releases": [vars(r) for r in self.releases]}

    @classmethod
    def from_json(cls, document: object) -> RegistryState:
        """The state a registry document describes; ValueError (one line) for any other shape."""
        if not isinstance(document, dict):
            raise ValueError(f"expected an object, found {type(document).__name__}")
        bust = document.get("bust", 0)
        entries = document.get("releases", [])
        if not isinstance(bust, int) or isinstance(bust, bool) or bust < 0:
            raise ValueError(f'"bust" must be a whole number, found {bust!r:.40}')
        if not isinstance(entries, list):
            raise ValueError(f'"releases" must be a list, found {type(entries).__name__}')
        releases = []
        for index, entry in enumerate(entries):
            # Fields a later version may add are ignored; the four every version needs are not.
            if not isinstance(entry, dict) or not _RELEASE_FIELDS <= set(entry):
                raise ValueError(f"release {index} must have {', '.join(_FIELD_ORDER)}")
            if not all(isinstance(entry[name], str) for name in _FIELD_ORDER):
                raise ValueError(f"release {index}: every field must be a string")
            if entry["state"] not in STATES:
                raise ValueError(f"release {index}: state must be one of {', '.join(STATES)}")
            releases.append(Release(*(entry[name] for name in _FIELD_ORDER)))
        if sum(r.state == ACTIVE for r in releases) > 1:
            raise ValueError("more than one release is active")
        return cls(tuple(releases), bust)


STATES = (ACTIVE, RETAINED, RETIRED)
_FIELD_ORDER = ("version", "id", "created", "state")
_RELEASE_FIELDS = frozenset(_FIELD_ORDER)


def classify(
    client: str, server: str, state: RegistryState | None, held: Collection[str] = ()
) -> str:
    """Where a client at ``client`` stands, for a server at ``server`` holding the files of the
    releases in ``held`` (its build directory's release history):

    - "current": what this server runs, or the fleet's active release (mid-rollout a newer
      server must not force clients of the release everyone agreed on);
    - "newer": newer than this server (a rolling deploy reached the client first): never forced;
    - "stale": an older release still retained: its files are served, the policy decides;
    - "retired": retired, or unknown: must reload.
    A version the registry does not know is "stale" while this server still holds its files (a
    release built before the registry existed: turning a registry on never forces its tabs) and
    "retired" otherwise (nothing here can serve it). Without a registry every other version is
    "stale": the policy decides.
    """
    if client == server:
        return "current"
    if state is None or not state.releases:
        return "stale"
    active = state.active
    if active is not None and client == active.version:
        return "current"
    entry = state.get(client)
    if entry is None:
        return "stale" if client in held else "retired"
    if entry.state == RETIRED:
        return "retired"
    server_index = state.by_version.get(server)
    if server_index is not None and state.by_version[client] > server_index:
        return "newer"
    return "stale"

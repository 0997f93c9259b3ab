"""What /version tells a browser tab: the fleet's active release, whether the answering server is
behind it, and where the asking page's release stands (the client converges on this)."""

from __future__ import annotations

import json

from skewguard import Skewguard
from skewguard.protocol import RequestFacts, version_endpoint
from skewguard.releases.model import ACTIVE, RETAINED, RETIRED, RegistryState, Release
from skewguard.settings import Settings
from skewguard.version import VersionSnapshot

REGISTRY = RegistryState(
    (
        Release("r1", "r1", "2026-01-01T00:00:00+00:00", RETIRED),
        Release("r2", "r2", "2026-01-02T00:00:00+00:00", RETAINED),
        Release("r3", "r3", "2026-01-03T00:00:00+00:00", ACTIVE),
        Release("r4", "r4", "2026-01-04T00:00:00+00:00", RETAINED),  # rolling out
    )
)


def body(
    server: str,
    query: str = "",
    registry: RegistryState | None = REGISTRY,
    held: frozenset[str] = frozenset(),
) -> dict:
    snapshot = VersionSnapshot(server, "explicit", registry=registry, held=held)
    request = RequestFacts("GET", "/version", query, {})
    return json.loads(version_endpoint(request, snapshot, Settings()).body)


def test_the_fleet_release_and_whether_this_server_is_behind():
    assert body("r3")["active"] == "r3" and body("r3")["behind"] is False
    assert body("r2")["behind"] is True  # still on the release before the active one
    assert body("r4")["behind"] is False  # ahead: a rollout reached it first
    assert body("r9")["behind"] is True  # unknown to the registry: not the fleet's release
    assert body("v1", registry=None)["behind"] is False  # one server, no registry


def test_where_the_asking_page_stands():
    standing = {v: body("r4", f"client={v}")["client"] for v in ("r1", "r2", "r3", "r4", "r9")}
    # Measured against the fleet's active release (r3), not against the answering server (r4).
    assert standing == {
        "r1": "retired",
        "r2": "stale",
        "r3": "current",
        "r4": "newer",
        "r9": "retired",  # unknown to the registry and to this server's files: must reload
    }
    # Unknown to the registry but in this server's release history: still served, stale.
    assert body("r4", "client=r9", held=frozenset({"r9"}))["client"] == "stale"
    assert body("v2", "client=v1", registry=None)["client"] == "stale"
    assert body("v2", "client=v2", registry=None)["client"] == "current"


def test_a_hostile_client_value_is_ignored():
    for query in ("client=%3Cscript%3E", "client=" + "x" * 65, "client=a;b"):
        answer = body("r3", query)
        assert "client" not in answer and answer["version"] == "r3"


def test_version_answers_are_worked_out_once_per_snapshot_whatever_other_guards_do(tmp_path):
    """Two guards in one process (two apps): each snapshot keeps its own /version answers, so
    alternating polls never rebuild them."""
    guards = [Skewguard(app_version=f"v{i}", vite_hot_file="") for i in (1, 2)]
    poll = RequestFacts("GET", "/version", "client=v1", {})
    for _ in range(3):
        for guard in guards:
            answer = version_endpoint(poll, guard.snapshot, guard.settings)
            assert json.loads(answer.body)["version"] == guard.version
    kept = [guard.snapshot.derived["version"] for guard in guards]
    for guard, answers in zip(guards, kept, strict=True):
        version_endpoint(poll, guard.snapshot, guard.settings)
        assert guard.snapshot.derived["version"] is answers
    assert kept[0] is not kept[1]

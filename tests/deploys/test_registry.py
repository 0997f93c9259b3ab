"""The release registry: where a client stands (pure), the file backend under concurrent
workers, and the release CLI."""

from __future__ import annotations

import json
import multiprocessing

import pytest

from skewguard.protocol import Proceed, RequestFacts, Respond, decide
from skewguard.releases import FileRegistry, RegistryError, classify
from skewguard.releases.model import ACTIVE, RETAINED, RETIRED, RegistryState, Release
from skewguard.settings import Settings
from skewguard.version import VersionSnapshot

from ..conftest import run_cli


def state(*entries: tuple[str, str]) -> RegistryState:
    return RegistryState(tuple(Release(v, v, "2026-11-22T00:00:00+00:00", s) for v, s in entries))


ROLLOUT = state(("r1", ACTIVE), ("r2", RETAINED))  # r2 deployed to some servers, not yet activated
DONE = state(("r0", RETIRED), ("r1", RETAINED), ("r2", ACTIVE))


@pytest.mark.parametrize(
    "client, server, registry, expected",
    [
        ("r2", "r2", DONE, "current"),
        ("r1", "r2", ROLLOUT, "current"),  # mid-rollout: the active release is never forced
        ("r2", "r1", ROLLOUT, "newer"),  # the client met a new server first
        ("r1", "r2", DONE, "stale"),
        ("r0", "r2", DONE, "retired"),
        ("zz", "r2", DONE, "retired"),  # unknown to the fleet and to this server: must reload
        ("zz", "r2", None, "stale"),  # no registry: any other version is simply older
    ],
)
def test_classify(client, server, registry, expected):
    assert classify(client, server, registry) == expected


def test_classify_a_release_the_registry_never_saw_but_whose_files_are_held():
    # Built before the registry existed: still servable here, so the policy decides.
    assert classify("zz", "r2", DONE, held={"zz", "r2"}) == "stale"
    assert classify("r0", "r2", DONE, held={"r0"}) == "retired"  # retired stays retired


def inertia(version: str, **headers) -> RequestFacts:
    return RequestFacts(
        "GET", "/p", "", {"x-inertia": "true", "x-inertia-version": version, **headers}
    )


def snap(version: str, registry: RegistryState) -> VersionSnapshot:
    return VersionSnapshot(version, "manifest", registry=registry)


def test_rolling_deploy_decisions():
    reload_policy = Settings()
    # A server on r1 (old) and a client on r2 (new): answered, tagged, never a 409.
    newer = decide(inertia("r2"), snap("r1", ROLLOUT), reload_policy)
    assert isinstance(newer, Proceed) and newer.headers == (("X-App-Stale", "server"),)
    # A server on r2 mid-rollout and a client on the active r1: nothing to say.
    assert decide(inertia("r1"), snap("r2", ROLLOUT), reload_policy) is None
    # After activation: r1 is older but retained -> 409 under reload, unless held.
    assert isinstance(decide(inertia("r1"), snap("r2", DONE), reload_policy), Respond)
    assert isinstance(
        decide(inertia("r1", **{"x-skewguard-hold": "r1"}), snap("r2", DONE), reload_policy),
        Proceed,
    )
    # ... and never forced under defer / prompt / warn.
    for policy in ("defer", "prompt", "warn"):
        answer = decide(inertia("r1"), snap("r2", DONE), Settings(APP_VERSION_MISMATCH=policy))
        assert isinstance(answer, Proceed) and answer.headers == (("X-App-Stale", "1"),)
    # Retired: must reload, whatever the policy; a hold wins unless RETIRED_FORCES_RELOAD.
    for policy in ("reload", "defer", "prompt", "warn"):
        assert isinstance(
            decide(inertia("r0"), snap("r2", DONE), Settings(APP_VERSION_MISMATCH=policy)), Respond
        )
    held = inertia("r0", **{"x-skewguard-hold": "r0"})
    assert isinstance(decide(held, snap("r2", DONE), reload_policy), Proceed)
    assert isinstance(decide(held, snap("r2", DONE), Settings(RETIRED_FORCES_RELOAD=True)), Respond)


def test_registry_operations(tmp_path):
    registry = FileRegistry(str(tmp_path / "registry.json"))
    registry.register("r1")
    registry.register("r2")
    assert [(r.version, r.state) for r in registry.state().releases] == [
        ("r1", ACTIVE),
        ("r2", RETAINED),
    ]
    registry.activate("r2")
    registry.retire("r1")
    assert [(r.version, r.state) for r in registry.state().releases] == [
        ("r1", RETIRED),
        ("r2", ACTIVE),
    ]
    with pytest.raises(RegistryError, match="is active"):
        registry.retire("r2")
    with pytest.raises(RegistryError, match="not registered"):
        registry.activate("nope")
    assert registry.announce_bust().bust == 1


def _worker(path: str, n: int) -> None:
    registry = FileRegistry(path)
    for i in range(20):
        registry.register(f"w{n}-{i}")
        registry.activate(f"w{n}-{i}")


def test_concurrent_workers_never_tear_the_file(tmp_path):
    path = str(tmp_path / "registry.json")
    workers = [
        multiprocessing.get_context("fork").Process(target=_worker, args=(path, n))
        for n in range(4)
    ]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=60)
        assert w.exitcode == 0
    final = FileRegistry(path).state()
    assert len(final.releases) == 80  # no registration lost
    assert sum(r.state == ACTIVE for r in final.releases) == 1  # never two active
    json.loads((tmp_path / "registry.json").read_text())  # well-formed


def test_release_cli(tmp_path):
    path = str(tmp_path / "reg.json")
    FileRegistry(path).register("r1")
    FileRegistry(path).register("r2")
    listed = run_cli("release", "list", "--registry-path", path)
    assert listed.returncode == 0 and "r1" in listed.stdout and "active" in listed.stdout
    assert run_cli("release", "activate", "r2", "--registry-path", path).returncode == 0
    assert run_cli("release", "retire", "r1", "--registry-path", path).returncode == 0
    data = json.loads(run_cli("release", "list", "--json", "--registry-path", path).stdout)
    assert [(r["version"], r["state"]) for r in data["releases"]] == [
        ("r1", "retired"),
        ("r2", "active"),
    ]
    bad = run_cli("release", "retire", "r2", "--registry-path", path)
    assert (
        bad.returncode == 1
        and bad.stderr.strip()
        == "skewguard: error: release 'r2' is active: activate another one first"
    )
    assert run_cli("release", "list").returncode == 2

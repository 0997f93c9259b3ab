"""Clients at a version the registry never saw, through a real server (uvicorn) with the default
file registry: one whose files the build directory still holds (built before the registry
existed) is stale, and the policy decides; one nothing here knows is retired and must reload,
409 for Inertia even under ``defer``."""

from __future__ import annotations

import json

import httpx

from skewguard.build import BuildOptions, build

from ..build.helpers import write_tree

UNKNOWN = "0123456789ab"  # a well-formed version no build or registry here has seen


def inertia_get(base: str, version: str) -> httpx.Response:
    headers = {"X-Inertia": "true", "X-Inertia-Version": version}
    return httpx.get(base + "/?page=2", headers=headers, timeout=5)


def test_unknown_versions_must_reload_retained_ones_are_stale(tmp_path, app_servers):
    src = write_tree(tmp_path / "src", {"css/app.css": "a{color:red}"})
    out = tmp_path / "out"
    before_registry = build([str(src)], str(out), BuildOptions(compress=False)).version
    (src / "css/app.css").write_text("a{color:blue}")
    current = build([str(src)], str(out), BuildOptions(compress=False)).version
    # The server starts on the second build: the registry (created now) knows only that one;
    # the first is in the build directory's release history, its files still on disk.
    server = app_servers(STATIC_ROOT=str(out), APP_VERSION_MISMATCH="defer")
    registry = json.loads((out / ".skewguard" / "registry.json").read_text())
    assert [r["version"] for r in registry["releases"]] == [current]

    unknown = inertia_get(server.base, UNKNOWN)
    assert unknown.status_code == 409, unknown.text
    assert unknown.headers["X-Inertia-Location"] == "/?page=2"
    assert unknown.headers["X-Inertia-Version"] == current

    retained = inertia_get(server.base, before_registry)
    assert retained.status_code == 200
    assert retained.headers["X-App-Stale"] == "1"  # the hint: the client converges by policy

    def standing(version: str) -> object:
        return httpx.get(f"{server.base}/version?client={version}", timeout=5).json()["client"]

    assert standing(UNKNOWN) == "retired"
    assert standing(before_registry) == "stale"
    assert standing(current) == "current"


def test_without_a_registry_an_unknown_version_is_only_stale(tmp_path, app_servers):
    src = write_tree(tmp_path / "src", {"css/app.css": "a{color:red}"})
    out = tmp_path / "out"
    build([str(src)], str(out), BuildOptions(compress=False))
    server = app_servers(STATIC_ROOT=str(out), APP_VERSION_MISMATCH="defer", REGISTRY="none")
    answer = inertia_get(server.base, UNKNOWN)
    assert answer.status_code == 200 and answer.headers["X-App-Stale"] == "1"

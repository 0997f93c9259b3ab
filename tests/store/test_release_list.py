"""``skewguard release list --store``: where each registered release's files are."""

from __future__ import annotations

import json

from skewguard.build import BuildOptions, build
from skewguard.releases.registry import FileRegistry
from skewguard.store import open_store
from skewguard.store.publish import publish

from ..conftest import run_cli
from .conftest import build_release, write_site


def _release(out) -> tuple[str, str]:
    manifest = json.loads((out / "staticfiles.json").read_text())
    return manifest["hash"], manifest["release"]["id"]


def test_release_list_says_where_each_release_is(tmp_path, store_url):
    registry_path = tmp_path / "registry.json"
    registry = FileRegistry(str(registry_path))
    store = open_store(store_url)
    site = tmp_path / "site"  # the output directory: it accumulates releases 1 and 2

    def build_into_site(release: int) -> tuple[str, str]:
        src = tmp_path / f"src-{release}"
        write_site(src, release)
        build([str(src)], str(site), BuildOptions(workers=1))
        return _release(site)

    one = build_into_site(1)
    publish(str(site), store)  # in the site and in the store
    two = build_into_site(2)  # in the site only
    three_dir = build_release(tmp_path, "three", 3)
    publish(str(three_dir), store)  # in the store only
    four = _release(build_release(tmp_path, "four", 4))  # built elsewhere: in neither
    five_dir = build_release(tmp_path, "five", 5)
    publish(str(five_dir), store)  # in the store, never registered
    three, five = _release(three_dir), _release(five_dir)
    for version, release_id in (one, two, three, four):
        registry.register(version, release_id, activate_if_first=False)

    common = ["--registry-path", str(registry_path), "--static-root", str(site)]
    listed = run_cli("release", "list", *common, "--store", store_url, "--json")
    assert listed.returncode == 0, listed.stderr
    document = json.loads(listed.stdout)
    files = {r["version"]: r["files"] for r in document["releases"]}
    assert files == {one[0]: "both", two[0]: "local", three[0]: "store", four[0]: "neither"}
    assert document["store_only"] == [five[1]]
    assert document["store"] == store.url

    text = run_cli("release", "list", *common, "--store", store_url)
    assert text.returncode == 0, text.stderr
    lines = {line.split()[0]: line for line in text.stdout.splitlines()}
    assert lines[one[0]].endswith("files=both") and lines[four[0]].endswith("files=neither")
    assert f"the store also holds 1 unregistered release(s): {five[1]}" in text.stdout

    # Without a build directory, only the store is known; without a store, nothing changes.
    only_store = run_cli(
        "release", "list", "--registry-path", str(registry_path), "--store", store_url, "--json"
    )
    files = {r["version"]: r["files"] for r in json.loads(only_store.stdout)["releases"]}
    assert files == {
        one[0]: "store",
        two[0]: "not in store",
        three[0]: "store",
        four[0]: "not in store",
    }
    plain = run_cli("release", "list", *common, "--json")
    assert all("files" not in r for r in json.loads(plain.stdout)["releases"])


def test_release_list_with_an_unreachable_store_is_one_line(tmp_path):
    registry_path = tmp_path / "registry.json"
    FileRegistry(str(registry_path)).register("v1", "r1")
    missing = (tmp_path / "no-such-store").as_uri()
    result = run_cli("release", "list", "--registry-path", str(registry_path), "--store", missing)
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and "no such directory" in result.stderr
    assert "Traceback" not in result.stderr

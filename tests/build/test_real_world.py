"""The real-world case: popular npm front-end packages (fonts, icons, CSS frameworks, a rich-text
editor, an API docs UI, maps, math) built as they ship, installed from the npm registry."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from skewguard.build import BuildOptions, build
from skewguard.build.references import find_css_references, find_js_references
from skewguard.build.urls import resolve

PACKAGES = {
    "bootstrap": "CSS framework",
    "bootstrap-icons": "icons and icon font",
    "font-awesome": "icon font (v4, with ?#iefix and ?v= queries)",
    "@fortawesome/fontawesome-free": "icons (v7)",
    "@fontsource/inter": "web fonts",
    "katex": "math fonts",
    "tinymce": "rich-text editor",
    "quill": "rich-text editor",
    "swagger-ui-dist": "API docs UI",
    "leaflet": "maps",
}


@pytest.fixture(scope="module")
def built(npm_packages: Path, tmp_path_factory):
    out = tmp_path_factory.mktemp("real-world")
    report = build([str(npm_packages)], str(out), BuildOptions(compress=False, workers=2))
    return npm_packages, out, report, json.loads((out / "staticfiles.json").read_text())


def test_every_package_is_present(built):
    _, _, _, manifest = built
    for package in PACKAGES:
        assert any(path.startswith(package + "/") for path in manifest["paths"]), package


def test_every_resolvable_reference_points_at_an_existing_hashed_file(built):
    _, out, _, manifest = built
    outputs = set(manifest["paths"].values())
    canonical_of = {hashed: canonical for canonical, hashed in manifest["paths"].items()}
    checked = 0
    for hashed in outputs:
        ext = hashed.rpartition(".")[2]
        if ext not in ("css", "js", "mjs"):
            continue
        data = (out / hashed).read_bytes()
        refs = find_css_references(data) if ext == "css" else find_js_references(data)
        for ref in refs:
            target = resolve(ref.url, hashed, "/static/", bare_is_relative=ref.kind != "module")
            if target is None:
                continue
            if target.canonical in outputs:
                checked += 1
                continue
            # Not rewritten: only acceptable when the source tree has no such file either.
            assert target.canonical not in manifest["paths"], (
                f"{canonical_of[hashed]}: {ref.url!r} points at the canonical name, not the hashed one"
            )
    assert checked > 3000


def test_missing_references_are_genuinely_missing(built):
    root, _, report, _ = built
    for line in report.missing:
        m = re.match(r"(?P<file>[^:]+):\d+: missing reference '(?P<url>[^']+)'", line)
        assert m, line
        target = resolve(m["url"], m["file"], "/static/", bare_is_relative=True)
        assert target is not None and not (root / target.canonical).exists(), line


def test_well_known_references(built):
    _, out, _, manifest = built
    paths = manifest["paths"]

    def text(canonical: str) -> str:
        return (out / paths[canonical]).read_text(encoding="utf-8", errors="replace")

    def base(canonical: str) -> str:
        return paths[canonical].rsplit("/", 1)[1]

    fa4 = text("font-awesome/css/font-awesome.css")
    assert f"../fonts/{base('font-awesome/fonts/fontawesome-webfont.eot')}?#iefix&v=4.7.0" in fa4
    assert f"../fonts/{base('font-awesome/fonts/fontawesome-webfont.woff2')}?v=4.7.0" in fa4
    icons = text("bootstrap-icons/font/bootstrap-icons.css")
    assert f"./fonts/{base('bootstrap-icons/font/fonts/bootstrap-icons.woff2')}?" in icons
    katex = text("katex/dist/katex.css")
    assert f"fonts/{base('katex/dist/fonts/KaTeX_Main-Regular.woff2')}" in katex
    bootstrap = text("bootstrap/dist/css/bootstrap.css")
    assert f"sourceMappingURL={base('bootstrap/dist/css/bootstrap.css.map')}" in bootstrap
    swagger = text("swagger-ui-dist/swagger-ui.css")
    assert f"sourceMappingURL={base('swagger-ui-dist/swagger-ui.css.map')}" in swagger


def test_the_build_reports_no_errors(built):
    _, out, report, manifest = built
    assert report.files == len(manifest["paths"]) > 9000
    for _name, info in manifest["files"].items():
        assert info["integrity"].startswith("sha384-")
    assert os.path.getsize(out / "staticfiles.json") > 0


def _release_independent(document: dict) -> dict:
    return {**document, "release": {**document["release"], "built_at": None}}


def test_worker_processes_change_nothing_but_speed(built, tmp_path):
    """The same tree built by two worker processes and by the main process alone: identical."""
    root, out, report, parallel = built
    assert report.processes == 2  # the fixture took the parallel path
    single_out = tmp_path / "single"
    single = build([str(root)], str(single_out), BuildOptions(compress=False, workers=1))
    assert single.processes == 1
    assert _release_independent(
        json.loads((single_out / "staticfiles.json").read_text())
    ) == _release_independent(parallel)
    assert single.warnings == report.warnings and single.missing == report.missing

    def tree(base: Path) -> dict[str, int]:
        return {
            str(p.relative_to(base)): p.stat().st_size
            for p in base.rglob("*")
            if p.is_file() and ".skewguard" not in p.parts
        }

    assert tree(single_out) == tree(out)


def test_parallel_compressed_build_matches_and_rebuilds_incrementally(npm_packages: Path, tmp_path):
    """Compression in the workers, then an edit to one font: only it and its referrers are written."""
    import shutil

    src = tmp_path / "src"
    shutil.copytree(npm_packages / "font-awesome", src / "font-awesome")
    shutil.copytree(npm_packages / "katex", src / "katex")
    out = tmp_path / "out"
    first = build([str(src)], str(out), BuildOptions(workers=2))
    assert first.processes == 2 and first.compressed > 50
    manifest = json.loads((out / "staticfiles.json").read_text())
    css = manifest["paths"]["font-awesome/css/font-awesome.css"]
    assert set(manifest["files"][css]["encodings"]) >= {"gzip"}
    for encoding, suffix in (("gzip", ".gz"), ("br", ".br"), ("zstd", ".zst")):
        if encoding in manifest["files"][css]["encodings"]:
            assert (out / (css + suffix)).stat().st_size < manifest["files"][css]["size"]

    single_out = tmp_path / "single"
    build([str(src)], str(single_out), BuildOptions(workers=1))
    assert _release_independent(
        json.loads((single_out / "staticfiles.json").read_text())
    ) == _release_independent(manifest)

    outputs = {
        p: p.stat().st_mtime_ns
        for p in out.rglob("*")
        if p.is_file() and ".skewguard" not in p.parts
    }
    font = src / "font-awesome/fonts/fontawesome-webfont.woff2"
    font.write_bytes(font.read_bytes() + b"\0")
    second = build([str(src)], str(out), BuildOptions(workers=2))
    after = json.loads((out / "staticfiles.json").read_text())["paths"]
    changed = {c for c in after if after[c] != manifest["paths"][c]}
    assert changed == {
        "font-awesome/fonts/fontawesome-webfont.woff2",
        "font-awesome/css/font-awesome.css",
        "font-awesome/css/font-awesome.min.css",
    }
    assert second.written == len(changed)
    # Every earlier output is still there, untouched (canonical links aside, which are replaced).
    hashed = {out / name for name in manifest["paths"].values()}
    for path, mtime in outputs.items():
        if path in hashed:
            assert path.stat().st_mtime_ns == mtime, path

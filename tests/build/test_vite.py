"""Vite's output through ``skewguard build``: its names kept, retained and pruned like the build's
own, and the version a function of the current files alone (the collectstatic path is in
tests/contrib/test_django_storage.py)."""

from __future__ import annotations

import json
import shutil

from ..conftest import run_cli
from .helpers import manifest, write_tree


def vite_dist(root, main: str, lazy: str, tag: str):
    chunks = {
        "src/main.js": {
            "file": f"assets/{main}.js",
            "isEntry": True,
            "dynamicImports": ["src/lazy.js"],
        },
        "src/lazy.js": {"file": f"assets/{lazy}.js", "isDynamicEntry": True},
    }
    if root.exists():
        shutil.rmtree(root)
    return write_tree(
        root,
        {
            ".vite/manifest.json": json.dumps(chunks),
            f"assets/{main}.js": f"import('./{lazy}.js'); // {tag}\n" * 30,
            f"assets/{lazy}.js": f"export default '{tag}';\n" * 30,
            "favicon.svg": "<svg/>",
        },
    )


def test_vite_files_keep_their_names_and_the_version_ignores_the_directorys_history(tmp_path):
    dist = tmp_path / "dist"
    live, fresh = tmp_path / "live", tmp_path / "fresh"
    vite_dist(dist, "main-8_3y83gF", "lazy-Dd9kP0qq", "one")
    assert run_cli("build", str(dist), "--out", str(live)).returncode == 0
    first = manifest(live)
    for name in ("assets/main-8_3y83gF.js", "assets/lazy-Dd9kP0qq.js"):
        assert first["paths"][name] == name and name in first["files"]  # hashed: immutable
    assert first["paths"]["favicon.svg"] != "favicon.svg"

    vite_dist(dist, "main-Zz9new00", "lazy-Qq1new11", "two")
    assert run_cli("build", str(dist), "--out", str(live)).returncode == 0
    assert run_cli("build", str(dist), "--out", str(fresh)).returncode == 0
    assert manifest(live)["hash"] == manifest(fresh)["hash"] != first["hash"]
    assert manifest(live)["paths"] == manifest(fresh)["paths"]
    assert (live / "assets/main-8_3y83gF.js").exists()  # retained for open tabs
    assert "assets/main-8_3y83gF.js" not in manifest(live)["paths"]

    result = run_cli("prune", str(live), "--keep", "1", "--max-age", "0s")
    assert result.returncode == 0, result.stderr
    assert not (live / "assets/main-8_3y83gF.js").exists()
    assert not (live / "assets/lazy-Dd9kP0qq.js").exists()
    assert (live / "assets/main-Zz9new00.js").exists() and (live / "favicon.svg").exists()

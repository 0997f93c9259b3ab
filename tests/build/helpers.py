from __future__ import annotations

import json
from pathlib import Path


def write_tree(root: Path, files: dict[str, str | bytes]) -> Path:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content.encode() if isinstance(content, str) else content)
    return root


def build_small_site(tmp_path: Path, out_name: str) -> tuple[Path, Path]:
    """One CSS and one JS file built without compression: the site the server tests serve."""
    from skewguard.build import BuildOptions, build

    src = write_tree(tmp_path / "src", {"css/app.css": "a{color:red}", "js/app.js": "1"})
    out = tmp_path / out_name
    build([str(src)], str(out), BuildOptions(compress=False))
    return src, out


def manifest(out: Path) -> dict:
    return json.loads((out / "staticfiles.json").read_text())


def emitted(out: Path, canonical: str) -> str:
    """Content of the hashed file for ``canonical``."""
    return (out / manifest(out)["paths"][canonical]).read_text()

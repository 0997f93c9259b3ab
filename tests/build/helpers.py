from __future__ import annotations

import json
from pathlib import Path


def write_tree(root: Path, files: dict[str, str | bytes]) -> Path:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content.encode() if isinstance(content, str) else content)
    return root


def manifest(out: Path) -> dict:
    return json.loads((out / "staticfiles.json").read_text())


def emitted(out: Path, canonical: str) -> str:
    """Content of the hashed file for ``canonical``."""
    return (out / manifest(out)["paths"][canonical]).read_text()

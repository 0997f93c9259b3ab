"""Vite's build manifest (``.vite/manifest.json``): the one check of what counts as one.

A Vite manifest is a non-empty JSON object whose every value is a chunk object with a string
``file``; anything else (a PWA ``manifest.json``, say) is not one.
"""

from __future__ import annotations

import json
from typing import Any


def parse_vite_manifest(raw: bytes) -> dict[str, dict[str, Any]] | None:
    """The manifest's chunks, or None when ``raw`` is not a Vite manifest."""
    try:
        document = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(document, dict) or not document:
        return None
    if not all(
        isinstance(chunk, dict) and isinstance(chunk.get("file"), str)
        for chunk in document.values()
    ):
        return None
    return document


def vite_output_files(chunks: dict[str, dict[str, Any]]) -> set[str]:
    """Output files a Vite manifest names (``file``, ``css``, ``assets``): already hashed."""
    names: set[str] = set()
    for chunk in chunks.values():
        names.add(chunk["file"])
        for key in ("css", "assets"):
            names.update(n for n in chunk.get(key, ()) if isinstance(n, str))
    return names

"""Wrapping dynamic ``import()`` calls so that the page's client can hold a reload while one loads.

A browser raises no event when a module fetch starts, so the client cannot see an ``import()``
in flight on its own. In the JavaScript files it names and hashes, the build therefore wraps
every dynamic import expression the lexer is sure of (see ``references.find_js_references``)::

    import("./x.js")  ->  Object(globalThis.__skewguardImport||Object)(import("./x.js"))

The client defines ``__skewguardImport``: it counts the promise in flight until it settles and
returns it unchanged. Without the client, ``Object(p)`` is ``p``: the page behaves as before.
The ``import()`` itself stays where it was, so a relative specifier resolves as before.

The wrapper starts with an identifier, as ``import`` does, so automatic semicolon insertion
treats it exactly like the keyword (a wrapper starting with "(" would call the previous line).

Files a bundler has already hashed (Vite's output, ``--passthrough``) are never changed: their
names promise their bytes.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # options.py imports this module: it stays free of the lexer's regexes
    from .references import Reference

# The kind of Reference a dynamic import call gets from the lexer: it spans the whole call, from
# "import" to just past its closing parenthesis, and has no URL.
DYNAMIC_IMPORT = "dynamic-import"
HOOK = "__skewguardImport"  # the client's window.__skewguardImport
OPEN = b"Object(globalThis." + HOOK.encode() + b"||Object)("
CLOSE = b")"
# Part of the build's fingerprint: a changed wrapper changes every output that has one, so no
# cached output of another wrapper is ever reused.
FORMAT = 1


def hook_rewrites(refs: Iterable[Reference]) -> list[tuple[int, int, bytes]]:
    """The insertions that wrap each dynamic import call among ``refs``."""
    rewrites = []
    for ref in refs:
        if ref.kind == DYNAMIC_IMPORT:
            rewrites.append((ref.start, ref.start, OPEN))
            rewrites.append((ref.end, ref.end, CLOSE))
    return rewrites


def wrap_dynamic_imports(data: bytes, refs: Iterable[Reference]) -> bytes:
    """``data`` with every dynamic import call among ``refs`` wrapped (for tests and tools)."""
    parts, last = [], 0
    for start, end, insert in sorted(hook_rewrites(refs)):
        parts += [data[last:start], insert]
        last = end
    parts.append(data[last:])
    return b"".join(parts)

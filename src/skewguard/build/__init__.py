"""``skewguard build``: content-hashed static files, rewritten references, manifest, precompression.

``build()`` first checks whether anything changed since the last complete build (scan + stamp);
only then does it import and run the builder, so an up-to-date rebuild stays cheap.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

from ..layout import STATE_DIR
from .errors import BuildError
from .lock import exclusive
from .options import BuildOptions, BuildReport, MissingReferences
from .outputs import refuse_output_collisions, remove_stale_temporaries
from .sources import SourceFile, SourceSpec, parse_source_spec, scan_sources
from .stamp import STAMP_PATH, BuildStamp

__all__ = [
    "STATE_DIR",
    "BuildError",
    "BuildOptions",
    "BuildReport",
    "MissingReferences",
    "PrunePlan",
    "apply_prune",
    "build",
    "build_collected",
    "parse_duration",
    "plan_prune",
]


def build(
    sources: list[str],
    out: str,
    options: BuildOptions | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> BuildReport:
    """Build ``sources`` into ``out``; raises BuildError with a one-line message on user errors.

    ``progress(advance, total)`` is called as files are emitted (not for an up-to-date rebuild).
    """
    specs = [parse_source_spec(s) for s in sources]
    out = os.path.abspath(out)

    def collect() -> tuple[dict[str, SourceFile], list[str]]:
        return scan_sources(specs, exclude_dir=out)

    return _build(specs, out, options or BuildOptions(), progress, collect)


def build_collected(
    files: dict[str, SourceFile],
    roots: list[SourceSpec],
    out: str,
    options: BuildOptions | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> BuildReport:
    """Build exactly ``files`` (canonical path -> source on disk), as a caller collected them.

    What Django's collectstatic uses: its finders have already applied the ignore patterns.
    ``roots`` are the directories the files come from, under their URL prefix; a bundler's
    manifest there (``.vite/manifest.json``) is read whatever the ignore patterns were.
    """
    return _build(
        roots, os.path.abspath(out), options or BuildOptions(), progress, lambda: (files, [])
    )


def _build(
    specs: list[SourceSpec],
    out: str,
    options: BuildOptions,
    progress: Callable[[int, int], None] | None,
    collect: Callable[[], tuple[dict[str, SourceFile], list[str]]],
) -> BuildReport:
    started = time.perf_counter()
    start_ns = time.time_ns()
    if not specs:
        raise BuildError("no source directories given")
    for spec in specs:
        if os.path.realpath(spec.root) == os.path.realpath(out):
            raise BuildError(f"output directory {out} is also a source directory")
    state_dir = os.path.join(out, STATE_DIR)
    try:
        os.makedirs(state_dir, exist_ok=True)
    except OSError as exc:
        raise BuildError(f"cannot create output directory {out}: {exc.strerror}") from None
    if not os.access(out, os.W_OK):
        raise BuildError(f"output directory {out} is not writable")
    with exclusive(state_dir):
        remove_stale_temporaries(out)
        files, scan_warnings = collect()
        if not files:
            raise BuildError("no files found in " + ", ".join(s.root for s in specs))
        refuse_output_collisions(files)
        fingerprint = options.full_fingerprint(_encoder_names(options))
        stamp = None if options.force else BuildStamp.load(os.path.join(out, STAMP_PATH))
        if stamp is not None and stamp.matches(fingerprint, files):
            report = BuildReport.replay(stamp.report, time.perf_counter() - started)
            if options.strict and report.missing:
                raise MissingReferences(report.missing)
            return report
        from .builder import Builder  # the heavy part, only when something changed

        return Builder(specs, out, options, progress, files, scan_warnings).run(
            started, start_ns, fingerprint
        )


def __getattr__(name: str) -> Any:
    """Pruning helpers, imported on first use: a build does not need them."""
    if name in ("PrunePlan", "apply_prune", "parse_duration", "plan_prune"):
        from . import history

        return getattr(history, name)
    raise AttributeError(name)


def _encoder_names(options: BuildOptions) -> list[str]:
    """Which compressions this machine would run: installing brotli later must rebuild."""
    if not options.compress:
        return []
    import importlib.util

    names = ["gzip"]
    names += [
        n
        for n, module in (("br", "brotli"), ("zstd", "zstandard"))
        if importlib.util.find_spec(module)
    ]
    return names

"""Collecting the source files of a build: every SRC directory, under its URL prefix."""

from __future__ import annotations

import fnmatch
import os
import re
from dataclasses import dataclass
from typing import NamedTuple

from .errors import BuildError

# The same defaults as Django's collectstatic: hidden files, editor backups, CVS folders.
DEFAULT_IGNORE = (".*", "*~", "CVS")


@dataclass(frozen=True, slots=True)
class SourceSpec:
    root: str
    prefix: str  # "" or "vendor/" : where the directory's files land in the static tree


class SourceFile(NamedTuple):  # a tuple: ten thousand of them are made per scan
    canonical: str  # path in the static tree, "/"-separated
    path: str  # absolute path on disk
    size: int
    mtime_ns: int


def parse_source_spec(text: str) -> SourceSpec:
    """``dir`` or ``prefix=dir``."""
    prefix, eq, root = text.partition("=")
    if not eq:
        prefix, root = "", text
    prefix = prefix.strip("/")
    if eq and (not prefix or any(part in ("", ".", "..") for part in prefix.split("/"))):
        raise BuildError(f"invalid URL prefix in source {text!r}")
    if not root:
        raise BuildError(f"empty source directory in {text!r}")
    if not os.path.isdir(root):
        what = "is not a directory" if os.path.exists(root) else "does not exist"
        raise BuildError(f"source {root!r} {what}")
    return SourceSpec(root=os.path.abspath(root), prefix=prefix + "/" if prefix else "")


def scan_sources(
    specs: list[SourceSpec],
    *,
    exclude_dir: str | None = None,
    ignore: tuple[str, ...] = DEFAULT_IGNORE,
) -> tuple[dict[str, SourceFile], list[str]]:
    """All files by canonical path; the first source providing a path wins (with a warning)."""
    files: dict[str, SourceFile] = {}
    warnings: list[str] = []
    excluded = os.path.realpath(exclude_dir) if exclude_dir else None
    ignored = re.compile("|".join(fnmatch.translate(pattern) for pattern in ignore)).match
    for spec in specs:
        for entry, relative in _walk(spec.root, ignored, excluded):
            canonical = spec.prefix + relative
            try:
                st = entry.stat()
            except FileNotFoundError:
                warnings.append(f"{entry.path}: vanished during the build; skipped")
                continue
            path = entry.path
            if canonical in files:
                warnings.append(
                    f"{canonical}: provided by {files[canonical].path} and {path}; using the first"
                )
                continue
            files[canonical] = SourceFile(canonical, path, st.st_size, st.st_mtime_ns)
    return files, warnings


def _walk(root: str, ignored, excluded: str | None):
    """(DirEntry, relative path) of every file; the order does not matter, the build sorts."""
    stack = [(os.path.realpath(root), "")]
    while stack:
        directory, relative = stack.pop()
        try:
            entries = os.scandir(directory)
        except OSError:
            continue
        with entries:
            for entry in entries:
                if ignored(entry.name):
                    continue
                if entry.is_dir():
                    if excluded and (
                        entry.path == excluded or (entry.is_symlink() and os.path.realpath(entry.path) == excluded)
                    ):
                        continue
                    stack.append((entry.path, relative + entry.name + "/"))
                elif entry.is_file():
                    yield entry, relative + entry.name

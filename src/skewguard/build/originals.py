"""Canonical-name copies (``css/app.css`` beside ``css/app.<hash>.css``): hard links, same bytes.

Written after the manifest, because these names are live: a server may be answering requests for
them right now. A name that already exists is replaced atomically, never rewritten in place.
Independent per file, so a large build links them from its worker processes.
"""

from __future__ import annotations

import os
from stat import S_ISLNK, S_ISREG

from ..atomic import link_atomic
from ..encodings import SUFFIX

# (canonical name, hashed name, encodings whose siblings exist, encodings whose sibling name is
# another source's file: never touched here, and whether the previous release linked this
# canonical name to the same hashed file with the same siblings)
Original = tuple[str, str, tuple[str, ...], frozenset[str], bool]


def link_originals(out: str, originals: list[Original], fresh: bool) -> None:
    """Point every canonical name (and its compressed siblings) at its hashed file.

    ``fresh``: the output directory held nothing before this build, so no sibling can be stale.
    """
    lstat = os.lstat
    for canonical, hashed, encodings, foreign, unchanged in originals:
        hashed_path = out + "/" + hashed
        canonical_path = out + "/" + canonical
        if unchanged:
            # Still the hard link the previous build made (a rerun after one change): one
            # system call. A symlink (collectstatic --link) or a lone copy is linked again.
            try:
                st = lstat(canonical_path)
            except FileNotFoundError:
                pass
            else:
                if S_ISREG(st.st_mode) and st.st_nlink > 1:
                    continue
        _link(hashed_path, canonical_path)
        for encoding in encodings:
            _link(hashed_path + SUFFIX[encoding], canonical_path + SUFFIX[encoding])
        if fresh:
            continue
        for encoding, suffix in SUFFIX.items():
            if (
                encoding not in encodings
                and encoding not in foreign
                and os.path.lexists(canonical_path + suffix)
            ):
                os.unlink(canonical_path + suffix)  # from an earlier release of this name


def _link(source: str, target: str) -> None:
    try:
        os.link(source, target)  # the common case on a first build: one system call
    except FileExistsError:
        if not _same_file(source, target):
            link_atomic(source, target)  # a live file: replace atomically
    except OSError:
        link_atomic(source, target)  # no hard links here: link_atomic copies


def _same_file(a: str, b: str) -> bool:
    try:
        sa, sb = os.stat(a), os.lstat(b)
    except FileNotFoundError:
        return False
    if S_ISLNK(sb.st_mode):  # collectstatic --link left a symlink to a source: replace it
        return False
    if (sa.st_ino, sa.st_dev) == (sb.st_ino, sb.st_dev):
        return True
    if sa.st_size != sb.st_size:
        return False
    with open(a, "rb") as fa, open(b, "rb") as fb:  # a copy, where hard links were unavailable
        return fa.read() == fb.read()

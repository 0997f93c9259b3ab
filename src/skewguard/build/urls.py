"""Deciding what a reference points at: a file of the static tree, or something left alone."""

from __future__ import annotations

import posixpath
import re
from typing import NamedTuple
from urllib.parse import unquote

_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")
# Template placeholders and other text that cannot be a literal path in a built file.
_NOT_A_PATH = re.compile(r"[\s{}<>$`\\]")


class Target(NamedTuple):  # a tuple: cheap to send back from a worker process
    canonical: str  # path inside the static tree, decoded ("img/a b.png")
    path_end: int  # length of the path part in the written reference (before ? or #)


def resolve(
    url: str, referrer: str, static_url: str, *, bare_is_relative: bool = True
) -> Target | None:
    """Resolve ``url`` written in the file ``referrer`` (a canonical path) to a canonical path.

    None means "not ours, leave it alone": data URIs, any scheme, protocol-relative URLs,
    fragment-only references, paths outside the static tree. With ``bare_is_relative`` false
    (ES module specifiers) a name like ``react`` is a package, not a file.
    """
    if not url or url.startswith(("#", "//")) or _SCHEME.match(url) or _NOT_A_PATH.search(url):
        return None
    path_end = len(url)
    for sep in "?#":
        idx = url.find(sep)
        if idx != -1:
            path_end = min(path_end, idx)
    path = url[:path_end]
    if not path or path.endswith("/"):
        return None
    if path.startswith("/"):
        if not static_url.startswith("/") or not path.startswith(static_url):
            return None
        canonical = path[len(static_url) :]
    else:
        if not bare_is_relative and not path.startswith(("./", "../")):
            return None
        canonical = posixpath.join(posixpath.dirname(referrer), path)
    canonical = posixpath.normpath(unquote(canonical, errors="surrogateescape"))
    if canonical.startswith("../") or canonical in ("..", ".") or canonical.startswith("/"):
        return None
    return Target(canonical=canonical, path_end=path_end)


def hashed_name(canonical: str, file_hash: str) -> str:
    """``css/app.css`` -> ``css/app.<hash>.css``; the hash goes before the last extension."""
    directory, slash, basename = canonical.rpartition("/")
    return directory + slash + insert_hash(basename, file_hash)


def insert_hash(basename: str, file_hash: str) -> str:
    stem, dot, ext = basename.rpartition(".")
    if not dot or not stem:  # no extension, or a dotfile such as ".htaccess"
        return f"{basename}.{file_hash}"
    return f"{stem}.{file_hash}.{ext}"


def rewrite_reference(url: str, target: Target, file_hash: str) -> str:
    """Point the written reference at the hashed file, keeping everything else as written.

    The hashed file sits beside the canonical one, so only the last path segment changes;
    relative or absolute form, percent-encoding, query and fragment stay untouched.
    """
    path, rest = url[: target.path_end], url[target.path_end :]
    directory, slash, basename = path.rpartition("/")
    return directory + slash + insert_hash(basename, file_hash) + rest

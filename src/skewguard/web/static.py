"""Static files: the responder, media types and dev-mode serving, under one import.

``responder`` holds the table and the answer to a request, ``media_types`` the Content-Type of
a name, ``devstatic`` serving straight from source directories; the release history the table
retains files for is read where the build writes it (``build.history``).
"""

from __future__ import annotations

from .devstatic import ContentHashCache, DiskStatic, safe_join
from .media_types import content_type
from .responder import (
    IMMUTABLE,
    MEMORY_BUDGET,
    MEMORY_FILE_LIMIT,
    NO_CACHE,
    STREAM_CHUNK,
    FallbackSource,
    StaticEntry,
    StaticResponse,
    StaticTable,
    Variant,
    accepted_encodings,
    answer_file,
    make_entry,
    memory_entry,
    not_found,
    open_body,
    respond,
)

__all__ = [
    "IMMUTABLE",
    "MEMORY_BUDGET",
    "MEMORY_FILE_LIMIT",
    "NO_CACHE",
    "STREAM_CHUNK",
    "ContentHashCache",
    "DiskStatic",
    "FallbackSource",
    "StaticEntry",
    "StaticResponse",
    "StaticTable",
    "Variant",
    "accepted_encodings",
    "answer_file",
    "content_type",
    "make_entry",
    "memory_entry",
    "not_found",
    "open_body",
    "respond",
    "retained_files",
    "safe_join",
]


def retained_files(root: str) -> set[str]:
    """Hashed files of every release in the build's history (kept until ``skewguard prune``).

    An unreadable history retains nothing: the current manifest's files are still served."""
    from ..build.errors import BuildError
    from ..build.history import load_history

    try:
        return {
            name for record in load_history(root) for name in record.files if isinstance(name, str)
        }
    except (BuildError, TypeError):
        return set()

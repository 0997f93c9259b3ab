"""Store URLs: ``file:///path`` and ``s3://bucket/prefix?endpoint=...&region=...``."""

from __future__ import annotations

from urllib.parse import parse_qsl, unquote, urlsplit

from .backend import StoreBackend, StoreError

DEFAULT_TIMEOUT = 5.0


def open_store(url: str, timeout: float = DEFAULT_TIMEOUT) -> StoreBackend:
    """The backend for ``url``; StoreError (one line) for a URL that cannot work.

    ``timeout`` bounds every request to a remote store, in seconds."""
    parts = urlsplit(url)
    if parts.scheme == "file":
        if parts.netloc not in ("", "localhost") or not parts.path.startswith("/"):
            raise StoreError(f"store URL {url!r}: use file:///absolute/path")
        if parts.query:
            raise StoreError(f"store URL {url!r}: file:// stores take no options")
        from .local import FileStore

        return FileStore(unquote(parts.path))
    if parts.scheme == "s3":
        if not parts.netloc:
            raise StoreError(f"store URL {url!r}: name the bucket, s3://bucket/prefix")
        options = dict(parse_qsl(parts.query))
        from .s3 import QUERY_OPTIONS, S3Store

        unknown = sorted(set(options) - set(QUERY_OPTIONS))
        if unknown:
            raise StoreError(
                f"store URL {url!r}: unknown option {unknown[0]!r} (known: {', '.join(QUERY_OPTIONS)})"
            )
        return S3Store(parts.netloc, unquote(parts.path).strip("/"), options, timeout)
    raise StoreError(f"store URL {url!r}: use file:///path or s3://bucket/prefix")

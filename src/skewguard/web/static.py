"""Static files: a table of every servable file, built once at start-up, and the responder.

Like WhiteNoise, the build directory is scanned once into url -> file with every header
precomputed per encoding; serving is a dict lookup. Unlike it, hashed files (which never change)
under a size limit are also kept in memory once requested, so the common request -- a GET for a
small hashed file -- returns a prebuilt response object without touching the disk.

Only names the manifest or the release history list are served: there is no path from a URL to
an arbitrary file, so traversal is impossible by construction. Dev mode (no manifest) falls
back to a guarded lookup on disk.
"""

from __future__ import annotations

import hashlib
import mimetypes
import os
import re
import stat
from dataclasses import dataclass
from email.utils import formatdate, parsedate_to_datetime

from ..encodings import SUFFIX as ENCODING_SUFFIX
from ..manifest import Manifest

IMMUTABLE = b"public, max-age=31536000, immutable"
NO_CACHE = b"no-cache"
MEMORY_FILE_LIMIT = 256 * 1024  # hashed files up to this size are served from memory
MEMORY_BUDGET = 128 * 1024 * 1024
STREAM_CHUNK = 256 * 1024
# Preference between encodings the client accepts equally: smallest first.
ENCODING_PREFERENCE = ("br", "zstd", "gzip")

_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".cjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".json": "application/json",
    ".map": "application/json",
    ".svg": "image/svg+xml",
    ".wasm": "application/wasm",
    ".woff": "font/woff",
    ".woff2": "font/woff2",
    ".ttf": "font/ttf",
    ".otf": "font/otf",
    ".eot": "application/vnd.ms-fontobject",
    ".webmanifest": "application/manifest+json",
    ".webp": "image/webp",
    ".avif": "image/avif",
    ".ico": "image/x-icon",
    ".txt": "text/plain; charset=utf-8",
    ".xml": "application/xml",
}


def content_type(name: str) -> str:
    ext = os.path.splitext(name)[1].lower()
    if ext in _TYPES:
        return _TYPES[ext]
    guessed, _ = mimetypes.guess_type(name)
    return guessed or "application/octet-stream"


@dataclass(slots=True)
class StaticResponse:
    """What to send. ``body`` is in memory; otherwise ``file`` from ``offset`` for ``length`` bytes."""

    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes = b""
    file: str | None = None
    offset: int = 0
    length: int = 0
    wsgi_headers: list[tuple[str, str]] | None = None  # memoised str form, for WSGI

    def headers_for_wsgi(self) -> list[tuple[str, str]]:
        if self.wsgi_headers is None:
            self.wsgi_headers = [
                (k.decode("latin-1"), v.decode("latin-1")) for k, v in self.headers
            ]
        return self.wsgi_headers


@dataclass(slots=True)
class Variant:
    path: str
    size: int
    encoding: str | None
    etag: bytes
    headers: list[tuple[bytes, bytes]]  # for a full 200 response
    full: StaticResponse | None = None  # the prebuilt 200 (with the body once loaded)


@dataclass(slots=True)
class StaticEntry:
    identity: Variant
    encoded: dict[str, Variant]
    mtime: int  # seconds
    immutable: bool
    common: list[tuple[bytes, bytes]]  # headers every answer carries (304 too)


def _variant(
    path: str, size: int, encoding: str | None, etag: bytes, base: list[tuple[bytes, bytes]]
) -> Variant:
    headers = [*base, (b"content-length", str(size).encode()), (b"etag", etag)]
    if encoding:
        headers.append((b"content-encoding", encoding.encode()))
    return Variant(path, size, encoding, etag, headers)


def make_entry(
    path: str,
    st: os.stat_result,
    content_hash: str,
    immutable: bool,
    encodings: dict[str, os.stat_result],
    extra: list[tuple[bytes, bytes]] = [],  # noqa: B006 - read only
) -> StaticEntry:
    name = os.path.basename(path)
    cache_control = IMMUTABLE if immutable else NO_CACHE
    last_modified = formatdate(st.st_mtime, usegmt=True).encode()
    common = [(b"cache-control", cache_control), (b"last-modified", last_modified), *extra]
    if encodings:
        common.append((b"vary", b"Accept-Encoding"))
    base = [(b"content-type", content_type(name).encode()), (b"accept-ranges", b"bytes"), *common]
    etag = f'"{content_hash}"'.encode()
    identity = _variant(path, st.st_size, None, etag, base)
    encoded = {
        enc: _variant(
            path + ENCODING_SUFFIX[enc], est.st_size, enc, f'"{content_hash}-{enc}"'.encode(), base
        )
        for enc, est in encodings.items()
    }
    return StaticEntry(identity, encoded, int(st.st_mtime), immutable, common)


_HASH_IN_NAME = re.compile(r"\.([0-9a-f]{8,64})(?:\.[^./]+)?$")


class StaticTable:
    """url path (relative to STATIC_URL) -> StaticEntry, for a build directory."""

    def __init__(
        self, root: str, entries: dict[str, StaticEntry], extra: list[tuple[bytes, bytes]]
    ):
        self.root = root
        self.entries = entries
        self.extra = extra  # headers on every answer (X-App-Version)
        self.memory_used = 0

    @classmethod
    def from_build(
        cls,
        root: str,
        manifest: Manifest | None,
        retained_files: set[str],
        extra: list[tuple[bytes, bytes]],
    ) -> StaticTable:
        root = os.path.realpath(root)
        entries: dict[str, StaticEntry] = {}
        if manifest is None:
            return cls(root, entries, extra)
        hashed_names = set(manifest.paths.values()) | set(manifest.files) | retained_files
        for name in hashed_names:
            entry = _entry_for(root, name, _content_hash(name, manifest), True, extra)
            if entry is not None:
                entries[name] = entry
        for canonical, hashed in manifest.paths.items():
            if canonical == hashed:
                continue
            entry = _entry_for(root, canonical, _content_hash(hashed, manifest), False, extra)
            if entry is not None:
                entries[canonical] = entry
        return cls(root, entries, extra)

    def respond(self, name: str, method: str, headers: dict[str, str]) -> StaticResponse | None:
        """The answer for ``name``, or None when it is not a file of this table."""
        entry = self.entries.get(name)
        if entry is None:
            return None
        return respond(entry, method, headers, self)

    def load_body(self, variant: Variant, immutable: bool) -> StaticResponse:
        """The 200 response of a variant; small immutable files are kept in memory."""
        full = variant.full
        if full is not None:
            return full
        if (
            immutable
            and variant.size <= MEMORY_FILE_LIMIT
            and self.memory_used + variant.size <= MEMORY_BUDGET
        ):
            try:
                with open(variant.path, "rb") as fh:
                    body = fh.read()
            except OSError:  # deleted behind the server's back (pruned): a quick 404
                return StaticResponse(404, [(b"content-length", b"0"), *self.extra])
            if len(body) == variant.size:
                self.memory_used += len(body)
                variant.full = StaticResponse(200, variant.headers, body)
                return variant.full
        return StaticResponse(
            200, variant.headers, file=variant.path, offset=0, length=variant.size
        )


_PREBUILT = StaticTable("", {}, [])


def _content_hash(hashed_name: str, manifest: Manifest) -> str:
    info = manifest.files.get(hashed_name)
    if info is not None and info.integrity.startswith("sha384-"):
        import base64

        try:
            return base64.b64decode(info.integrity[7:]).hex()[:16]
        except ValueError:
            pass
    m = _HASH_IN_NAME.search(hashed_name)
    if m:
        return m.group(1)
    return hashlib.sha256(hashed_name.encode()).hexdigest()[:16]


def _entry_for(
    root: str, name: str, content_hash: str, immutable: bool, extra
) -> StaticEntry | None:
    path = os.path.join(root, name)
    try:
        st = os.stat(path)
    except OSError:
        return None
    if not stat.S_ISREG(st.st_mode):
        return None
    encodings = {}
    for enc, suffix in ENCODING_SUFFIX.items():
        try:
            encodings[enc] = os.stat(path + suffix)
        except OSError:
            pass
    return make_entry(path, st, content_hash, immutable, encodings, extra)


def memory_entry(body: bytes, name: str, extra: list[tuple[bytes, bytes]]) -> StaticEntry:
    """An immutable entry served from memory (the browser client), with a gzip variant."""
    import time
    import zlib

    content_hash = hashlib.sha256(body).hexdigest()[:16]
    now = time.time()
    common = [
        (b"cache-control", IMMUTABLE),
        (b"last-modified", formatdate(now, usegmt=True).encode()),
        (b"vary", b"Accept-Encoding"),
        *extra,
    ]
    base = [(b"content-type", content_type(name).encode()), (b"accept-ranges", b"bytes"), *common]
    identity = _variant("", len(body), None, f'"{content_hash}"'.encode(), base)
    identity.full = StaticResponse(200, identity.headers, body)
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    gzipped = compressor.compress(body) + compressor.flush()
    gzip_variant = _variant("", len(gzipped), "gzip", f'"{content_hash}-gzip"'.encode(), base)
    gzip_variant.full = StaticResponse(200, gzip_variant.headers, gzipped)
    return StaticEntry(identity, {"gzip": gzip_variant}, int(now), True, common)


def retained_files(root: str) -> set[str]:
    """Hashed files of every release in the build's history (kept until ``skewguard prune``)."""
    import json

    try:
        with open(os.path.join(root, ".skewguard", "releases.json"), "rb") as fh:
            releases = json.load(fh)["releases"]
        return {name for release in releases for name in release["files"] if isinstance(name, str)}
    except (OSError, ValueError, KeyError, TypeError):
        return set()


# -- answering ----------------------------------------------------------------------------------

_NOT_ALLOWED = [(b"allow", b"GET, HEAD"), (b"content-length", b"0")]
_RANGE = re.compile(r"^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$")
_accept_cache: dict[str, tuple[str, ...]] = {}


def respond(
    entry: StaticEntry, method: str, headers: dict[str, str], table: StaticTable | None
) -> StaticResponse:
    """``table`` loads bodies from disk; None for entries whose responses are all prebuilt."""
    if table is None:
        table = _PREBUILT
    if method not in ("GET", "HEAD"):
        return StaticResponse(405, [*_NOT_ALLOWED, *table.extra])
    if not headers:  # the common case: nothing to negotiate or check
        response = table.load_body(entry.identity, entry.immutable)
        return response if method == "GET" else StaticResponse(200, response.headers)

    variant = entry.identity
    accept = headers.get("accept-encoding")
    range_header = headers.get("range")
    if accept and entry.encoded and range_header is None:
        for encoding in accepted_encodings(accept):
            if encoding in entry.encoded:
                variant = entry.encoded[encoding]
                break

    if _not_modified(entry, headers):
        return StaticResponse(304, [*entry.common, (b"etag", variant.etag)])  # common has extra

    if range_header is not None and _if_range_allows(entry, headers.get("if-range")):
        partial = _range_response(entry.identity, range_header, table.extra)
        if partial is not None:
            if method == "HEAD":
                partial.body, partial.file = b"", None
            return partial

    response = table.load_body(variant, entry.immutable)
    return response if method == "GET" else StaticResponse(200, response.headers)


def accepted_encodings(header: str) -> tuple[str, ...]:
    """Encodings the client accepts, best first; q=0 excludes one; malformed parts are ignored."""
    cached = _accept_cache.get(header)
    if cached is not None:
        return cached
    weights: dict[str, float] = {}
    wildcard: float | None = None
    for part in header[:1024].split(","):
        name, _, params = part.partition(";")
        name = name.strip().lower()
        q = 1.0
        params = params.strip()
        if params:
            key, _, value = params.partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(value.strip())
                except ValueError:
                    continue
                if not 0.0 <= q <= 1.0:
                    continue
        if name == "*":
            wildcard = q
        elif name:
            weights[name] = q
    candidates = []
    for encoding in ENCODING_PREFERENCE:
        q = weights.get(encoding, wildcard if wildcard is not None else 0.0)
        if q > 0:
            candidates.append((-q, ENCODING_PREFERENCE.index(encoding), encoding))
    result = tuple(encoding for _, _, encoding in sorted(candidates))
    if len(_accept_cache) > 512:  # header values vary little; keep the cache bounded anyway
        _accept_cache.clear()
    _accept_cache[header] = result
    return result


def _not_modified(entry: StaticEntry, headers: dict[str, str]) -> bool:
    inm = headers.get("if-none-match")
    if inm is not None:
        tags = {t.strip().removeprefix("W/") for t in inm[:4096].split(",")}
        if "*" in tags:
            return True
        own = {entry.identity.etag.decode()} | {v.etag.decode() for v in entry.encoded.values()}
        return bool(tags & own)
    ims = headers.get("if-modified-since")
    if ims is not None:
        try:
            since = parsedate_to_datetime(ims[:64]).timestamp()
        except (TypeError, ValueError, IndexError, OverflowError):
            return False
        return entry.mtime <= since
    return False


def _if_range_allows(entry: StaticEntry, if_range: str | None) -> bool:
    return if_range is None or if_range.strip() == entry.identity.etag.decode()


def _range_response(
    variant: Variant, header: str, extra: list[tuple[bytes, bytes]]
) -> StaticResponse | None:
    """206 for one satisfiable range, 416 for an unsatisfiable one, None to ignore the header
    (several ranges, or a syntax this server does not honour: a full 200 is then correct)."""
    m = _RANGE.match(header[:200])
    if m is None:
        return None
    first, last = m.group(1)[:19], m.group(2)[:19]  # a 19-digit bound keeps int() cheap
    size = variant.size
    if first == "" and last == "":
        return None
    if first == "":  # the last N bytes
        length = min(int(last), size)
        if length == 0:
            return _unsatisfiable(size, extra)
        start, end = size - length, size - 1
    else:
        start = int(first)
        end = min(int(last), size - 1) if last else size - 1
        if start >= size or (last and int(last) < start):
            return _unsatisfiable(size, extra)
    length = end - start + 1
    headers = [h for h in variant.headers if h[0] != b"content-length"]
    headers += [
        (b"content-length", str(length).encode()),
        (b"content-range", f"bytes {start}-{end}/{size}".encode()),
    ]
    return StaticResponse(206, headers, file=variant.path, offset=start, length=length)


def _unsatisfiable(size: int, extra: list[tuple[bytes, bytes]]) -> StaticResponse:
    return StaticResponse(
        416, [(b"content-range", f"bytes */{size}".encode()), (b"content-length", b"0"), *extra]
    )


# -- dev mode: files straight from source directories ---------------------------------------------


def safe_join(root: str, name: str) -> str | None:
    """``root/name`` if it is a regular file inside ``root`` (symlinks resolved); else None.

    ``name`` is the decoded URL path: anything that could climb out is refused before the
    filesystem is asked.
    """
    if not name or len(name) > 1024 or "\x00" in name or "\\" in name or name.startswith("/"):
        return None
    parts = name.split("/")
    if any(part in ("", ".", "..") for part in parts):
        return None
    real_root = os.path.realpath(root)
    candidate = os.path.realpath(os.path.join(real_root, *parts))
    if os.path.commonpath([candidate, real_root]) != real_root:
        return None
    try:
        st = os.stat(candidate)
    except (OSError, ValueError):
        return None
    return candidate if stat.S_ISREG(st.st_mode) else None


class DiskStatic:
    """Dev mode: files straight from the source directories, checked on every request.

    Canonical names only (nothing is hashed in dev), ``no-cache`` with a strong ETag from the
    file's bytes, hashed once per (path, mtime_ns, size).
    """

    def __init__(self, roots: list[str], extra: list[tuple[bytes, bytes]]):
        self.roots = [r for r in roots if r]
        self.table = StaticTable("", {}, extra)
        self.hashes = ContentHashCache()

    def respond(self, name: str, method: str, headers: dict[str, str]) -> StaticResponse | None:
        for root in self.roots:
            path = safe_join(root, name)
            if path is None:
                continue
            st = os.stat(path)
            entry = make_entry(
                path, st, self.hashes.digest(path, st)[:16], False, {}, self.table.extra
            )
            return respond(entry, method, headers, self.table)
        return None


class ContentHashCache:
    """sha256 of a file's bytes, recomputed only when (mtime_ns, size) changes."""

    def __init__(self) -> None:
        self._cache: dict[str, tuple[int, int, str]] = {}

    def digest(self, path: str, st: os.stat_result | None = None) -> str:
        st = st or os.stat(path)
        cached = self._cache.get(path)
        if cached is not None and cached[0] == st.st_mtime_ns and cached[1] == st.st_size:
            return cached[2]
        with open(path, "rb") as fh:
            digest = hashlib.sha256(fh.read()).hexdigest()
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[path] = (st.st_mtime_ns, st.st_size, digest)
        return digest

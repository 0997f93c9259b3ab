"""The static responder: a table of every servable file, and the answer to one request for it.

Like WhiteNoise, the build directory is scanned once into url -> entry with every header
precomputed per encoding; serving is a dict lookup. Unlike it, hashed files (which never change)
under a size limit are also kept in memory once requested, so the common request -- a GET for a
small hashed file -- returns a prebuilt response object without touching the disk.

Only names the manifest or the release history list are served: there is no path from a URL to
an arbitrary file, so traversal is impossible by construction.

Truth to the directory: a build may rewrite canonical (unhashed) names in the live directory,
and ``prune`` may delete old hashed files, while the server runs. Canonical entries are therefore
re-checked against the file (inode, size, mtime) on every request and rebuilt when it changed;
every file body is opened and checked against the size its headers promise before anything is
sent (``open_body``). A file that vanished is a 404, never a length that is not delivered.

Which precompressed siblings a file has is the manifest's word (``FileInfo.encodings``), not the
existence of ``name.gz``: a source file may itself be called ``data.csv.gz``.

Other sources of hashed files (a release store holding older releases) plug in through
``FallbackSource``: a name the table lacks is looked up there before the answer is a 404.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import stat
import time
import zlib
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from email.utils import formatdate, parsedate_to_datetime
from typing import BinaryIO, Protocol

from ..encodings import SUFFIX as ENCODING_SUFFIX
from ..manifest import Manifest
from .media_types import content_type

Header = tuple[bytes, bytes]

IMMUTABLE = b"public, max-age=31536000, immutable"
NO_CACHE = b"no-cache"
MEMORY_FILE_LIMIT = 256 * 1024  # hashed files up to this size are served from memory
MEMORY_BUDGET = 128 * 1024 * 1024
STREAM_CHUNK = 256 * 1024
# Preference between encodings the client accepts equally: smallest first.
ENCODING_PREFERENCE = ("br", "zstd", "gzip")
# A Range header longer than this is not one this server honours (a full 200 is then correct).
_RANGE_HEADER_LIMIT = 200


@dataclass(slots=True)
class StaticResponse:
    """What to send. ``body`` is in memory; otherwise ``file`` from ``offset`` for ``length`` bytes.

    ``file_size`` is the size of ``file`` the headers were computed for: the body is sent only
    from a file that still has it (``open_body``). Only a ``whole_file`` body may be handed to a
    server's zero-copy path (ASGI ``pathsend``, ``wsgi.file_wrapper``, Django's FileResponse),
    which always sends a file from its first byte to its last.
    """

    status: int
    headers: list[Header]
    body: bytes = b""
    file: str | None = None
    offset: int = 0
    length: int = 0
    file_size: int = 0
    file_ino: int | None = None  # canonical files: the inode the headers describe
    wsgi_headers: list[tuple[str, str]] | None = None  # memoised str form, for WSGI

    @property
    def whole_file(self) -> bool:
        return self.file is not None and self.offset == 0 and self.length == self.file_size

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
    headers: list[Header]  # for a full 200 response
    full: StaticResponse | None = None  # the prebuilt 200 (with the body once loaded)
    ino: int = 0
    mtime_ns: int = 0


@dataclass(slots=True)
class StaticEntry:
    identity: Variant
    encoded: dict[str, Variant]
    mtime: int  # seconds
    immutable: bool
    common: list[Header]  # headers every answer carries (304 too)


class FallbackSource(Protocol):
    """Somewhere else to find a hashed file the local table does not have (a release store).

    ``lookup(name)`` gets the name relative to STATIC_URL and returns a ``StaticEntry`` or None.
    Entries whose variants carry ``full`` (see ``memory_entry``) are served from memory; others
    from ``variant.path`` on local disk. It is called from request threads and the event loop:
    it must be thread-safe and fast (cache what it fetches)."""

    def lookup(self, name: str) -> StaticEntry | None: ...


def _variant(
    path: str,
    st: os.stat_result | None,
    size: int,
    encoding: str | None,
    etag: bytes,
    base: list[Header],
) -> Variant:
    headers = [*base, (b"content-length", str(size).encode()), (b"etag", etag)]
    if encoding:
        headers.append((b"content-encoding", encoding.encode()))
    if st is None:
        return Variant(path, size, encoding, etag, headers)
    return Variant(path, size, encoding, etag, headers, None, st.st_ino, st.st_mtime_ns)


def make_entry(
    path: str,
    st: os.stat_result,
    content_hash: str,
    immutable: bool,
    encodings: Mapping[str, os.stat_result],
    extra: list[Header] = [],  # noqa: B006 - read only
) -> StaticEntry:
    name = os.path.basename(path)
    cache_control = IMMUTABLE if immutable else NO_CACHE
    last_modified = formatdate(st.st_mtime, usegmt=True).encode()
    common = [(b"cache-control", cache_control), (b"last-modified", last_modified), *extra]
    if encodings:
        common.append((b"vary", b"Accept-Encoding"))
    base = [(b"content-type", content_type(name).encode()), (b"accept-ranges", b"bytes"), *common]
    etag = f'"{content_hash}"'.encode()
    identity = _variant(path, st, st.st_size, None, etag, base)
    encoded = {
        enc: _variant(
            path + ENCODING_SUFFIX[enc],
            est,
            est.st_size,
            enc,
            f'"{content_hash}-{enc}"'.encode(),
            base,
        )
        for enc, est in encodings.items()
    }
    return StaticEntry(identity, encoded, int(st.st_mtime), immutable, common)


def memory_entry(
    body: bytes, name: str, extra: list[Header], immutable: bool = True, gzip: bool = True
) -> StaticEntry:
    """An entry served from memory (the browser client, a fallback source's file)."""
    content_hash = hashlib.sha256(body).hexdigest()[:16]
    now = time.time()
    common = [
        (b"cache-control", IMMUTABLE if immutable else NO_CACHE),
        (b"last-modified", formatdate(now, usegmt=True).encode()),
        *extra,
    ]
    if gzip:
        common.append((b"vary", b"Accept-Encoding"))
    base = [(b"content-type", content_type(name).encode()), (b"accept-ranges", b"bytes"), *common]
    identity = _variant("", None, len(body), None, f'"{content_hash}"'.encode(), base)
    identity.full = StaticResponse(200, identity.headers, body)
    encoded: dict[str, Variant] = {}
    if gzip:
        compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
        gzipped = compressor.compress(body) + compressor.flush()
        variant = _variant("", None, len(gzipped), "gzip", f'"{content_hash}-gzip"'.encode(), base)
        variant.full = StaticResponse(200, variant.headers, gzipped)
        encoded["gzip"] = variant
    return StaticEntry(identity, encoded, int(now), immutable, common)


def not_found(extra: list[Header]) -> StaticResponse:
    """skewguard's own 404 for a name under STATIC_URL it does not serve."""
    return StaticResponse(
        404,
        [
            (b"content-type", b"text/plain; charset=utf-8"),
            (b"content-length", b"9"),
            *extra,
        ],
        b"Not Found",
    )


_HASH_IN_NAME = re.compile(r"\.([0-9a-f]{8,64})(?:\.[^./]+)?$")


class StaticTable:
    """url path (relative to STATIC_URL) -> StaticEntry, for a build directory.

    ``extra`` goes on every answer (X-App-Version); ``file_headers`` only on answers about a
    file (Access-Control-Allow-Origin)."""

    def __init__(
        self,
        root: str,
        entries: dict[str, StaticEntry],
        extra: list[Header],
        file_headers: list[Header] | None = None,
        fallback: FallbackSource | None = None,
    ):
        self.root = root
        self.entries = entries
        self.extra = extra
        self.file_headers = [*extra, *(file_headers or [])]
        self.fallback = fallback
        self.memory_used = 0
        self.encodings: dict[str, tuple[str, ...]] = {}  # name -> the manifest's encodings

    @classmethod
    def from_build(
        cls,
        root: str,
        manifest: Manifest | None,
        retained_files: Collection[str],
        extra: list[Header],
        file_headers: list[Header] | None = None,
        fallback: FallbackSource | None = None,
    ) -> StaticTable:
        root = os.path.realpath(root)
        table = cls(root, {}, extra, file_headers, fallback)
        if manifest is None:
            return table
        hashed_names = set(manifest.paths.values()) | set(manifest.files) | set(retained_files)
        servable = hashed_names | set(manifest.paths)
        for name in hashed_names:
            info = manifest.files.get(name)
            encodings = info.encodings if info is not None else tuple(ENCODING_SUFFIX)
            table.encodings[name] = _siblings(name, encodings, servable)
            table._add(name, _content_hash(name, manifest), True, table.encodings[name])
        for canonical, hashed in manifest.paths.items():
            if canonical == hashed:
                continue
            encodings = table.encodings.get(hashed, ())
            table.encodings[canonical] = _siblings(canonical, encodings, servable)
            table._add(
                canonical, _content_hash(hashed, manifest), False, table.encodings[canonical]
            )
        return table

    @classmethod
    def from_directory(
        cls, root: str, extra: list[Header], file_headers: list[Header] | None = None
    ) -> StaticTable:
        """Every file under ``root`` by its relative name, ``no-cache``: files served at ``/``
        such as robots.txt, favicon.ico and .well-known/*, which keep their names."""
        root = os.path.realpath(root)
        table = cls(root, {}, extra, file_headers)
        for directory, _, files in os.walk(root):
            for file_name in files:
                name = os.path.relpath(os.path.join(directory, file_name), root)
                name = name.replace(os.sep, "/")
                try:
                    st = os.stat(os.path.join(root, name))
                except OSError:
                    continue
                table._add(name, _stat_tag(st), False, ())
        return table

    def _add(
        self, name: str, content_hash: str, immutable: bool, encodings: tuple[str, ...]
    ) -> None:
        entry = _entry_for(self.root, name, content_hash, immutable, self.file_headers, encodings)
        if entry is not None:
            self.entries[name] = entry
        else:
            self.entries.pop(name, None)

    def lookup(self, name: str) -> StaticEntry | None:
        """The entry for ``name`` as the directory holds it now (None: not a file of ours)."""
        entry = self.entries.get(name)
        if entry is None:
            return self.fallback.lookup(name) if self.fallback is not None else None
        if not entry.immutable and _changed(entry):
            return self.refresh(name)
        return entry

    def refresh(self, name: str) -> StaticEntry | None:
        """Re-read ``name`` from the directory (it changed, or vanished, under the server)."""
        entry = self.entries.get(name)
        if entry is None:
            return None
        identity = entry.identity
        try:
            st = os.stat(identity.path)
        except OSError:
            self.entries.pop(name, None)
            return None
        # The file is not the one the manifest hashed: its ETag comes from what is on disk now.
        content_hash = _stat_tag(st) if not entry.immutable else identity.etag.decode().strip('"')
        self._add(name, content_hash, entry.immutable, self.encodings.get(name, ()))
        return self.entries.get(name)

    def respond(self, name: str, method: str, headers: Mapping[str, str]) -> StaticResponse | None:
        """The answer for ``name``, or None when it is not a file of this table."""
        entry = self.lookup(name)
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
                    body = fh.read(variant.size + 1)
            except OSError:  # deleted behind the server's back (pruned): a quick 404
                return not_found(self.extra)
            if len(body) == variant.size:
                self.memory_used += len(body)
                variant.full = StaticResponse(200, variant.headers, body)
                return variant.full
        return StaticResponse(
            200,
            variant.headers,
            file=variant.path,
            offset=0,
            length=variant.size,
            file_size=variant.size,
            file_ino=None if immutable else variant.ino,
        )


_PREBUILT = StaticTable("", {}, [])


def _stat_tag(st: os.stat_result) -> str:
    """An ETag for a file whose bytes no manifest hashed: it changes with the file."""
    return f"{st.st_mtime_ns:x}-{st.st_size:x}"


def _changed(entry: StaticEntry) -> bool:
    for variant in (entry.identity, *entry.encoded.values()):
        try:
            st = os.stat(variant.path)
        except OSError:
            return True
        if (st.st_ino, st.st_size, st.st_mtime_ns) != (variant.ino, variant.size, variant.mtime_ns):
            return True
    return False


def _siblings(name: str, encodings: Collection[str], servable: Collection[str]) -> tuple[str, ...]:
    """The encodings of ``name`` whose sibling (``name.gz``...) is not a file in its own right:
    beside ``data.csv``, a source file ``data.csv.gz`` is another file, never its gzip form.
    Files the manifest does not describe (an older release's) may have any sibling on disk."""
    return tuple(
        enc
        for enc in encodings
        if enc in ENCODING_SUFFIX and name + ENCODING_SUFFIX[enc] not in servable
    )


def _content_hash(hashed_name: str, manifest: Manifest) -> str:
    info = manifest.files.get(hashed_name)
    if info is not None and info.integrity.startswith("sha384-"):
        try:
            return base64.b64decode(info.integrity[7:]).hex()[:16]
        except ValueError:
            pass
    m = _HASH_IN_NAME.search(hashed_name)
    if m:
        return m.group(1)
    return hashlib.sha256(hashed_name.encode()).hexdigest()[:16]


def _entry_for(
    root: str,
    name: str,
    content_hash: str,
    immutable: bool,
    extra: list[Header],
    encodings: tuple[str, ...],
) -> StaticEntry | None:
    path = os.path.join(root, name)
    try:
        st = os.stat(path)
    except OSError:
        return None
    if not stat.S_ISREG(st.st_mode):
        return None
    found = {}
    for enc in encodings:
        suffix = ENCODING_SUFFIX.get(enc)
        if suffix is None:
            continue
        try:
            found[enc] = os.stat(path + suffix)
        except OSError:
            pass
    return make_entry(path, st, content_hash, immutable, found, extra)


def open_body(response: StaticResponse) -> BinaryIO | None:
    """The file of ``response``, opened, if it still is the file its headers describe."""
    if response.file is None:
        return None
    try:
        fh = open(response.file, "rb")  # noqa: SIM115 - the caller sends and closes it
    except OSError:
        return None
    try:
        st = os.fstat(fh.fileno())
        same = st.st_size == response.file_size and (
            response.file_ino is None or st.st_ino == response.file_ino
        )
    except OSError:
        same = False
    if not same:
        fh.close()
        return None
    return fh


def read_range(fh: BinaryIO, length: int) -> Iterator[bytes]:
    """``length`` bytes of an opened file from where it stands, in chunks, then closed: the body
    of a range (or of a whole file a server cannot send zero-copy)."""
    with fh:
        while length > 0:
            chunk = fh.read(min(STREAM_CHUNK, length))
            if not chunk:  # the file shrank under us: end the body, never pad it
                return
            length -= len(chunk)
            yield chunk


class FileSource(Protocol):
    """What ``answer_file`` reads: the build's table, or dev mode's directories."""

    def respond(
        self, name: str, method: str, headers: Mapping[str, str]
    ) -> StaticResponse | None: ...

    def refresh(self, name: str) -> object: ...


def answer_file(
    table: FileSource, name: str, method: str, headers: Mapping[str, str]
) -> tuple[StaticResponse | None, BinaryIO | None]:
    """The answer for ``name`` with its file opened (when it has a file body to send).

    A file that changed between the table's look and the open is looked at once more; one that
    vanished is a 404 (None)."""
    for _ in range(2):
        response = table.respond(name, method, headers)
        if response is None or response.file is None or method == "HEAD":
            return response, None
        fh = open_body(response)
        if fh is not None:
            return response, fh
        table.refresh(name)
    return None, None


# -- answering ----------------------------------------------------------------------------------

_NOT_ALLOWED = [(b"allow", b"GET, HEAD"), (b"content-length", b"0")]
_RANGE = re.compile(r"\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*")
_accept_cache: dict[str, tuple[str, ...]] = {}
_ACCEPT_READ = 1024  # characters of Accept-Encoding read (real values are under 100)


def respond(
    entry: StaticEntry, method: str, headers: Mapping[str, str], table: StaticTable | None
) -> StaticResponse:
    """``table`` loads bodies from disk; None for entries whose responses are all prebuilt."""
    if table is None:
        table = _PREBUILT
    if method not in ("GET", "HEAD"):
        return StaticResponse(405, [*_NOT_ALLOWED, *table.extra])
    if not headers:  # the common case: nothing to negotiate or check
        response = table.load_body(entry.identity, entry.immutable)
        return response if method == "GET" else head_of(response)

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
        partial = _range_response(entry, range_header, table.extra)
        if partial is not None:
            if method == "HEAD":
                partial.body, partial.file = b"", None
            return partial

    response = table.load_body(variant, entry.immutable)
    return response if method == "GET" else head_of(response)


def head_of(response: StaticResponse) -> StaticResponse:
    """A HEAD answer: the GET's status and headers (its Content-Length too), and no body, in
    memory or from a file, whichever server sends it."""
    if response.body or response.file is not None:
        return StaticResponse(response.status, response.headers)
    return response


def accepted_encodings(header: str) -> tuple[str, ...]:
    """Encodings the client accepts, best first; q=0 excludes one; malformed parts are ignored.
    Only the first kilobyte is read, and it is the cache key: a server may hand over headers of
    megabytes, and 512 of those as keys would hold that much memory."""
    header = header[:_ACCEPT_READ]
    cached = _accept_cache.get(header)
    if cached is not None:
        return cached
    weights: dict[str, float] = {}
    wildcard: float | None = None
    for part in header.split(","):
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


def _not_modified(entry: StaticEntry, headers: Mapping[str, str]) -> bool:
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


def _range_response(entry: StaticEntry, header: str, extra: list[Header]) -> StaticResponse | None:
    """206 for one satisfiable range, 416 for an unsatisfiable one, None to ignore the header
    (several ranges, or a syntax this server does not honour: a full 200 is then correct).
    Numbers are read exactly, leading zeros and all: a bounded header keeps int() cheap."""
    if len(header) > _RANGE_HEADER_LIMIT:
        return None
    m = _RANGE.fullmatch(header)
    if m is None:
        return None
    first, last = m.group(1), m.group(2)
    variant = entry.identity
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
    if variant.full is not None:  # in memory (the client, a fallback's file): slice it
        return StaticResponse(206, headers, variant.full.body[start : end + 1])
    return StaticResponse(
        206,
        headers,
        file=variant.path,
        offset=start,
        length=length,
        file_size=size,
        file_ino=None if entry.immutable else variant.ino,
    )


def _unsatisfiable(size: int, extra: list[Header]) -> StaticResponse:
    return StaticResponse(
        416, [(b"content-range", f"bytes */{size}".encode()), (b"content-length", b"0"), *extra]
    )

"""The per-file half of a build, spread over worker processes.

Most files of a static tree are leaves: their output bytes are their source bytes (fonts,
images, and CSS/JS that reference nothing), so their hashed name depends on nothing else and
they can be read, hashed, written and compressed in any order, on any core. Each worker also
scans its CSS/JS for references; a file that has some goes back to the main process, which
emits those in dependency order once every leaf has its final name.

Workers are forked, so they share the main process's view of the build (``ScanContext``)
without pickling it; only the small per-file results travel back.
"""

from __future__ import annotations

import base64
import hashlib
import os
from dataclasses import dataclass
from typing import NamedTuple

from . import compress
from .cache import BuildCache
from .import_hook import DYNAMIC_IMPORT
from .references import Reference, find_css_references, find_js_references
from .sources import SourceFile
from .urls import Target, hashed_name, resolve

PARSED_EXTENSIONS = {"css": "css", "js": "js", "mjs": "js"}
# Below this a build stays in one process: forking workers costs more than it saves.
PARALLEL_MIN_FILES = 256
PARALLEL_MIN_BYTES = 8 << 20
# Chunks per worker: enough for an even finish, few enough that results travel in bulk.
_CHUNKS_PER_WORKER = 8
# Cost model for splitting work evenly: a fixed cost per file (system calls), in bytes of
# hashing, plus the bytes, plus far more per byte when the file will also be compressed.
_FILE_COST = 32 << 10
_COMPRESSION_COST_FACTOR = 40


class Emitted(NamedTuple):
    name: str  # output name relative to the output directory
    file_hash: str  # the hash in the name ("" for passed-through files)
    integrity: str  # Subresource Integrity of the emitted bytes ("sha384-<base64>")
    size: int


@dataclass
class ScanContext:
    """What a worker needs to know; inherited by forked workers, never pickled."""

    out: str
    hash_length: int
    es_modules: bool
    import_hook: bool  # wrap dynamic import calls for the client (import_hook.py)
    static_url: str
    passthrough: set[str]
    complete_outputs: set[str]  # outputs a completed build recorded (trusted when present)
    cache: BuildCache
    levels: compress.Levels | None  # None: no compression
    # Canonical names of every source: a compressed sibling never takes the name of a real
    # source file (``data.csv`` is not gzipped when ``data.csv.gz`` is a source of its own).
    sources: frozenset[str] = frozenset()


class Scanned(NamedTuple):
    """One source file after the worker's pass: flat, so that it pickles cheaply."""

    canonical: str
    name: str | None  # the leaf's output name (None: vanished, or it has references)
    file_hash: str  # the hash in that name ("" for passed-through files)
    digest: str  # sha384 hex of the source bytes ("" when vanished)
    size: int
    written: bool  # this build wrote the leaf's output
    encodings: tuple[str, ...] | None  # siblings written here (None: not compressed here)
    saved: int  # bytes compression saved
    refs: list[Reference] | None  # references found (None: not a parsed file)
    targets: list[tuple[Reference, Target]] | None  # those that point into the tree, resolved
    integrity: str  # the leaf's Subresource Integrity ("" for files with references)
    data: bytes | None  # the source bytes of a file with references, as they were scanned
    learned: bool  # digest and references were computed now: the cache should keep them
    warning: str | None

    def emitted(self) -> Emitted:
        assert self.name is not None
        return Emitted(self.name, self.file_hash, self.integrity, self.size)


_context: ScanContext | None = None


def use_context(context: ScanContext) -> None:
    """Make ``context`` the one workers forked from now on see."""
    global _context
    _context = context


def split(files: list[SourceFile], workers: int, compressing: bool) -> list[list[SourceFile]]:
    """Contiguous chunks of about equal estimated cost (order kept: results stay deterministic)."""

    def cost(source: SourceFile) -> int:
        weight = _FILE_COST + source.size
        if compressing and compress.is_compressible(source.canonical, source.size):
            weight += source.size * _COMPRESSION_COST_FACTOR
        return weight

    costs = [cost(f) for f in files]
    target = max(1, sum(costs) // (workers * _CHUNKS_PER_WORKER))
    chunks: list[list[SourceFile]] = []
    current: list[SourceFile] = []
    budget = 0
    for source, weight in zip(files, costs, strict=True):
        current.append(source)
        budget += weight
        if budget >= target:
            chunks.append(current)
            current, budget = [], 0
    if current:
        chunks.append(current)
    return chunks


def scan_chunk(chunk: list[SourceFile], context: ScanContext | None = None) -> list[Scanned]:
    """Scan every file of ``chunk``; emit (and compress) the leaves among them."""
    context = context or _context
    assert context is not None, "use_context() before forking workers"
    encoders = compress.encoders_for(context.levels) if context.levels else []
    created_dirs: set[str] = set()
    return [_scan_one(source, context, encoders, created_dirs) for source in chunk]


def _scan_one(
    source: SourceFile,
    context: ScanContext,
    encoders: list[compress.Encoder],
    created_dirs: set[str],
) -> Scanned:
    canonical = source.canonical
    passthrough = canonical in context.passthrough
    language = None if passthrough else PARSED_EXTENSIONS.get(canonical.rpartition(".")[2].lower())
    cached = context.cache.lookup(source)
    data: bytes | None = None
    warning = None
    learned = False
    if cached is not None and (language is None or cached.refs is not None):
        digest, refs = cached.digest, cached.refs
    else:
        data, warning = read_source(source)
        if data is None:
            return _vanished(canonical, warning)
        refs = None
        if language == "css":
            refs = find_css_references(data)
        elif language == "js":
            refs = find_js_references(
                data, es_modules=context.es_modules, dynamic_imports=context.import_hook
            )
        if refs:
            try:
                data.decode("utf-8")
            except UnicodeDecodeError:
                warning = (
                    f"{canonical}: not valid UTF-8; its references were rewritten byte for byte"
                )
        digest = hashlib.sha384(data).hexdigest()
        learned = True
    if refs:  # rewritten by the main process, in dependency order
        if (
            not learned
            and cached is not None
            and cached.targets is not None
            and (cached.canonical == canonical)
        ):
            targets = cached.targets
        else:
            targets = resolve_targets(refs, canonical, context.static_url)
        return Scanned(
            canonical,
            None,
            "",
            digest,
            source.size,
            False,
            None,
            0,
            refs,
            targets,
            "",
            data,
            learned,
            warning,
        )

    name, file_hash = _output(canonical, digest, passthrough, context.hash_length)
    if is_complete(context, name):
        return Scanned(
            canonical,
            name,
            file_hash,
            digest,
            source.size,
            False,
            None,
            0,
            refs,
            None,
            integrity_of(digest),
            None,
            learned,
            warning,
        )
    if data is None:
        data, warning = read_source(source)
        if data is None:
            return _vanished(canonical, warning)
        digest = hashlib.sha384(data).hexdigest()  # the cache may be stale: trust the bytes
        name, file_hash = _output(canonical, digest, passthrough, context.hash_length)
        learned = True
    path = context.out + "/" + name
    write_output(path, data, created_dirs)
    encodings, saved = None, 0
    if encoders and compress.is_compressible(name, len(data)):
        encoders = allowed_encoders(canonical, encoders, context.sources)
        encodings, saved = compress.compress_file(path, data, encoders)
    return Scanned(
        canonical,
        name,
        file_hash,
        digest,
        len(data),
        True,
        encodings,
        saved,
        refs,
        None,
        integrity_of(digest),
        None,
        learned,
        warning,
    )


def _vanished(canonical: str, warning: str | None) -> Scanned:
    return Scanned(canonical, None, "", "", 0, False, None, 0, None, None, "", None, False, warning)


def resolve_targets(
    refs: list[Reference], canonical: str, static_url: str
) -> list[tuple[Reference, Target]]:
    """The references of ``canonical`` that point into the static tree, with what they point at."""
    resolved = []
    for ref in refs:
        if ref.kind == DYNAMIC_IMPORT:  # a call to wrap, not a URL
            continue
        target = resolve(ref.url, canonical, static_url, bare_is_relative=ref.kind != "module")
        if target is not None:
            resolved.append((ref, target))
    return resolved


def integrity_of(digest_hex: str) -> str:
    """The Subresource Integrity value of bytes whose SHA-384 is ``digest_hex``."""
    return "sha384-" + base64.b64encode(bytes.fromhex(digest_hex)).decode()


def _output(canonical: str, digest: str, passthrough: bool, hash_length: int) -> tuple[str, str]:
    if passthrough:
        return canonical, ""
    file_hash = digest[:hash_length]
    return hashed_name(canonical, file_hash), file_hash


def output_name(
    canonical: str, digest: str, size: int, passthrough: bool, hash_length: int
) -> Emitted:
    """Where a file with these bytes goes: ``name.<hash>.ext``, or its own name when passed through."""
    name, file_hash = _output(canonical, digest, passthrough, hash_length)
    return Emitted(name, file_hash, integrity_of(digest), size)


def allowed_encoders(
    canonical: str, encoders: list[compress.Encoder], sources: frozenset[str]
) -> list[compress.Encoder]:
    """The encoders whose sibling of ``canonical`` is not itself the name of a source."""
    if not sources:
        return encoders
    return [e for e in encoders if canonical + e.suffix not in sources]


def is_complete(context: ScanContext, name: str) -> bool:
    """Written by a completed build and still there: trusted, never written again."""
    return name in context.complete_outputs and os.path.exists(context.out + "/" + name)


def read_source(source: SourceFile) -> tuple[bytes | None, str | None]:
    """The file's bytes, or None and a warning when it vanished or cannot be read."""
    try:
        fd = os.open(source.path, os.O_RDONLY)
        try:  # raw reads: no buffered file object per file (10,000 of them)
            chunks = []
            want = source.size + 1  # one byte more than scanned: a file that grew is read whole
            while True:
                chunk = os.read(fd, want)
                chunks.append(chunk)
                if len(chunk) < want:  # a short read of a regular file is its end
                    break
                want = 1 << 20
            return (chunks[0] if len(chunks) == 1 else b"".join(chunks)), None
        finally:
            os.close(fd)
    except FileNotFoundError:
        return None, f"{source.canonical}: vanished during the build; skipped"
    except OSError as exc:
        return None, f"{source.canonical}: cannot be read ({exc.strerror}); skipped"


def write_output(path: str, data: bytes, created_dirs: set[str]) -> None:
    """Write a hashed output in place, without a temporary file.

    No manifest names this file yet, so no reader can see it half-written, and a killed build's
    leftover is never trusted (only outputs a completed build recorded are).
    """
    directory = os.path.dirname(path)
    if directory not in created_dirs:
        os.makedirs(directory, exist_ok=True)
        created_dirs.add(directory)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)

"""Precompressed siblings (``.gz``, ``.br``, ``.zst``) for compressible static files.

gzip always (zlib is in the standard library); brotli and zstd when their packages are
installed (``pip install skewguard[compression]``). A sibling is kept only when it is at
least 5% smaller than the original: serving a barely smaller file is not worth a lookup.
"""

from __future__ import annotations

import functools
import os
import zlib
from collections.abc import Callable
from dataclasses import dataclass

from ..encodings import SUFFIX

__all__ = ["SUFFIX", "Encoder", "Levels", "available_encoders", "compress_file", "compress_paths"]

# Types whose bytes are already compressed or that compress poorly are left alone.
COMPRESSIBLE_EXTENSIONS = frozenset(
    """css js mjs cjs map json jsonld webmanifest html htm xhtml txt md csv tsv xml svg
    wasm ttf otf eot ico bmp glsl yaml yml less scss sass ts tsx jsx vue""".split()
)
MIN_SAVING = 0.05
MIN_SIZE = 256  # below this the headers outweigh any saving


@dataclass(frozen=True)
class Encoder:
    name: str  # HTTP content-coding: "gzip", "br", "zstd"
    suffix: str
    compress: Callable[[bytes], bytes]


def available_encoders(
    brotli_quality: int = 8, zstd_level: int = 9, gzip_level: int = 6
) -> list[Encoder]:
    """The encoders this machine can run, strongest first. Levels trade build time for size:
    brotli 11 is ~10% smaller than 8 but ~50x slower (0.5 MB/s), which turns a cold build of a
    large tree into minutes; raise it with ``--brotli-quality 11`` when build time does not
    matter."""
    encoders: list[Encoder] = []

    def _gzip(data: bytes) -> bytes:
        # wbits 31 writes a gzip header with mtime 0 and no name: identical bytes on every machine.
        compressor = zlib.compressobj(gzip_level, zlib.DEFLATED, 31)
        return compressor.compress(data) + compressor.flush()

    try:
        import brotli  # type: ignore[import-untyped]
    except ImportError:
        pass
    else:

        def _brotli(data: bytes) -> bytes:
            # A window no larger than the input: same output, but small files no longer pay for
            # allocating and clearing the default 4 MB window (17x faster on a 20 KB file).
            lgwin = max(10, min(24, (len(data) - 1).bit_length()))
            compressed: bytes = brotli.compress(data, quality=brotli_quality, lgwin=lgwin)
            return compressed

        encoders.append(Encoder("br", ".br", _brotli))
    encoders.append(Encoder("gzip", ".gz", _gzip))
    try:
        import zstandard
    except ImportError:
        pass
    else:
        compressor_level = zstd_level

        def _zstd(data: bytes) -> bytes:
            # A compressor per call: ZstdCompressor objects are not safe to share across threads.
            return zstandard.ZstdCompressor(
                level=compressor_level, write_content_size=True
            ).compress(data)

        encoders.append(Encoder("zstd", ".zst", _zstd))
    return encoders


def is_compressible(name: str, size: int) -> bool:
    return size >= MIN_SIZE and name.rpartition(".")[2].lower() in COMPRESSIBLE_EXTENSIONS


def compress_file(path: str, data: bytes, encoders: list[Encoder]) -> tuple[tuple[str, ...], int]:
    """Write the worthwhile siblings of ``path``; return their encodings and the bytes saved."""
    kept: list[str] = []
    saved = 0
    limit = len(data) * (1 - MIN_SAVING)
    hopeless = False
    for index, encoder in enumerate(encoders):
        sibling = path + encoder.suffix
        # The strongest encoder comes first: what it cannot shrink, the others cannot either.
        compressed = data if hopeless else encoder.compress(data)
        worthwhile = len(compressed) <= limit
        hopeless = hopeless or (index == 0 and not worthwhile)
        if worthwhile:
            # In place, like the file it belongs to: both are trusted only once a build completes.
            with open(sibling, "wb") as fh:
                fh.write(compressed)
            kept.append(encoder.name)
            saved += len(data) - len(compressed)
        elif os.path.exists(sibling):
            os.unlink(sibling)
    return tuple(sorted(kept)), saved


@dataclass(frozen=True)
class Levels:
    brotli: int = 8
    gzip: int = 6
    zstd: int = 9


@functools.lru_cache(maxsize=4)
def encoders_for(levels: Levels) -> list[Encoder]:
    return available_encoders(levels.brotli, levels.zstd, levels.gzip)


def compress_paths(
    paths: list[str], levels: Levels, skip: dict[str, frozenset[str]] | None = None
) -> list[tuple[str, tuple[str, ...], int]]:
    """Compress files already written to disk: ``(path, encodings, bytes saved)`` for each.

    ``skip``: encodings not to write for some paths (their sibling's name is a source's).

    The unit of work of the build's worker processes (compression runs outside the main
    process, whose many short system calls would otherwise fight compression threads for the
    GIL). Encoders are looked up here because closures cannot be pickled.
    """
    encoders = encoders_for(levels)
    results = []
    for path in paths:
        with open(path, "rb") as fh:
            data = fh.read()
        excluded = skip.get(path) if skip else None
        use = [e for e in encoders if e.name not in excluded] if excluded else encoders
        encodings, saved = compress_file(path, data, use)
        results.append((path, encodings, saved))
    return results

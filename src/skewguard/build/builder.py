"""The build: sources -> references -> dependency order -> hashed outputs -> manifest.

One pass over the reference graph in dependency order: when a file is emitted, every file it
references already has its final name, so its hash covers theirs and a changed leaf renames
every file that (transitively) references it. Writes are ordered so that a build killed at any
moment leaves the previous release serving: hashed files first (each written to a temporary
name and renamed, so a half-written file never exists under a final name), then the release
history, then the manifest (atomic, durable), then canonical-name copies.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from datetime import UTC, datetime
from typing import Any

from ..layout import STATE_DIR
from ..manifest import FileInfo, Manifest, ManifestError, Release, manifest_path, paths_hash
from ..vite import parse_vite_manifest, vite_output_files
from . import compress
from .cache import BuildCache, CachedSource
from .errors import BuildError
from .graph import components_in_dependency_order
from .history import ReleaseRecord, add_release, load_history, save_history
from .import_hook import hook_rewrites
from .leaves import (
    PARALLEL_MIN_BYTES,
    PARALLEL_MIN_FILES,
    Emitted,
    ScanContext,
    Scanned,
    integrity_of,
    is_complete,
    output_name,
    read_source,
    resolve_targets,
    scan_chunk,
    split,
    use_context,
    write_output,
)
from .options import BuildOptions, BuildReport, MissingReferences
from .originals import link_originals
from .references import Reference
from .sources import SourceFile, SourceSpec
from .stamp import STAMP_PATH, BuildStamp, sources_digest, stat_key, vite_manifest_candidates
from .urls import Target, hashed_name, rewrite_reference

CACHE_PATH = os.path.join(STATE_DIR, "build-cache.json")
# Compression work for rewritten files is sent to worker processes in batches of about this much.
_BATCH_BYTES = 4 << 20
_BATCH_FILES = 256


class Builder:
    """One full (incremental) build; ``build()`` in ``__init__`` decides when one is needed."""

    def __init__(
        self,
        specs: list[SourceSpec],
        out: str,
        options: BuildOptions,
        progress: Callable[[int, int], None] | None,
        files: dict[str, SourceFile],
        scan_warnings: list[str],
    ) -> None:
        self.specs = specs
        self.files: dict[str, SourceFile] = files
        self.scan_warnings = scan_warnings
        self.out = out
        self.options = options
        self.progress = progress or (lambda done, total: None)
        self.report = BuildReport(out=out)
        self.emitted: dict[str, Emitted] = {}
        self.contents: dict[str, bytes] = {}  # sources read while finding references
        self.refs: dict[
            str, list[Reference]
        ] = {}  # canonical -> references, for files that have some
        self.targets: dict[str, list[tuple[Reference, Target]]] = {}  # resolved, once per file
        self.digests: dict[str, str] = {}  # canonical -> sha384 hex of the source bytes
        self.created_dirs: set[str] = set()
        self.encoders = (
            compress.available_encoders(
                options.brotli_quality, options.zstd_level, options.gzip_level
            )
            if options.compress
            else []
        )
        self.levels = compress.Levels(
            options.brotli_quality, options.gzip_level, options.zstd_level
        )
        self.pool: ProcessPoolExecutor | None = None  # started once there is enough work
        self.batch: list[str] = []
        self.batch_bytes = 0
        self.batch_skip: dict[str, frozenset[str]] = {}
        self.written_names: set[str] = set()  # outputs this build wrote (not found complete)
        # Encodings a file must not get, because its sibling's name is a source of its own.
        self.blocked = _blocked_encodings(files)
        self.compressions: list[Future[Any]] = []

    # -- orchestration ---------------------------------------------------------------------------

    def run(self, started: float, start_ns: int, fingerprint: str) -> BuildReport:
        watched = [p for spec in self.specs for p in vite_manifest_candidates(spec)] + [
            manifest_path(self.out)
        ]
        previous = self.previous = self._previous_manifest()
        self.history = load_history(self.out)
        # Outputs a completed build recorded. Only these are trusted when found on disk: a file
        # of the same name left by a killed build may be partial, and is written again.
        self.complete_outputs = {name for record in self.history for name in record.files}
        if previous is not None:
            self.complete_outputs.update(previous.files)
        self.report.warnings.extend(self.scan_warnings)
        self.passthrough = self._passthrough_names()
        self.cache = BuildCache.load(os.path.join(self.out, CACHE_PATH), self.options.fingerprint())
        self.fresh_out = _is_fresh(self.out)
        self.context = ScanContext(
            out=self.out,
            hash_length=self.options.hash_length,
            es_modules=self.options.es_modules,
            import_hook=self.options.import_hook,
            static_url=self.options.static_url,
            passthrough=self.passthrough,
            complete_outputs=self.complete_outputs,
            cache=self.cache,
            levels=self.levels if self.encoders else None,
            sources=frozenset(
                canonical + compress.SUFFIX[e] for canonical, es in self.blocked.items() for e in es
            ),
        )
        try:
            return self._build(started, start_ns, fingerprint, previous, watched)
        except BrokenProcessPool:
            raise BuildError(
                "a worker process of the build died (killed, or out of memory?); the previous "
                "release is untouched: build again, or with --jobs 1"
            ) from None
        finally:
            if self.pool:
                self.pool.shutdown(cancel_futures=True)

    def _build(
        self,
        started: float,
        start_ns: int,
        fingerprint: str,
        previous: Manifest | None,
        watched: list[str],
    ) -> BuildReport:
        self._scan_and_emit_leaves()
        self._emit_referencing()
        encodings = self._finish_compression()
        if self.options.strict and self.report.missing:
            raise MissingReferences(self.report.missing)

        if self.options.file_mode is not None or self.options.dir_mode is not None:
            self._apply_modes(encodings)
        manifest = self._manifest(encodings)
        self.report.version = manifest.hash
        self.report.release_id = manifest.release.id if manifest.release else ""
        unchanged = previous is not None and _same_release(previous, manifest)
        if not unchanged:
            originals = (
                sorted(c for c in self.emitted if c not in self.passthrough)
                if self.options.originals
                else []
            )
            assert manifest.release is not None  # _manifest() always sets one
            record = ReleaseRecord(
                id=manifest.release.id,
                hash=manifest.hash,
                built_at=manifest.release.built_at,
                files=sorted({e.name for e in self.emitted.values()}),
                originals=originals,
            )
            save_history(self.out, add_release(self.history, record))
            manifest.save(manifest_path(self.out))
        linking = self._write_originals(encodings) if self.options.originals else []
        self.cache.save(
            os.path.join(self.out, CACHE_PATH), start_ns, {f.path for f in self.files.values()}
        )
        for future in linking:
            future.result()
        BuildStamp(
            fingerprint,
            start_ns,
            sources_digest(self.files),
            {path: stat_key(path) for path in watched},
            {**self.report.__dict__},
        ).save(os.path.join(self.out, STAMP_PATH))
        self.report.seconds = time.perf_counter() - started
        return self.report

    def _previous_manifest(self) -> Manifest | None:
        path = manifest_path(self.out)
        if not os.path.exists(path):
            return None
        try:
            manifest = Manifest.load(path)
        except ManifestError as exc:
            if self.options.force:
                self.report.warnings.append(f"replacing unreadable manifest: {exc}")
                return None
            raise BuildError(
                f"{exc}; refusing to replace it (move it away or pass --force)"
            ) from None
        if not manifest.is_skewguard:
            if self.options.force:
                self.report.warnings.append(f"replacing {path}, which was not written by skewguard")
                return None
            raise BuildError(
                f"{path} was not written by skewguard (Django's collectstatic?); "
                "refusing to replace it (move it away or pass --force)"
            )
        return manifest

    def _passthrough_names(self) -> set[str]:
        """Files a bundler has already content-hashed: listed in a Vite manifest or matching the pattern."""
        names: set[str] = set()
        for spec in self.specs:
            for candidate in vite_manifest_candidates(spec):
                for name in _vite_manifest_files(candidate):
                    if spec.prefix + name in self.files:
                        names.add(spec.prefix + name)
        pattern = self.options.passthrough
        if pattern is not None:
            names.update(c for c in self.files if pattern.search(c))
        self.report.passed_through = len(names)
        return names

    # -- leaves, in worker processes -----------------------------------------------------------

    def _scan_and_emit_leaves(self) -> None:
        """Scan every source; emit the files whose output is their source (see leaves.py).

        Sources the cache knows (same size and mtime, outside the racy window) need no reading:
        they are handled here, and only the others go to worker processes, if there are enough
        of them to be worth forking. A rerun after one change forks nothing.
        """
        sources = list(self.files.values())
        total = len(sources)
        lookup = self.cache.lookup
        unknown = [i for i, source in enumerate(sources) if lookup(source) is None]
        results: list[Scanned | None] = [None] * total
        if len(unknown) < total:
            known_at = sorted(set(range(total)).difference(unknown))
            for i, scanned in zip(
                known_at, scan_chunk([sources[i] for i in known_at], self.context), strict=True
            ):
                results[i] = scanned
            self.progress(len(known_at), total)
        todo = [sources[i] for i in unknown]
        if self._worth_forking(todo):
            use_context(self.context)  # before the pool forks: workers inherit it
            self.pool = _fork_pool(self.options.workers)
            self.report.processes = self.options.workers
            chunks = split(todo, self.options.workers, compressing=bool(self.encoders))
            futures = [(len(chunk), self.pool.submit(scan_chunk, chunk)) for chunk in chunks]
            done = iter(unknown)
            for size, future in futures:  # in submission order: a deterministic report
                for scanned in future.result():
                    results[next(done)] = scanned
                self.progress(size, total)
        elif todo:
            for i, scanned in zip(unknown, scan_chunk(todo, self.context), strict=True):
                results[i] = scanned
            self.progress(len(todo), total)
        for result in results:  # in source order, however the work was split
            assert result is not None
            self._take(result)

    def _worth_forking(self, sources: list[SourceFile]) -> bool:
        if self.options.workers < 2:
            return False
        return (
            len(sources) >= PARALLEL_MIN_FILES or sum(s.size for s in sources) >= PARALLEL_MIN_BYTES
        )

    def _take(self, scanned: Scanned) -> None:
        """Record what a worker did with one source."""
        canonical = scanned.canonical
        if scanned.warning:
            self.report.warnings.append(scanned.warning)
        if scanned.learned:
            source = self.files[canonical]
            self.cache.sources[source.path] = CachedSource(
                source.size,
                source.mtime_ns,
                scanned.digest,
                scanned.refs,
                canonical,
                scanned.targets,
            )
        if scanned.refs:
            self.refs[canonical] = scanned.refs
            self.targets[canonical] = scanned.targets or []
            self.digests[canonical] = scanned.digest
            if scanned.data is not None:
                self.contents[canonical] = scanned.data
        elif scanned.name is not None:
            if scanned.written:
                self.report.written += 1
            self._record(
                canonical, scanned.emitted(), scanned.written, scanned.encodings, scanned.saved
            )

    # -- files with references, in dependency order ----------------------------------------------

    def _targets(self, canonical: str) -> list[tuple[Reference, Target]]:
        resolved = self.targets.get(canonical)  # resolved by the worker that scanned the file
        if resolved is None:
            resolved = self.targets[canonical] = resolve_targets(
                self.refs.get(canonical, []), canonical, self.options.static_url
            )
        return resolved

    def _emit_referencing(self) -> None:
        """Emit the files that reference others; every leaf already has its final name."""
        edges = {
            canonical: [
                t.canonical for _, t in self._targets(canonical) if t.canonical in self.refs
            ]
            for canonical in self.refs
        }
        for component in components_in_dependency_order(self.refs, edges):
            if len(component) == 1 and component[0] not in edges[component[0]]:
                self._emit_single(component[0])
            else:
                self._emit_cycle(component)

    def _rewrites(self, canonical: str, hashes: dict[str, str]) -> list[tuple[int, int, bytes]]:
        """Replacements for the references of ``canonical``.

        A target's hash comes from ``hashes`` (fellow members of a cycle) or from its emitted
        output; a target with neither is missing (not in the tree, or vanished mid-build).
        """
        rewrites = []
        for ref, target in self._targets(canonical):
            file_hash = hashes.get(target.canonical)
            if file_hash is None:
                emitted = self.emitted.get(target.canonical)
                if emitted is None:
                    self._missing(canonical, ref)
                    continue
                file_hash = emitted.file_hash
            if file_hash:  # passed-through targets keep their name
                new_url = rewrite_reference(ref.url, target, file_hash)
                rewrites.append((ref.start, ref.end, new_url.encode("utf-8", "surrogateescape")))
        return rewrites + hook_rewrites(self.refs.get(canonical, ()))

    def _missing(self, canonical: str, ref: Reference) -> None:
        if ref.kind == "sourcemap" and not self.options.strict:
            self.report.warnings.append(f"{canonical}:{ref.line}: source map {ref.url!r} not found")
            return
        message = f"{canonical}:{ref.line}: missing reference {ref.url!r}"
        if message in self.report.missing:  # cycle members are rewritten twice
            return
        self.report.missing.append(message)
        self.report.warnings.append(message)

    def _emit_single(self, canonical: str) -> None:
        source = self.files[canonical]
        rewrites = self._rewrites(canonical, {}) if canonical in self.refs else []
        if not rewrites:
            self._emit_unchanged(canonical, source, passthrough=canonical in self.passthrough)
            return
        # The output is determined by the source bytes and the rewrites: a known key means a
        # known output, found without reading the source again.
        key = hashlib.sha256(
            canonical.encode("utf-8", "surrogateescape")
            + b"\0"
            + self.digests[canonical].encode()
            + b"".join(b"%d:%d:%s\0" % r for r in rewrites)
        ).hexdigest()
        cached = self.cache.outputs.get(key)
        if cached is not None and self._is_complete(cached[0]):
            self.contents.pop(canonical, None)
            self._record(canonical, Emitted(*cached), written=False)
            return
        data = self._source_bytes(canonical, source)
        if data is None:
            return
        output = _apply(data, rewrites)
        emitted = self._emitted_for(canonical, output)
        self.cache.outputs[key] = list(emitted)
        self._record(canonical, emitted, written=self._write(emitted.name, output))

    def _emit_unchanged(self, canonical: str, source: SourceFile, passthrough: bool) -> None:
        """Emit a file whose output bytes are its source bytes."""
        digest = self.digests.get(canonical)
        if digest is None:
            cached = self.cache.lookup(source)
            digest = cached.digest if cached else None
        if digest is not None:
            emitted = self._name(canonical, digest, source.size, passthrough)
            if self._is_complete(emitted.name):
                self.contents.pop(canonical, None)
                self._record(canonical, emitted, written=False)
                return
        data = self._source_bytes(canonical, source)
        if data is None:
            return
        digest = hashlib.sha384(data).hexdigest()
        emitted = self._name(canonical, digest, len(data), passthrough)
        self.cache.sources[source.path] = CachedSource(
            source.size, source.mtime_ns, digest, self.refs.get(canonical)
        )
        self._record(canonical, emitted, written=self._write(emitted.name, data))

    def _emit_cycle(self, members: list[str]) -> None:
        """Hash a strongly connected component as one unit.

        No member can contain its own final hash, so each member's hash is derived from a digest
        over all members (paths and bytes, with references leaving the cycle already rewritten)
        plus the member's own path. Deterministic, and any change in any member renames them all.
        The integrity value is still over each member's emitted bytes.
        """
        contents = {}
        for member in members:
            data = self._source_bytes(member, self.files[member])
            if data is not None:
                contents[member] = data
        unit = hashlib.sha384()
        for member, data in sorted(contents.items()):
            leaving = self._rewrites(member, dict.fromkeys(contents, ""))
            unit.update(
                member.encode("utf-8", "surrogateescape") + b"\0" + _apply(data, leaving) + b"\0"
            )
        unit_digest = unit.digest()
        hashes = {
            member: hashlib.sha384(
                unit_digest + member.encode("utf-8", "surrogateescape")
            ).hexdigest()[: self.options.hash_length]
            for member in contents
        }
        for member, data in sorted(contents.items()):
            output = _apply(data, self._rewrites(member, hashes))
            integrity = integrity_of(hashlib.sha384(output).hexdigest())
            emitted = Emitted(
                hashed_name(member, hashes[member]), hashes[member], integrity, len(output)
            )
            self._record(member, emitted, written=self._write(emitted.name, output))

    def _name(self, canonical: str, digest: str, size: int, passthrough: bool = False) -> Emitted:
        return output_name(canonical, digest, size, passthrough, self.options.hash_length)

    def _emitted_for(self, canonical: str, output: bytes, passthrough: bool = False) -> Emitted:
        return self._name(canonical, hashlib.sha384(output).hexdigest(), len(output), passthrough)

    def _record(
        self,
        canonical: str,
        emitted: Emitted,
        written: bool,
        encodings: tuple[str, ...] | None = None,
        saved: int = 0,
    ) -> None:
        """Register an output; ``written`` when this build wrote it (then it is compressed).

        ``encodings``: the siblings a worker already wrote along with the file, if it did.
        """
        self.emitted[canonical] = emitted
        if written:
            self.written_names.add(emitted.name)
        self.report.files += 1
        self.report.bytes += emitted.size
        if encodings is not None:
            self.cache.encodings[emitted.name] = list(encodings)
            self.report.compressed += bool(encodings)
            self.report.compression_saved += saved
            return
        if not self.encoders or not compress.is_compressible(emitted.name, emitted.size):
            return
        if not written:
            if emitted.name in self.cache.encodings:
                return
            # Written by an earlier build: keep its siblings; compress only if it has none.
            path = os.path.join(self.out, emitted.name)
            blocked = self.blocked.get(canonical, ())
            existing = [
                e.name
                for e in self.encoders
                if e.name not in blocked and os.path.exists(path + e.suffix)
            ]
            if existing:
                self.cache.encodings[emitted.name] = sorted(existing)
                return
        self.batch.append(emitted.name)
        self.batch_bytes += emitted.size
        if canonical in self.blocked:
            self.batch_skip[os.path.join(self.out, emitted.name)] = self.blocked[canonical]
        if self.options.workers > 1 and (
            self.batch_bytes >= _BATCH_BYTES or len(self.batch) >= _BATCH_FILES
        ):
            self._submit_batch()

    def _submit_batch(self) -> None:
        if not self.batch:
            return
        if self.pool is None:
            self.pool = _fork_pool(self.options.workers)
            self.report.processes = self.options.workers
        paths = [os.path.join(self.out, name) for name in self.batch]
        skip = {p: self.batch_skip[p] for p in paths if p in self.batch_skip}
        self.compressions.append(
            self.pool.submit(compress.compress_paths, paths, self.levels, skip)
        )
        self.batch, self.batch_bytes = [], 0

    def _source_bytes(self, canonical: str, source: SourceFile) -> bytes | None:
        data = self.contents.pop(canonical, None)
        if data is None:
            data, warning = read_source(source)
            if warning:
                self.report.warnings.append(warning)
        return data

    def _is_complete(self, name: str) -> bool:
        return is_complete(self.context, name)

    def _write(self, name: str, data: bytes) -> bool:
        """Write an output unless a completed build already did (outputs are content-addressed)."""
        if self._is_complete(name):
            return False
        write_output(os.path.join(self.out, name), data, self.created_dirs)
        self.report.written += 1
        return True

    def _finish_compression(self) -> dict[str, tuple[str, ...]]:
        if self.pool is None:  # little to do: not worth starting worker processes
            results = compress.compress_paths(
                [os.path.join(self.out, n) for n in self.batch], self.levels, self.batch_skip
            )
        else:
            self._submit_batch()
            results = [r for future in self.compressions for r in future.result()]
        prefix = len(self.out) + 1
        for path, encodings, saved in results:
            self.cache.encodings[path[prefix:]] = list(encodings)
            if encodings:
                self.report.compressed += 1
            self.report.compression_saved += saved
        live = {e.name for e in self.emitted.values()}
        return {name: tuple(encs) for name, encs in self.cache.encodings.items() if name in live}

    def _apply_modes(self, encodings: dict[str, tuple[str, ...]]) -> None:
        """Give every output of this release (and the directories holding it) the asked modes.

        Canonical names are hard links to the hashed files, so they share the mode.
        """
        file_mode, dir_mode = self.options.file_mode, self.options.dir_mode
        # Outputs found complete got their modes from the build that wrote them, unless the
        # asked modes changed since.
        modes = f"{file_mode},{dir_mode}"
        every = self.cache.modes != modes
        self.cache.modes = modes
        if dir_mode is None and (file_mode is None or self._created_with_mode(file_mode)):
            return
        directories: set[str] = set()
        for canonical, emitted in self.emitted.items():
            if not every and emitted.name not in self.written_names:
                continue
            for name in (emitted.name, canonical):
                parent = os.path.dirname(name)
                while parent and parent not in directories:
                    directories.add(parent)
                    parent = os.path.dirname(parent)
            if file_mode is None:
                continue
            path = os.path.join(self.out, emitted.name)
            for variant in [path] + [
                path + compress.SUFFIX[e] for e in encodings.get(emitted.name, ())
            ]:
                try:
                    os.chmod(variant, file_mode)
                except FileNotFoundError:
                    pass
        if dir_mode is not None:
            for directory in directories:
                os.makedirs(os.path.join(self.out, directory), exist_ok=True)
                os.chmod(os.path.join(self.out, directory), dir_mode)

    def _created_with_mode(self, file_mode: int) -> bool:
        """Whether every output already has ``file_mode``: a fresh output directory holds only
        files this build created, all with the same mode (the umask's), and Django's default
        ``FILE_UPLOAD_PERMISSIONS`` is usually that mode. Saves a chmod per file and sibling."""
        if not self.fresh_out or not self.written_names:
            return False
        sample = os.path.join(self.out, next(iter(self.written_names)))
        try:
            return (os.stat(sample).st_mode & 0o7777) == file_mode
        except FileNotFoundError:
            return False

    # -- results ---------------------------------------------------------------------------------

    def _manifest(self, encodings: dict[str, tuple[str, ...]]) -> Manifest:
        paths = {canonical: e.name for canonical, e in self.emitted.items()}
        files = {
            e.name: FileInfo(
                size=e.size, integrity=e.integrity, encodings=encodings.get(e.name, ())
            )
            for e in self.emitted.values()
        }
        app_hash = paths_hash(paths)
        built_at = datetime.now(UTC).isoformat(timespec="seconds")
        return Manifest(
            paths, app_hash, files, Release(self.options.release_id or app_hash, built_at)
        )

    def _write_originals(self, encodings: dict[str, tuple[str, ...]]) -> list[Future[Any]]:
        """Link the canonical names; in worker processes when there are any (wait on the futures)."""
        previous = self.previous
        before = previous.paths if previous is not None else {}
        written = self.written_names

        def unchanged(canonical: str, name: str, encs: tuple[str, ...]) -> bool:
            if before.get(canonical) != name or name in written:
                return False
            info = previous.files.get(name) if previous is not None else None
            return info is not None and tuple(info.encodings) == tuple(encs)

        originals = [
            (
                canonical,
                e.name,
                encodings.get(e.name, ()),
                self.blocked.get(canonical, frozenset()),
                unchanged(canonical, e.name, encodings.get(e.name, ())),
            )
            for canonical, e in self.emitted.items()
            if canonical != e.name
        ]
        if self.pool is None:
            link_originals(self.out, originals, self.fresh_out)
            return []
        chunk = -(-len(originals) // self.options.workers)
        return [
            self.pool.submit(link_originals, self.out, originals[i : i + chunk], self.fresh_out)
            for i in range(0, len(originals), chunk)
        ]


def _fork_pool(workers: int) -> ProcessPoolExecutor:
    # fork, not spawn: spawn re-imports the caller's __main__ (a script calling build() without
    # a __name__ guard would run again), and forked workers inherit the build's state without
    # pickling it. ProcessPoolExecutor forks all workers before it starts its own thread, so the
    # fork copies a single-threaded process.
    return ProcessPoolExecutor(
        workers,
        mp_context=multiprocessing.get_context("fork"),
        initializer=_exit_with_parent,
        initargs=(os.getpid(),),
    )


def _exit_with_parent(parent: int) -> None:
    """In a worker: exit when the build process is gone (killed with SIGKILL, say).

    Forked workers hold both ends of their task pipe, so they never see it close and would wait
    for work forever; a watchdog thread notices that they were orphaned instead.
    """

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.2)
        os._exit(1)

    threading.Thread(target=watch, name="skewguard-parent-watch", daemon=True).start()


def _is_fresh(out: str) -> bool:
    """Nothing in the output directory yet but skewguard's own state."""
    with os.scandir(out) as entries:
        return all(entry.name == STATE_DIR for entry in entries)


def _blocked_encodings(files: dict[str, SourceFile]) -> dict[str, frozenset[str]]:
    """Sources whose compressed sibling would take the name of another source, and which encodings."""
    blocked: dict[str, frozenset[str]] = {}
    for canonical in files:
        for suffix in _SUFFIXES:
            if canonical.endswith(suffix) and canonical[: -len(suffix)] in files:
                base = canonical[: -len(suffix)]
                blocked[base] = blocked.get(base, frozenset()) | {_ENCODING_OF[suffix]}
    return blocked


_ENCODING_OF = {suffix: encoding for encoding, suffix in compress.SUFFIX.items()}
_SUFFIXES = tuple(_ENCODING_OF)


def _same_release(a: Manifest, b: Manifest) -> bool:
    """Equal but for the build time: then nothing needs writing."""
    return (
        a.paths == b.paths
        and a.files == b.files
        and a.hash == b.hash
        and (a.release and a.release.id) == (b.release and b.release.id)
    )


def _apply(data: bytes, rewrites: list[tuple[int, int, bytes]]) -> bytes:
    if not rewrites:
        return data
    parts, last = [], 0
    for start, end, replacement in sorted(rewrites):
        parts.append(data[last:start])
        parts.append(replacement)
        last = end
    parts.append(data[last:])
    return b"".join(parts)


def _vite_manifest_files(path: str) -> set[str]:
    """Output files named by a Vite manifest (``file``, ``css``, ``assets``); empty if not one."""
    try:
        with open(path, "rb") as fh:
            chunks = parse_vite_manifest(fh.read())
    except OSError:
        return set()
    return vite_output_files(chunks) if chunks is not None else set()

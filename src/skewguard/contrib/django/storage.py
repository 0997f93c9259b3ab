"""A staticfiles storage whose ``collectstatic`` builds with skewguard, straight from the finders.

Drop-in for ManifestStaticFilesStorage, rooted at STATIC_ROOT. collectstatic's copy step writes
nothing: ``post_process`` receives every file the finders found (after Django's ignore patterns,
or without them under ``--no-default-ignore``) and builds from those files where they are:
hashed names, references rewritten by the comment-aware tokenizers, one pass over the reference
graph, precompression, and the same ``staticfiles.json`` that Django's manifest machinery reads,
so ``{% static %}`` and ``storage.url()`` work as before. The build is incremental: a file whose
size and mtime match the last build is trusted, anything else is read again, so a change in the
same second or a restore with an older mtime is never missed.

Settings: ``SKEWGUARD = {"COMPRESS": False}`` (or ``SKEWGUARD_COMPRESS=0``) skips
precompression; ``SKEWGUARD = {"STRICT": True}`` (or ``SKEWGUARD_STRICT=1``, or the storage
option ``strict``) makes a missing reference fail collectstatic. Both are also storage options
(``STORAGES["staticfiles"]["OPTIONS"]``).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from stat import S_ISLNK
from types import FrameType
from typing import Any, Self

from django.conf import settings
from django.contrib.staticfiles.storage import ManifestStaticFilesStorage
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage
from django.core.management.base import CommandError

# How many missing references collectstatic prints at normal verbosity.
MISSING_SHOWN = 5
_CONTAINERS_DOC = "docs/deployment.md (containers: build once, publish with `skewguard publish`)"


class ManifestStorage(ManifestStaticFilesStorage):
    manifest_strict = (
        False  # an unknown name falls back to its canonical URL, like skewguard's static()
    )

    def __init__(
        self,
        location: Any = None,
        base_url: str | None = None,
        *args: Any,
        compress: bool | None = None,
        strict: bool | None = None,
        import_hook: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(location, base_url, *args, **kwargs)
        self.compress = compress
        self.strict = strict
        # Dynamic import() calls are wrapped so the browser client holds the page while a chunk
        # loads; OPTIONS {"import_hook": False} leaves them exactly as Django's storage would.
        self.import_hook = import_hook

    # -- collectstatic's copy step: nothing to copy ----------------------------------------------

    def exists(self, name: str) -> bool:
        # collectstatic calls this from handle() (is STATIC_ROOT empty?) before its copy step,
        # and from its per-file check: the moments to take the copy step over. Any other caller
        # (a template's unknown name) pays one look at its caller's name.
        caller = sys._getframe(1).f_code.co_name
        command = _collecting() if caller in ("handle", "delete_file") else None
        if command is not None:
            _index_file_lists(command)
            if command.post_process and not command.dry_run and not command.symlink:
                _answer_copy_step(command, self)
        found: bool = super().exists(name)
        return found

    def save(self, name: str, content: Any, max_length: int | None = None) -> str:
        command = _collecting()
        if command is not None and command.post_process:
            # post_process builds from the source file itself: a copy would only be read back.
            return name
        saved: str = super().save(name, content, max_length=max_length)
        return saved

    def delete(self, name: str) -> None:
        command = _collecting()
        if command is not None and command.post_process and not _clearing():
            # collectstatic deletes a changed file before copying it again; the live file stays
            # until the build replaces it atomically.
            return
        super().delete(name)

    # -- the build ---------------------------------------------------------------------------------

    def post_process(
        self, paths: dict[str, tuple[Any, str]], dry_run: bool = False, **options: Any
    ) -> Iterator[tuple[str, str | None, Any]]:
        command = _collecting()
        problem = self._unsupported_output()
        if problem:
            yield "skewguard", None, CommandError(problem)
            return
        if dry_run:  # collectstatic --dry-run: nothing is written, the build included
            return
        from ...build import BuildError, MissingReferences, build_collected

        try:
            files, roots = _collected_sources(paths, getattr(command, _SOURCE_STATS, None))
        except BuildError as exc:
            yield "skewguard", None, CommandError(str(exc))
            return
        if not files:  # a project without static files: nothing to build, as with Django's
            return
        build_options = self._build_options()
        if command is not None and command.symlink:
            # --link replaced canonical names with symlinks to the sources: check every output
            # instead of trusting the up-to-date stamp, so that they are linked again.
            build_options.force = True
        try:
            report = build_collected(files, roots, self.location, build_options)
        except MissingReferences as exc:
            _report_missing(command, exc.missing, failing=True)
            first = exc.missing[0].split(":", 1)[0]
            message = (
                f"skewguard: {len(exc.missing)} missing reference(s), the first: {exc.missing[0]}"
            )
            yield first, None, CommandError(message)
            return
        except BuildError as exc:
            yield "skewguard", None, CommandError(f"skewguard build failed: {exc}")
            return
        if self.manifest_storage is not self:
            self._copy_manifest()
        self.hashed_files, self.manifest_hash = self.load_manifest()
        if command is not None and command.symlink:
            _note(
                command,
                "skewguard: --link does not apply: outputs are hashed copies, and the "
                "canonical names are links to them, not to the sources",
            )
        if report.missing:
            _report_missing(command, report.missing, failing=False)
        if command is not None and command.verbosity >= 2:
            for warning in report.warnings:
                if warning not in report.missing:
                    _note(command, f"skewguard warning: {warning}")
        for name in paths:
            yield name, self.hashed_files.get(name, name), True

    def _build_options(self) -> Any:
        from ...build import BuildOptions

        sg = _skewguard_settings()
        compress = self.compress if self.compress is not None else sg.COMPRESS
        strict = self.strict if self.strict is not None else sg.STRICT
        base = self.base_url or "/static/"
        static_url = base if base.startswith("/") else "/" + base
        return BuildOptions(
            # STATIC_ROOT is this storage's: a manifest Django's own storage left there (the
            # project is moving to skewguard) is replaced, not refused.
            force=self._root_has_foreign_manifest(),
            compress=compress,
            strict=strict,
            import_hook=self.import_hook,
            static_url=static_url if static_url.endswith("/") else static_url + "/",
            file_mode=self.file_permissions_mode,
            dir_mode=self.directory_permissions_mode,
        )

    def _root_has_foreign_manifest(self) -> bool:
        from ...manifest import Manifest, ManifestError, manifest_path

        path = manifest_path(self.location)
        try:
            with open(path, "rb") as fh:
                raw = fh.read()
        except FileNotFoundError:
            return False
        if b'"release":{' in raw:  # skewguard's compact manifest: no need to parse 10,000 entries
            return False
        try:
            return not Manifest.parse(raw, origin=path).is_skewguard
        except ManifestError:
            return False  # unreadable: the build refuses it with a clear message

    def _unsupported_output(self) -> str | None:
        if not self.location:
            return "skewguard's storage needs STATIC_ROOT: the directory it builds into"
        if type(self)._save is not FileSystemStorage._save or type(self).path is not (
            ManifestStorage.path
        ):
            return (
                f"{type(self).__name__} writes somewhere other than the local STATIC_ROOT; "
                f"skewguard builds into a local directory: see {_CONTAINERS_DOC}"
            )
        return None

    def path(self, name: str) -> str:
        # collectstatic asks for the path of every file three times on a rerun; names without
        # a parent reference or an absolute part need none of safe_join's normalisation.
        if (
            self.location
            and name
            and not name.startswith(("/", "\\"))
            and ".." not in name
            and "\0" not in name
            and "\\" not in name
        ):
            return os.path.join(self.location, name)
        result: str = super().path(name)
        return result

    # -- the manifest --------------------------------------------------------------------------------

    def save_manifest(self) -> None:
        """Write ``hashed_files`` as the manifest, keeping skewguard's fields (sizes, integrity,
        encodings, release) for every file that is still listed."""
        from ...manifest import FileInfo, Manifest, ManifestError, paths_hash

        try:
            current = Manifest.parse(self.read_manifest().encode())
        except (AttributeError, ManifestError):
            current = None
        paths = dict(self.hashed_files)
        files: dict[str, FileInfo] = {}
        if current is not None:
            files = {n: i for n, i in current.files.items() if n in set(paths.values())}
        manifest = Manifest(
            paths, paths_hash(paths), files, current.release if current is not None else None
        )
        if current is not None and current.release is not None and manifest == current:
            self.manifest_hash = current.hash
            return  # nothing changed: the file on disk is already this manifest
        self.manifest_hash = manifest.hash
        if self.manifest_storage is self:
            manifest.save(self.path(self.manifest_name))
        else:
            self._write_to_manifest_storage(manifest.to_json())

    def _copy_manifest(self) -> None:
        with open(self.path(self.manifest_name), "rb") as fh:
            self._write_to_manifest_storage(fh.read())

    def _write_to_manifest_storage(self, data: bytes) -> None:
        storage = self.manifest_storage
        if storage.exists(self.manifest_name):
            storage.delete(self.manifest_name)
        storage._save(self.manifest_name, ContentFile(data))


def _collected_sources(
    paths: dict[str, tuple[Any, str]], stats: dict[str, tuple[str, int, int]] | None = None
) -> tuple[dict[str, Any], list[Any]]:
    """The finders' files as build sources: each read where its source storage keeps it.

    ``stats``: path, size and mtime of sources the copy step already looked at, by prefixed name.
    """
    from ...build import BuildError
    from ...build.sources import SourceFile

    files: dict[str, SourceFile] = {}
    roots: dict[tuple[str, str], Any] = {}
    # Per source storage (usually one per STATICFILES_DIRS entry or app): its location, when
    # the finder's names can simply be joined to it.
    locations: dict[int, str | None] = {}
    stat = os.stat
    known = stats or {}
    for prefixed, (storage, path) in paths.items():
        if id(storage) not in locations:
            locations[id(storage)] = _register_root(storage, roots)
        canonical = prefixed.replace(os.sep, "/")
        seen = known.get(prefixed)
        if seen is not None:
            files[canonical] = SourceFile(canonical, *seen)
            continue
        location = locations[id(storage)]
        try:
            # The finder listed this name inside the storage: no need for safe_join's checks.
            source = os.path.join(location, path) if location else storage.path(path)
        except NotImplementedError:
            raise BuildError(
                f"{prefixed}: its storage {type(storage).__name__} has no local path; skewguard "
                "builds from files on disk"
            ) from None
        try:
            st = stat(source)
        except FileNotFoundError:
            continue  # vanished since the finder listed it
        files[canonical] = SourceFile(canonical, source, st.st_size, st.st_mtime_ns)
    return files, list(roots.values())


def _register_root(storage: Any, roots: dict[tuple[str, str], Any]) -> str | None:
    """Record ``storage``'s directory among the build's roots; its location if names can be
    joined to it directly (a plain FileSystemStorage), else None."""
    from ...build.sources import SourceSpec

    location = getattr(storage, "location", None)
    if location:
        prefix = getattr(storage, "prefix", None) or ""
        key = (str(location), prefix)
        if key not in roots:
            roots[key] = SourceSpec(
                os.path.abspath(str(location)), prefix.strip("/") + "/" if prefix else ""
            )
    if getattr(type(storage), "path", None) is FileSystemStorage.path and location:
        return str(location)
    return None


def _reindexing(method: Any) -> Any:
    """``method`` of list, followed by rebuilding the index of an ``_IndexedList``."""

    def reindexed(self: Any, *args: Any) -> Any:
        result = method(self, *args)
        self._members = set(self)
        return result

    return reindexed


class _IndexedList(list[str]):
    """A list of names with a constant-time ``in``.

    collectstatic checks every file against its lists of copied and unmodified files before
    appending it: quadratic, 0.6 s of CPU for 10,000 files, more than the rest of its copy step.
    """

    def __init__(self, items: Iterable[str] = ()) -> None:
        super().__init__(items)
        self._members = set(self)

    def __contains__(self, item: object) -> bool:
        return item in self._members

    def append(self, item: str) -> None:
        super().append(item)
        self._members.add(item)

    def extend(self, items: Iterable[str]) -> None:
        super().extend(items)
        self._members = set(self)

    def __iadd__(self, items: Iterable[str]) -> Self:  # type: ignore[override,misc]
        self.extend(items)
        return self

    # Mutations collectstatic never makes: correct, not fast.
    insert = _reindexing(list.insert)
    remove = _reindexing(list.remove)
    pop = _reindexing(list.pop)
    clear = _reindexing(list.clear)
    __setitem__ = _reindexing(list.__setitem__)
    __delitem__ = _reindexing(list.__delitem__)


def _index_file_lists(command: Any) -> None:
    """Give the collectstatic command lists of names it can look names up in quickly."""
    for attribute in ("copied_files", "unmodified_files", "symlinked_files"):
        names = getattr(command, attribute, None)
        if type(names) is list:
            setattr(command, attribute, _IndexedList(names))


def _answer_copy_step(command: Any, storage: ManifestStorage) -> None:
    """Make collectstatic's copy step one or two ``stat`` calls per file.

    For every file the command checks whether the target is unmodified, deletes it if not, then
    opens the source and saves it. This storage's ``save`` writes nothing, so all but the check
    is wasted: two ``safe_join`` and an ``open`` per file, a third of a run's CPU. The command's
    ``delete_file`` (the check) is answered here instead, by Django's own rule: a target that is
    no older than its source, to the second, and not a symlink, is unmodified; anything else is
    counted as copied, and the copy is skipped. A subclass of the command that changes the copy
    step, or a source storage without local paths, keeps Django's.
    """
    from django.contrib.staticfiles.management.commands.collectstatic import Command

    cls = type(command)
    if (
        "delete_file" in command.__dict__
        or cls.delete_file is not Command.delete_file
        or cls.copy_file is not Command.copy_file
    ):
        return
    djangos = command.delete_file
    stats: dict[str, tuple[str, int, int]] = {}
    setattr(command, _SOURCE_STATS, stats)

    def delete_file(path: str, prefixed_path: str, source_storage: Any) -> bool:
        if getattr(type(source_storage), "path", None) is not FileSystemStorage.path:
            result: bool = djangos(path, prefixed_path, source_storage)
            return result
        source = os.path.join(source_storage.location, path)
        st: os.stat_result | None
        try:
            st = os.stat(source)
        except OSError:
            st = None
        if st is not None:  # post_process needs the same stat: it builds from these files
            stats[prefixed_path] = (source, st.st_size, st.st_mtime_ns)
        try:
            target = os.lstat(storage.path(prefixed_path))
        except FileNotFoundError:
            target = None
        if target is not None and st is not None and not S_ISLNK(target.st_mode):
            if _to_second(target.st_mtime) >= _to_second(st.st_mtime):
                if prefixed_path not in command.unmodified_files:
                    command.unmodified_files.append(prefixed_path)
                command.log(f"Skipping '{path}' (not modified)")
                return False
        if target is not None:
            command.log(f"Deleting '{path}'")
        command.log(f"Copying '{source}'", level=2)
        command.copied_files.append(prefixed_path)
        return False  # nothing left for copy_file to do

    command.delete_file = delete_file


# Where the copy step leaves the sources' stats for post_process, on the command itself: they
# belong to this one run of collectstatic.
_SOURCE_STATS = "_skewguard_source_stats"


def _to_second(timestamp: float) -> datetime:
    """A modification time as collectstatic compares them: a datetime without its microseconds."""
    return datetime.fromtimestamp(timestamp, UTC).replace(microsecond=0)


def _skewguard_settings() -> Any:
    from ...settings import Settings

    configured = getattr(settings, "SKEWGUARD", {}) or {}
    wanted = {k: v for k, v in configured.items() if k.upper() in ("COMPRESS", "STRICT")}
    return Settings.load(wanted, environ=_build_environ())


def _build_environ() -> dict[str, str]:
    """Only the two variables the build reads: another invalid SKEWGUARD_* must not fail it."""
    return {k: v for k, v in os.environ.items() if k in ("SKEWGUARD_COMPRESS", "SKEWGUARD_STRICT")}


def _report_missing(command: Any, missing: list[str], failing: bool) -> None:
    lines = [f"skewguard: {len(missing)} missing reference(s)" + ("" if failing else " (warning)")]
    lines += [f"  {line}" for line in missing[:MISSING_SHOWN]]
    if len(missing) > MISSING_SHOWN:
        lines.append(f"  ... and {len(missing) - MISSING_SHOWN} more")
    if not failing:
        lines.append("  (SKEWGUARD = {'STRICT': True} makes them fail collectstatic)")
    _note(command, "\n".join(lines))


def _note(command: Any, text: str) -> None:
    if command is None:
        print(text, file=sys.stderr)
    elif command.verbosity >= 1:
        command.stderr.write(text)


def _collecting() -> Any:
    """The collectstatic command this call comes from, if any.

    Django's storage API has no hook for "collectstatic is copying": the command calls
    ``save()``/``delete()`` from its own methods. A look at the calling frames tells the copy
    step apart from any other use of the storage; if Django ever renames the command class,
    this finds nothing and the storage simply copies as Django's own does.
    """
    from django.contrib.staticfiles.management.commands.collectstatic import (
        Command,
    )

    frame: FrameType | None = sys._getframe(2)
    for _ in range(6):
        if frame is None:
            return None
        candidate = frame.f_locals.get("self")
        if isinstance(candidate, Command):
            return candidate
        frame = frame.f_back
    return None


def _clearing() -> bool:
    """Whether this call comes from collectstatic's ``--clear`` (which empties STATIC_ROOT)."""
    frame: FrameType | None = sys._getframe(2)
    for _ in range(6):
        if frame is None:
            return False
        if frame.f_code.co_name == "clear_dir":
            return True
        frame = frame.f_back
    return False

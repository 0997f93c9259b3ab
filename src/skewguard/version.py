"""Which release is running: version resolution and the immutable snapshot requests read.

Order: explicit APP_VERSION > manifest hash (skewguard's staticfiles.json, or a Vite
manifest hashed canonically) > registered component files > "unknown"; a manifest and components
together derive one version from both. With a Vite hot file present the app is in dev mode: the
version comes from the dev server URL and no 409 is ever sent.

A snapshot is built once (start-up, bust) and swapped atomically; a request reads one attribute
and keeps its snapshot for the whole response, so a concurrent bust never shows it a mix.
"""

from __future__ import annotations

import glob
import hashlib
import json
import logging
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .errors import SkewguardError
from .manifest import Manifest, ManifestError
from .settings import Settings

logger = logging.getLogger("skewguard")
UNKNOWN = "unknown"


@dataclass(frozen=True)
class Component:
    """Files (paths or glob patterns, relative to ``base``) whose bytes shape the app version."""

    name: str
    patterns: tuple[str, ...]
    base: str


@dataclass(frozen=True)
class ComponentDigest:
    name: str
    digest: str
    files: int
    missing: tuple[str, ...]


@dataclass(frozen=True)
class VersionSnapshot:
    version: str
    source: str  # "explicit", "manifest", "vite-manifest", "components", "manifest+components", "dev", "unknown"
    dev: bool = False
    manifest: Manifest | None = None
    components: tuple[ComponentDigest, ...] = ()
    release: Mapping[str, str] | None = None
    problems: tuple[str, ...] = ()  # what a lenient start-up or a failed bust noticed
    registry: Any = None  # releases.RegistryState when a release registry is configured
    # Releases whose files this server holds (the build directory's release history): a version
    # the registry never saw is still servable here, not unknown.
    held: frozenset[str] = frozenset()
    # Answers worked out from this snapshot alone (``/version``'s), kept with it: a new snapshot
    # (a bust, a registry change, ``dataclasses.replace``) starts with none.
    derived: dict[str, Any] = field(default_factory=dict, init=False, compare=False, repr=False)

    @property
    def header_value(self) -> bytes:
        return self.version.encode("ascii")

    def as_json(self) -> dict[str, object]:
        return {
            "version": self.version,
            "source": self.source,
            "components": {c.name: c.files for c in self.components},
            "release": dict(self.release) if self.release else None,
            "dev": self.dev,
            "active": self.registry.active.version
            if self.registry is not None and self.registry.active
            else None,
        }


class VersionError(SkewguardError):
    """The version cannot be resolved as configured (missing or corrupt manifest)."""


def resolve(settings: Settings, components: Sequence[Component] = ()) -> VersionSnapshot:
    """Build a snapshot from the settings and the files on disk; raises VersionError."""
    digests = tuple(digest_component(c) for c in components)
    for digest in digests:
        for path in digest.missing:
            logger.warning("skewguard: component %r: %s matches no file", digest.name, path)

    hot_url = _read_hot_file(settings.VITE_HOT_FILE)
    if hot_url is not None:
        version = "dev-" + hashlib.sha256(hot_url.encode()).hexdigest()[:12]
        return VersionSnapshot(version, "dev", dev=True, components=digests)

    manifest, manifest_version, manifest_source, problems = _manifest_version(settings)
    release = None
    if manifest is not None and manifest.release is not None:
        release = {"id": manifest.release.id, "built_at": manifest.release.built_at}

    if settings.APP_VERSION:
        version, source = settings.APP_VERSION, "explicit"
    elif manifest_version and digests:
        version, source = _combine(manifest_version, digests), f"{manifest_source}+components"
    elif manifest_version:
        version, source = manifest_version, manifest_source
    elif digests:
        version, source = _combine("", digests), "components"
    else:
        version, source = UNKNOWN, "unknown"
    return VersionSnapshot(
        version,
        source,
        dev=settings.DEBUG,
        manifest=manifest,
        components=digests,
        release=release,
        problems=problems,
        held=_held_releases(settings.STATIC_ROOT),
    )


def _held_releases(static_root: str) -> frozenset[str]:
    """The releases the build directory's history lists (an unreadable history: none)."""
    if not static_root:
        return frozenset()
    from .build.errors import BuildError
    from .build.history import load_history

    try:
        return frozenset(r.hash for r in load_history(static_root) if isinstance(r.hash, str))
    except (BuildError, TypeError):
        return frozenset()


def _manifest_version(settings: Settings) -> tuple[Manifest | None, str, str, tuple[str, ...]]:
    path = settings.manifest_file
    if not path:
        return None, "", "", ()
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
    except OSError as exc:
        message = f"manifest {path} cannot be read ({exc.strerror})"
        return _manifest_problem(settings, message)
    try:
        manifest = Manifest.parse(raw, origin=path)
        return manifest, manifest.hash, "manifest", ()
    except ManifestError as exc:
        vite_version = vite_manifest_version(raw)
        if vite_version is not None:
            return None, vite_version, "vite-manifest", ()
        return _manifest_problem(settings, str(exc))


def _manifest_problem(
    settings: Settings, message: str
) -> tuple[Manifest | None, str, str, tuple[str, ...]]:
    if settings.MANIFEST_REQUIRED and not settings.DEBUG and not settings.APP_VERSION:
        raise VersionError(f"{message}; run 'skewguard build' or set MANIFEST_REQUIRED=False")
    logger.warning("skewguard: %s", message)
    return None, "", "", (message,)


def vite_manifest_version(raw: bytes) -> str | None:
    """A Vite manifest hashed canonically (parsed, keys sorted, compact): the same build gives the
    same version whatever the file's whitespace or key order. None when ``raw`` is not one."""
    from .vite import parse_vite_manifest

    document = parse_vite_manifest(raw)
    if document is None:
        return None
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()[:12]


def digest_component(component: Component) -> ComponentDigest:
    files: set[str] = set()
    missing: list[str] = []
    for pattern in component.patterns:
        full = os.path.join(component.base, pattern)
        if glob.has_magic(pattern):
            matches = [p for p in glob.glob(full, recursive=True) if os.path.isfile(p)]
        else:
            matches = [full] if os.path.isfile(full) else []
        if not matches:
            missing.append(pattern)
        files.update(matches)
    digest = hashlib.sha256()
    for path in sorted(files):
        relative = os.path.relpath(path, component.base).replace(os.sep, "/")
        digest.update(relative.encode("utf-8", "surrogateescape") + b"\0")
        try:
            with open(path, "rb") as fh:
                digest.update(hashlib.sha256(fh.read()).digest())
        except OSError:
            missing.append(relative)
    return ComponentDigest(component.name, digest.hexdigest(), len(files), tuple(missing))


def _combine(manifest_version: str, digests: Iterable[ComponentDigest]) -> str:
    combined = hashlib.sha256(manifest_version.encode())
    for digest in sorted(digests, key=lambda d: d.name):
        combined.update(b"\0" + digest.name.encode() + b"\0" + digest.digest.encode())
    return combined.hexdigest()[:12]


def _read_hot_file(path: str) -> str | None:
    if not path:
        return None
    try:
        with open(path, encoding="utf-8") as fh:
            url = fh.read().strip()
    except (OSError, UnicodeDecodeError):
        return None
    return url or None

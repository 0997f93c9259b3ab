"""What else in a Django process renders asset URLs, switched to a new release on a bust.

Django's staticfiles storage (``{% static %}``, ``storage.url()``) reads its manifest once per
process, and django-vite reads each app's Vite manifest once. A bust re-reads both before
skewguard advertises the new version; a loader that cannot be re-read in process makes the bust
answer "restart needed" instead, so a page never carries the new version over old asset URLs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ...guard import RestartNeeded
from ...version import VersionSnapshot


def switch_renderers(snapshot: VersionSnapshot) -> Callable[[], None] | None:
    """A reload listener: read every manifest now, switch them all only if every read worked."""
    switches = [_staticfiles_storage(), *_django_vite_apps()]

    def switch() -> None:
        for apply in switches:
            apply()

    return switch


def _staticfiles_storage() -> Callable[[], None]:
    from django.contrib.staticfiles.storage import ManifestFilesMixin, staticfiles_storage

    storage: Any = staticfiles_storage
    if not isinstance(storage, ManifestFilesMixin):
        return lambda: None  # no manifest: URLs do not depend on the release
    try:
        loaded = storage.load_manifest()
    except Exception as exc:  # noqa: BLE001 - whatever the storage raises, the old manifest stays
        raise RestartNeeded(f"the staticfiles manifest cannot be re-read: {exc}") from exc
    # Django 4.2+ returns (paths, hash); older versions the paths alone.
    paths, manifest_hash = loaded if isinstance(loaded, tuple) else (loaded, None)

    def apply() -> None:
        storage.hashed_files = paths
        if manifest_hash is not None:
            storage.manifest_hash = manifest_hash

    return apply


def _django_vite_apps() -> list[Callable[[], None]]:
    from django.apps import apps

    if not apps.is_installed("django_vite"):
        return []
    try:
        from django_vite.core.asset_loader import DjangoViteAssetLoader

        clients = list(DjangoViteAssetLoader.instance()._apps.values())
    except (ImportError, AttributeError) as exc:
        raise RestartNeeded(
            f"this django-vite cannot reload its manifest in process ({exc})"
        ) from exc
    switches: list[Callable[[], None]] = []
    for client in clients:
        manifest = getattr(client, "manifest", None)
        if manifest is None or getattr(manifest, "dev_mode", False):
            continue
        parse = getattr(manifest, "_parse_manifest", None)
        if parse is None:
            raise RestartNeeded("this django-vite cannot reload its manifest in process")
        try:
            entries, polyfills = parse()
        except Exception as exc:  # noqa: BLE001 - django-vite's own error: the old entries stay
            raise RestartNeeded(f"django-vite: {exc}") from exc

        def apply(
            manifest: Any = manifest, entries: Any = entries, polyfills: Any = polyfills
        ) -> None:
            manifest._entries, manifest.legacy_polyfills_entry = entries, polyfills

        switches.append(apply)
    return switches

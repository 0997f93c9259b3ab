"""skewguard: asset versioning, cache busting and version-skew protection for Python web apps."""

from __future__ import annotations

from typing import TYPE_CHECKING

__version__ = "0.1.0"
__all__ = ["Settings", "SettingsError", "Skewguard", "VersionError", "__version__"]

if TYPE_CHECKING:
    from .guard import Skewguard
    from .settings import Settings, SettingsError
    from .version import VersionError


def __getattr__(name: str) -> object:
    # Imported on first use: ``import skewguard`` stays cheap for the CLI and the build.
    if name == "Skewguard":
        from .guard import Skewguard

        return Skewguard
    if name in ("Settings", "SettingsError"):
        from . import settings

        return getattr(settings, name)
    if name == "VersionError":
        from .version import VersionError

        return VersionError
    raise AttributeError(name)

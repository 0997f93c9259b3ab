"""The release registry: which releases exist across the fleet, which one is active, which are
retired. Backends: a file beside the manifest (one server, several workers) and Redis (a fleet).
"""

from .model import RegistryState, Release, classify
from .registry import FileRegistry, RegistryError, ReleaseRegistry, open_registry

__all__ = [
    "FileRegistry",
    "RegistryError",
    "RegistryState",
    "Release",
    "ReleaseRegistry",
    "classify",
    "open_registry",
]

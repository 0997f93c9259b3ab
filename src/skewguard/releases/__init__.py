"""The release registry: which releases exist across the fleet, which one is active, which are
retired. Backends: a file beside the manifest (one server, several workers) and Redis (a fleet).
"""

from .base import RegistryError, RegistryUnreachable, ReleaseRegistry
from .model import RegistryState, Release, classify
from .propagation import Propagation, propagate_bust
from .registry import FileRegistry, open_registry

__all__ = [
    "FileRegistry",
    "Propagation",
    "RegistryError",
    "RegistryState",
    "RegistryUnreachable",
    "Release",
    "ReleaseRegistry",
    "classify",
    "open_registry",
    "propagate_bust",
]

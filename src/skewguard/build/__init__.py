"""``skewguard build``: content-hashed static files, rewritten references, manifest, precompression."""

from .builder import BuildOptions, BuildReport, MissingReferences, build
from .errors import BuildError
from .history import PrunePlan, apply_prune, parse_duration, plan_prune

__all__ = [
    "BuildError",
    "BuildOptions",
    "BuildReport",
    "MissingReferences",
    "PrunePlan",
    "apply_prune",
    "build",
    "parse_duration",
    "plan_prune",
]

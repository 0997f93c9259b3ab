"""The base of every error skewguard raises on purpose: ``except SkewguardError`` catches them all.

Each one carries a single line a user can act on; anything else escaping skewguard is a bug.
"""

from __future__ import annotations


class SkewguardError(Exception):
    """An error skewguard reports to its user (configuration, build, manifest, registry...)."""

"""The one exception a build raises for problems the user can fix."""

from ..errors import SkewguardError


class BuildError(SkewguardError):
    """A build that cannot proceed; the message is one line naming what to fix."""

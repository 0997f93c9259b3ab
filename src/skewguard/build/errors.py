"""The one exception a build raises for problems the user can fix."""


class BuildError(Exception):
    """A build that cannot proceed; the message is one line naming what to fix."""

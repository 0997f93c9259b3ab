"""inertia-django with skewguard as the one source of truth for the version.

In settings.py::

    from skewguard.contrib.django.inertia import INERTIA_VERSION  # noqa: F401

The page object's ``version`` is then skewguard's (the ``X-App-Version`` of the same response),
and with skewguard's middleware before inertia-django's, skewguard's 409 rule (holds, rolling
deploys, policies) is the one applied: a request it lets through reaches inertia-django with the
current version, so inertia-django never sends a 409 of its own.
"""

from __future__ import annotations

from django.utils.functional import lazy


def _current_version() -> str:
    from .conf import get_guard

    return get_guard().version


INERTIA_VERSION = lazy(_current_version, str)()

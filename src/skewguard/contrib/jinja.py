"""Jinja2 template globals: ``static``, ``static_url``, ``app_version`` and ``vite_version``.

from skewguard.contrib.jinja import install
install(templates.env, sg)      # Starlette's Jinja2Templates, Flask's app.jinja_env, ...

<link rel="stylesheet" href="{{ static('css/app.css') }}">
<meta name="app-version" content="{{ app_version() }}">   <!-- or {{ vite_version }} -->
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..guard import Skewguard


class CurrentVersion:
    """Renders as the version at render time (``{{ vite_version }}``, as in litestar-vite)."""

    def __init__(self, guard: Skewguard):
        self._guard = guard

    def __str__(self) -> str:
        return self._guard.version

    def __html__(self) -> str:  # safe as is: versions are [A-Za-z0-9._+-]
        return self._guard.version

    def __eq__(self, other: object) -> bool:
        return str(self) == other

    __hash__ = None  # type: ignore[assignment]


def template_globals(guard: Skewguard) -> dict[str, Any]:
    return {
        "static": guard.static,
        "static_url": guard.static_url,
        "app_version": guard.app_version,
        "vite_version": CurrentVersion(guard),
    }


def install(environment: Any, guard: Skewguard) -> None:
    """Add the helpers to a ``jinja2.Environment``'s globals."""
    environment.globals.update(template_globals(guard))

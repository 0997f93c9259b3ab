"""The Skewguard object of a Django project, built once from django.conf.settings."""

from __future__ import annotations

import threading
from typing import Any

from ... import Skewguard

# Settings read from settings.py under their own names (the rest: the SKEWGUARD dict).
PLAIN_NAMES = (
    "APP_VERSION",
    "APP_VERSION_HEADER",
    "APP_VERSION_MISMATCH",
    "VERSION_ENDPOINT",
    "STATIC_DEV_VERSION_QUERY",
)
_guard: Skewguard | None = None
_lock = threading.Lock()


def settings_from_django() -> dict[str, Any]:
    from django.conf import settings

    values: dict[str, Any] = {
        name: getattr(settings, name) for name in PLAIN_NAMES if hasattr(settings, name)
    }
    static_url = getattr(settings, "STATIC_URL", None) or "/static/"
    if not static_url.startswith(("/", "https://", "http://")):  # a CDN URL stays absolute
        static_url = "/" + static_url
    values.update(
        SECRET_KEY=getattr(settings, "SECRET_KEY", "") or "",
        STATIC_URL=static_url if static_url.endswith("/") else static_url + "/",
        STATIC_ROOT=str(getattr(settings, "STATIC_ROOT", "") or ""),
        STATIC_DIRS=tuple(
            str(d[1] if isinstance(d, (tuple, list)) else d)
            for d in getattr(settings, "STATICFILES_DIRS", ())
        ),
        DEBUG=bool(getattr(settings, "DEBUG", False)),
        # In DEBUG, runserver's staticfiles handler serves app static files (the admin's):
        # leave STATIC_URL to it unless told otherwise.
        SERVE_STATIC=not getattr(settings, "DEBUG", False),
    )
    values.update(getattr(settings, "SKEWGUARD", {}) or {})
    return values


def get_guard() -> Skewguard:
    global _guard
    if _guard is None:
        with _lock:
            if _guard is None:
                guard = Skewguard(**settings_from_django())
                from .renderers import switch_renderers

                guard.add_reload_listener(switch_renderers)  # {% static %} follows each bust
                _guard = guard
    return _guard


def reset() -> None:
    """Forget the guard (tests that change settings)."""
    global _guard
    _guard = None

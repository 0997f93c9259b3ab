"""System checks (``manage.py check``) for the common ways to misconfigure skewguard."""

from __future__ import annotations

import os
from typing import Any

from django.conf import settings
from django.core.checks import Error, Warning, register

MIDDLEWARE = "skewguard.contrib.django.middleware.SkewguardMiddleware"


@register()
def skewguard_checks(app_configs: Any, **kwargs: Any) -> list[Any]:
    problems = []
    root = getattr(settings, "STATIC_ROOT", None)
    if not settings.DEBUG and not getattr(settings, "APP_VERSION", ""):
        manifest = os.path.join(str(root), "staticfiles.json") if root else None
        if manifest is None or not os.path.exists(manifest):
            problems.append(
                Error(
                    "no staticfiles.json in STATIC_ROOT while DEBUG is off",
                    hint="run 'manage.py collectstatic' (STORAGES staticfiles: skewguard.contrib.django.storage.ManifestStorage) "
                    "or 'skewguard build ... --out STATIC_ROOT'",
                    id="skewguard.E001",
                )
            )
    policy = getattr(settings, "APP_VERSION_MISMATCH", "reload")
    if policy != "ignore" and MIDDLEWARE not in getattr(settings, "MIDDLEWARE", ()):
        problems.append(
            Warning(
                f"APP_VERSION_MISMATCH is {policy!r} but the middleware is not installed: no page gets the client",
                hint=f"add {MIDDLEWARE!r} to MIDDLEWARE (or set APP_VERSION_MISMATCH = 'ignore')",
                id="skewguard.W001",
            )
        )
    if getattr(settings, "VERSION_ENDPOINT", True) and not getattr(settings, "SECRET_KEY", ""):
        problems.append(
            Error(
                "VERSION_ENDPOINT is on but SECRET_KEY is empty: /cache/bust refuses every request",
                hint="set SECRET_KEY",
                id="skewguard.E002",
            )
        )
    return problems

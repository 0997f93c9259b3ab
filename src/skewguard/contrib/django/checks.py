"""System checks (``manage.py check``) for the common ways to misconfigure skewguard.

A missing manifest is a deploy check (``check --deploy``): ``migrate``, ``test`` and the other
commands usually run before ``collectstatic`` in CI and container entrypoints, and must not be
blocked by it. A server started without one still fails at start-up with one clear line.
"""

from __future__ import annotations

import os
from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning, register

MIDDLEWARE = "skewguard.contrib.django.middleware.SkewguardMiddleware"


@register(deploy=True)
def manifest_check(app_configs: Any, **kwargs: Any) -> list[CheckMessage]:
    root = getattr(settings, "STATIC_ROOT", None)
    if settings.DEBUG or getattr(settings, "APP_VERSION", ""):
        return []
    manifest = os.path.join(str(root), "staticfiles.json") if root else None
    if manifest is not None and os.path.exists(manifest):
        return []
    return [
        Error(
            "no staticfiles.json in STATIC_ROOT while DEBUG is off",
            hint="run 'manage.py collectstatic' (STORAGES staticfiles: "
            "skewguard.contrib.django.storage.ManifestStorage) "
            "or 'skewguard build ... --out STATIC_ROOT'",
            id="skewguard.E001",
        )
    ]


@register()
def skewguard_checks(app_configs: Any, **kwargs: Any) -> list[CheckMessage]:
    problems: list[CheckMessage] = []
    policy = getattr(settings, "APP_VERSION_MISMATCH", "reload")
    if policy != "ignore" and MIDDLEWARE not in getattr(settings, "MIDDLEWARE", ()):
        problems.append(
            Warning(
                f"APP_VERSION_MISMATCH is {policy!r} but the middleware is not installed: "
                "no page gets the client",
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

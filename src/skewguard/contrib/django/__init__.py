"""Django integration: add ``"skewguard.contrib.django"`` to INSTALLED_APPS.

- middleware ``skewguard.contrib.django.middleware.SkewguardMiddleware`` (WSGI and ASGI Django);
- ``{% load skewguard %}``: ``static``, ``static_url``, ``app_version``, ``skewguard_head``;
- ``include("skewguard.contrib.django.urls")``: ``version`` and ``cache/bust`` views;
- ``STORAGES["staticfiles"]["BACKEND"] = "skewguard.contrib.django.storage.ManifestStorage"``:
  ``collectstatic`` builds with skewguard, a drop-in for ManifestStaticFilesStorage;
- system checks for common misconfiguration.

Settings: the plain names in settings.py (``APP_VERSION``, ``APP_VERSION_HEADER``,
``APP_VERSION_MISMATCH``, ``VERSION_ENDPOINT``, ``STATIC_DEV_VERSION_QUERY``), Django's own
``SECRET_KEY``, ``STATIC_URL``, ``STATIC_ROOT``, ``STATICFILES_DIRS`` and ``DEBUG``, and any other
skewguard setting as ``SKEWGUARD = {"CLIENT_POLL_INTERVAL": 30, ...}``.
"""

"""Django settings for WhiteNoise's Django tests run against skewguard: WhiteNoise's own layout
(the site under the script prefix /subdir, STATIC_URL carrying it), skewguard's storage and
middleware in place of WhiteNoise's."""

from __future__ import annotations

import tempfile

ALLOWED_HOSTS = ["*"]
ROOT_URLCONF = "tests.contrib.whitenoise_django.urls"
SECRET_KEY = "whitenoise-port"
INSTALLED_APPS = ["django.contrib.staticfiles", "skewguard.contrib.django"]
FORCE_SCRIPT_NAME = "/subdir"
STATIC_URL = FORCE_SCRIPT_NAME + "/static/"
STATIC_ROOT = tempfile.mkdtemp(prefix="whitenoise-port-root-")
STORAGES = {"staticfiles": {"BACKEND": "skewguard.contrib.django.storage.ManifestStorage"}}
MIDDLEWARE = ["skewguard.contrib.django.middleware.SkewguardMiddleware"]
SKEWGUARD = {"VITE_HOT_FILE": ""}
USE_TZ = True

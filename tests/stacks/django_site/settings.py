"""Django + django-vite + inertia-django, as the Django recipe sets them up (paths from the
environment: the stack tests' work directory)."""

import os

from skewguard.contrib.django.inertia import INERTIA_VERSION  # noqa: F401 - skewguard's version

SECRET_KEY = "s3cret"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1"]
ROOT_URLCONF = "tests.stacks.django_site.urls"
INSTALLED_APPS = [
    "django.contrib.sessions",
    "django.contrib.staticfiles",
    "django_vite",
    "inertia",
    "skewguard.contrib.django",
]
MIDDLEWARE = [
    "skewguard.contrib.django.middleware.SkewguardMiddleware",  # before inertia-django's
    "django.contrib.sessions.middleware.SessionMiddleware",  # inertia-django keeps flash data
    "inertia.middleware.InertiaMiddleware",
]
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [os.path.join(os.path.dirname(__file__), "templates")],
        "APP_DIRS": True,
    }
]
DATABASES = {}
SESSION_ENGINE = "django.contrib.sessions.backends.signed_cookies"
STATIC_URL = "/static/"
STATIC_ROOT = os.environ["STACK_STATIC_ROOT"]
STORAGES = {"staticfiles": {"BACKEND": "skewguard.contrib.django.storage.ManifestStorage"}}
DJANGO_VITE = {"default": {"dev_mode": False, "manifest_path": os.environ["STACK_VITE_MANIFEST"]}}
INERTIA_LAYOUT = "layout.html"

"""A Django project with the admin, for the integration tests (paths from the environment)."""

import os

SECRET_KEY = "django-test-secret"
DEBUG = os.environ.get("TEST_DEBUG") == "1"
ALLOWED_HOSTS = ["*"]
ROOT_URLCONF = "tests.contrib.django_project.urls"
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "skewguard.contrib.django",
]
MIDDLEWARE = [
    "skewguard.contrib.django.middleware.SkewguardMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [os.path.join(os.path.dirname(__file__), "templates")],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
STATIC_URL = "/static/"
STATIC_ROOT = os.environ["TEST_STATIC_ROOT"]
STATICFILES_DIRS = [os.path.join(os.path.dirname(__file__), "static")]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "skewguard.contrib.django.storage.ManifestStorage"},
}
APP_VERSION_MISMATCH = "reload"
SKEWGUARD = {"VITE_HOT_FILE": ""}
USE_TZ = True

"""The test project with inertia-django, skewguard's middleware first, skewguard's version."""

from skewguard.contrib.django.inertia import INERTIA_VERSION  # noqa: F401 - the one source of truth

from .settings import *  # noqa: F401,F403
from .settings import INSTALLED_APPS, MIDDLEWARE

INSTALLED_APPS = [*INSTALLED_APPS, "inertia"]
MIDDLEWARE = [*MIDDLEWARE, "inertia.middleware.InertiaMiddleware"]
INERTIA_LAYOUT = "inertia_layout.html"
ROOT_URLCONF = "tests.contrib.django_project.inertia_urls"

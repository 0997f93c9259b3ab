"""The test project with django-vite, static sources from the environment (a deploy rewrites
them) and the page of tests/contrib/django_project/deploy_templates."""

import os

from .settings import *  # noqa: F403

INSTALLED_APPS = [*INSTALLED_APPS, "django_vite"]  # noqa: F405
ROOT_URLCONF = "tests.contrib.django_project.deploy_urls"
TEMPLATES[0]["DIRS"] = [os.path.join(os.path.dirname(__file__), "deploy_templates")]  # noqa: F405
STATICFILES_DIRS = [os.environ["TEST_STATIC_SRC"]]
DJANGO_VITE = {"default": {"dev_mode": False, "manifest_path": os.environ["TEST_VITE_MANIFEST"]}}

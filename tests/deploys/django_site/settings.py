"""The integration tests' Django project, with its static sources in a directory the test
rewrites between deploys (TEST_STATIC_SRC). No skewguard setting beyond what Django has."""

import os

from tests.contrib.django_project.settings import *  # noqa: F403

STATICFILES_DIRS = [os.environ["TEST_STATIC_SRC"]]

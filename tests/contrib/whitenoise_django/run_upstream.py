"""WhiteNoise's ``tests/test_django_whitenoise.py`` (from its sdist, see ``whitenoise_port``) with
skewguard's storage and middleware (``settings``). Run by ``test_whitenoise_http.py`` in its own
process, since Django's settings are per process; not collected by the main suite.

Replaced for skewguard: ``get_wsgi_application`` forgets the guard first (each test collects
into a new STATIC_ROOT), and the ``root_files`` fixture sets skewguard's ROOT_FILES_DIR where
WhiteNoise's sets WHITENOISE_ROOT.

Not ported, with the reason:
- test_versioned_file_cached_forever, test_unversioned_file_not_cached_forever: WhiteNoise's
  Cache-Control values (max-age=315360000 / 60, public); skewguard sends
  ``public, max-age=31536000, immutable`` for hashed names and ``no-cache`` for others.
- test_file_served_from_static_dir, test_non_ascii_requests_safely_ignored,
  test_requests_for_directory_safely_ignored, test_index_file_served_at_directory_path,
  test_index_file_path_redirected, test_directory_path_without_trailing_slash_redirected:
  WHITENOISE_USE_FINDERS / WHITENOISE_INDEX_FILE / autorefresh: skewguard serves the collected
  build (dev mode serves source directories under DEBUG) and has no directory indexes.
- test_whitenoise_file_response_has_only_one_header: a unit test of WhiteNoise's own response
  class (skewguard's lack of Content-Disposition is checked by test_no_content_disposition_header).
"""

from __future__ import annotations

from typing import Any

import django
import pytest

django.setup()

from django.core.wsgi import get_wsgi_application  # noqa: E402
from django.test.utils import override_settings  # noqa: E402

from skewguard.contrib.django import conf  # noqa: E402

from ..whitenoise_port import Files, load_module  # noqa: E402

NOT_PORTED = {
    "test_versioned_file_cached_forever",
    "test_unversioned_file_not_cached_forever",
    "test_file_served_from_static_dir",
    "test_non_ascii_requests_safely_ignored",
    "test_requests_for_directory_safely_ignored",
    "test_index_file_served_at_directory_path",
    "test_index_file_path_redirected",
    "test_directory_path_without_trailing_slash_redirected",
    "test_whitenoise_file_response_has_only_one_header",
}


def fresh_wsgi_application() -> Any:
    conf.reset()
    return get_wsgi_application()


upstream = load_module("test_django_whitenoise", {"get_wsgi_application": fresh_wsgi_application})
static_files = upstream.static_files
tmp = upstream.tmp
_collect_static = upstream._collect_static
application = upstream.application
server = upstream.server


@pytest.fixture()
def root_files() -> Any:
    files = Files("root", robots="robots.txt")
    with override_settings(SKEWGUARD={"VITE_HOT_FILE": "", "ROOT_FILES_DIR": files.directory}):
        yield files


for _name in dir(upstream):
    if _name.startswith("test_") and _name not in NOT_PORTED:
        globals()[_name] = getattr(upstream, _name)

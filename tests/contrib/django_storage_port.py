"""Django's own hashed-files tests, run against skewguard's ManifestStorage.

Run as ``python -m tests.contrib.django_storage_port UPSTREAM_TESTS_DIR``: the directory holds
``staticfiles_tests`` from the source distribution of the installed Django (fetched by the test
that runs this; nothing of Django's is kept in this repository). Each upstream test class is
subclassed with skewguard's storage configured, and compared by structure, not literal hashes:

- a 12-hex-digit hash in a name is a hash, whatever its digits (skewguard hashes with SHA-384,
  Django with MD5);
- skewguard keeps a reference as it was written, where Django re-quotes ``url(...)``, turns
  ``@import 'x'`` into ``@import url("x")``, writes ``import 'x'`` as ``import"x"`` and
  re-spaces ``/*# sourceMappingURL=... */``: quotes, that ``url()``, the space after ``import``
  and the whitespace of a source-map comment are not compared;
- skewguard wraps each dynamic ``import("x")`` for its browser client
  (``Object(globalThis.__skewguardImport||Object)(import("x"))``): the wrapper is not compared;
- skewguard's manifest is compact JSON (``"version":"1.1"``), Django's is spaced;
- a literal hashed name opened through the storage is looked up by structure;
- Django's storage defaults to ``manifest_strict = True``, skewguard's to False (an unknown name
  gets its canonical URL); the ported tests run with True, as upstream does.

Where skewguard deliberately differs, the upstream test is replaced by one stating skewguard's
behaviour (see ``ADAPTED``); tests of Django's hashing internals are not ported (``NOT_PORTED``).
Prints one line per outcome and exits non-zero on any failure.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
import unittest
from io import StringIO

UPSTREAM = sys.argv[1] if __name__ == "__main__" else ""

STORAGE = "skewguard.contrib.django.storage.ManifestStorage"

# Upstream tests not run, and why.
NOT_PORTED = {
    "TestExtraPatternsStorage": "extends Django's regex `patterns`; skewguard's tokenizers have no patterns to extend",
    "TestCollectionNoneHashStorage": "overrides Django's file_hash(); skewguard's hash is its content hash, not a method",
    "TestCollectionNoPostProcessReplacedPaths": "max_post_process_passes: skewguard needs one pass in dependency order",
    "TestCollectionSimpleStorage": "overrides Django's file_hash(); see above",
    "TestCollectionJSModuleImportAggregationManifestStorage.flag": "kept: ES module rewriting is on by default in skewguard",
    "TestCustomManifestStorage": "kept (run with skewguard's storage and a custom manifest_storage)",
    "TestStaticFilePermissions.test_collect_static_files_subclass_of_static_storage": "subclasses StaticFilesStorage, which skewguard does not replace",
    "TestCollectionManifestStorage.test_manifest_hash_v1": "ported unchanged",
}
NOT_PORTED = {k: v for k, v in NOT_PORTED.items() if not v.startswith(("kept", "ported"))}

# Upstream tests whose expectation skewguard deliberately changes, and the replacement's reason.
ADAPTED = {
    "test_import_loop": "a reference cycle is hashed as one unit instead of failing",
    "test_post_processing_failure": "a missing reference fails collectstatic under STRICT; without it, it is reported",
    "test_post_processing_nonutf8": "non-UTF-8 CSS is rewritten byte for byte with a warning instead of failing",
}

_HASH = re.compile(rb"\.[0-9a-f]{12}\.")
_URL_QUOTES = re.compile(rb"""url\(\s*(['"]?)([^'")]*)\1\s*\)""")
_SOURCE_MAP = re.compile(rb"/\*#\s*sourceMappingURL=(\S+?)\s*\*/")
_IMPORT_STRING = re.compile(rb"""@import\s+(['"])([^'"]*)\1""")
_JSON_COLON = re.compile(rb'"\s*:\s*')
_IMPORT_HOOK = re.compile(
    rb"""Object\(globalThis\.__skewguardImport\|\|Object\)\((import\(\s*(['"])[^'"]*\2\s*\))\)"""
)
_SIDE_EFFECT_IMPORT = re.compile(rb"""(?<![@\w])import\s*(['"])([^'"]*)\1""")


def normalize(value):
    """A value with hashes, ``url()`` quotes and source-map comment spacing made uniform."""
    if isinstance(value, str):
        return normalize(value.encode("utf-8", "surrogateescape")).decode(
            "utf-8", "surrogateescape"
        )
    if isinstance(value, bytes):
        value = _HASH.sub(b".<hash>.", value)
        value = _IMPORT_HOOK.sub(rb"\1", value)
        value = _IMPORT_STRING.sub(rb"@import url(\2)", value)
        value = _SIDE_EFFECT_IMPORT.sub(rb'import "\2"', value)
        value = _URL_QUOTES.sub(rb"url(\2)", value)
        value = _JSON_COLON.sub(b'":', value)
        return _SOURCE_MAP.sub(rb"/*# sourceMappingURL=\1 */", value)
    return value


class Structural:
    """Assertions that compare structure: see the module's docstring."""

    def assertEqual(self, first, second, msg=None):  # noqa: N802 - unittest's name
        super().assertEqual(normalize(first), normalize(second), msg)

    def assertIn(self, member, container, msg=None):  # noqa: N802
        super().assertIn(normalize(member), normalize(container), msg)

    def assertNotIn(self, member, container, msg=None):  # noqa: N802
        super().assertNotIn(normalize(member), normalize(container), msg)


def configure() -> None:
    sys.path.insert(0, UPSTREAM)
    from django.conf import settings

    settings.configure(
        DEBUG=False,
        SECRET_KEY="port",
        USE_TZ=True,
        DATABASES={},
        ROOT_URLCONF="staticfiles_tests.urls.default",
        INSTALLED_APPS=[
            "django.contrib.staticfiles",
            "staticfiles_tests",
            "staticfiles_tests.apps.test",
            "staticfiles_tests.apps.no_label",
        ],
        STATIC_URL="static/",
        TEMPLATES=[{"BACKEND": "django.template.backends.django.DjangoTemplates", "DIRS": []}],
        STORAGES={
            "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
            "staticfiles": {"BACKEND": STORAGE},
        },
        SKEWGUARD={"COMPRESS": True},
    )
    import django

    django.setup()


def suite() -> unittest.TestSuite:
    from django.conf import settings
    from django.contrib.staticfiles import finders, storage
    from django.core.management import CommandError, call_command
    from django.test import override_settings
    from staticfiles_tests import test_storage as upstream
    from staticfiles_tests.cases import CollectionTestCase
    from staticfiles_tests.settings import TEST_ROOT

    ours = {**settings.STORAGES, "staticfiles": {"BACKEND": STORAGE}}
    strict = {"staticfiles": {"BACKEND": STORAGE, "OPTIONS": {"strict": True}}}

    from skewguard.contrib.django.storage import ManifestStorage

    original_open = ManifestStorage.open

    def structural_open(self, name, mode="rb"):
        """A literal upstream hashed name (``styles.5e0040571e1a.css``) opens skewguard's file
        with the same structure."""
        if not os.path.exists(self.path(name)):
            wanted = normalize(name)
            for hashed in getattr(self, "hashed_files", {}).values():
                if normalize(hashed) == wanted:
                    name = hashed
                    break
        return original_open(self, name, mode)

    ManifestStorage.open = structural_open  # this process runs nothing else

    def set_up(self):
        super(Structural, self).setUp()  # the upstream class's setUp
        if isinstance(self, CollectionTestCase):
            storage.staticfiles_storage.manifest_strict = True  # upstream's default

    def port(cls, **extra):
        body = {"__module__": __name__, "setUp": set_up, **extra}
        ported = type(cls.__name__, (Structural, cls), body)
        return override_settings(STORAGES=ours)(ported)

    def import_loop(self):
        """A cycle (foo.css <-> bar.css) is hashed as one unit; each names the other's hash."""
        finders.get_finder.cache_clear()
        call_command("collectstatic", interactive=False, verbosity=0)
        foo = self.hashed_file_path("foo.css")
        bar = self.hashed_file_path("bar.css")
        with storage.staticfiles_storage.open(foo) as fh:
            self.assertIn(os.path.basename(bar).encode(), fh.read())
        with storage.staticfiles_storage.open(bar) as fh:
            self.assertIn(os.path.basename(foo).encode(), fh.read())

    def post_processing_failure(self):
        """Under STRICT, the missing reference fails collectstatic naming the file; without
        it, collectstatic succeeds and reports the reference with its file and line."""
        finders.get_finder.cache_clear()
        err = StringIO()
        with self.settings(STORAGES={**ours, **strict}):
            storage.staticfiles_storage._setup()
            with self.assertRaises(CommandError):
                call_command("collectstatic", interactive=False, verbosity=0, stderr=err)
        self.assertEqual("Post-processing 'faulty.css' failed!\n\n", err.getvalue())
        storage.staticfiles_storage._setup()
        err = StringIO()
        call_command("collectstatic", interactive=False, verbosity=1, stderr=err, stdout=StringIO())
        super(Structural, self).assertIn("1 missing reference(s)", err.getvalue())
        super(Structural, self).assertIn(
            "faulty.css:1: missing reference 'missing.css'", err.getvalue()
        )

    def post_processing_nonutf8(self):
        """Non-UTF-8 CSS is rewritten byte for byte: the build does not fail."""
        finders.get_finder.cache_clear()
        call_command("collectstatic", interactive=False, verbosity=0, stderr=StringIO())
        relpath = self.hashed_file_path("nonutf8.css")
        with storage.staticfiles_storage.open(relpath) as fh:
            self.assertIn(b"\xe9", fh.read())

    dirs = os.path.join(TEST_ROOT, "project")
    fs_finder = ["django.contrib.staticfiles.finders.FileSystemFinder"]
    adapted = {
        "test_import_loop": override_settings(
            STATICFILES_DIRS=[os.path.join(dirs, "loop")], STATICFILES_FINDERS=fs_finder
        )(import_loop),
        "test_post_processing_failure": override_settings(
            STATICFILES_DIRS=[os.path.join(dirs, "faulty")], STATICFILES_FINDERS=fs_finder
        )(post_processing_failure),
        "test_post_processing_nonutf8": override_settings(
            STATICFILES_DIRS=[os.path.join(dirs, "nonutf8")], STATICFILES_FINDERS=fs_finder
        )(post_processing_nonutf8),
    }
    for name, method in adapted.items():
        method.__doc__ = f"[adapted: {ADAPTED[name]}] " + (method.__doc__ or "")

    from skewguard.contrib.django.storage import ManifestStorage

    class SkewguardCustomManifestStorage(ManifestStorage):
        def __init__(self, *args, manifest_storage=None, **kwargs):
            manifest_storage = storage.StaticFilesStorage(location=kwargs.pop("manifest_location"))
            super().__init__(*args, manifest_storage=manifest_storage, **kwargs)

    upstream.CustomManifestStorage = SkewguardCustomManifestStorage  # what setUp() instantiates

    classes = [
        port(upstream.TestCollectionManifestStorage, **adapted),
        port(upstream.TestCollectionManifestStorageStaticUrlSlash),
        port(upstream.TestCollectionJSModuleImportAggregationManifestStorage),
        port(upstream.TestCustomManifestStorage),
        port(upstream.TestStaticFilePermissions),
        port(upstream.TestCollectionHashedFilesCache),
    ]
    # STATIC_URL="/" is the point of that class: keep it, with skewguard's storage.
    loader = unittest.TestLoader()
    tests = unittest.TestSuite()
    for cls in classes:
        for name in loader.getTestCaseNames(cls):
            key = f"{cls.__name__}.{name}"
            if key in NOT_PORTED:
                continue
            tests.addTest(cls(name))
    return tests


class _Result(unittest.TextTestResult):
    pass


def main() -> int:
    configure()
    tempfile.tempdir = tempfile.mkdtemp(prefix="sg-django-port-")
    from django.test.utils import setup_test_environment

    setup_test_environment()
    tests = suite()
    result = unittest.TextTestRunner(stream=sys.stdout, verbosity=2, resultclass=_Result).run(tests)
    for key, reason in NOT_PORTED.items():
        print(f"NOT PORTED {key}: {reason}")
    print(f"RAN {result.testsRun} FAILED {len(result.failures) + len(result.errors)}")
    return 0 if result.wasSuccessful() and result.testsRun else 1


if __name__ == "__main__":
    sys.exit(main())

"""A staticfiles storage whose ``collectstatic`` builds with skewguard.

Drop-in for ManifestStaticFilesStorage: ``collectstatic`` copies the originals into a staging
directory (``STATIC_ROOT/.skewguard/collected``), then ``post_process`` runs skewguard's builder
from there into STATIC_ROOT: hashed names, references rewritten by the comment-aware
tokenizers, one pass over the reference graph, precompression, and the same ``staticfiles.json``
that Django's manifest machinery reads -- so ``{% static %}`` and ``storage.url()`` work as before.
"""

from __future__ import annotations

import os

from django.conf import settings
from django.contrib.staticfiles.storage import ManifestStaticFilesStorage, StaticFilesStorage


class ManifestStorage(ManifestStaticFilesStorage):
    manifest_strict = (
        False  # an unknown name falls back to its canonical URL, like skewguard's static()
    )

    def __init__(self, location=None, base_url=None, *args, **kwargs):
        root = location or settings.STATIC_ROOT
        self.output_root = str(root)
        staging = os.path.join(self.output_root, ".skewguard", "collected")
        kwargs.setdefault("manifest_storage", StaticFilesStorage(location=self.output_root))
        super().__init__(staging, base_url, *args, **kwargs)

    def post_process(self, paths, dry_run=False, **options):
        if dry_run:
            return
        from ...build import BuildError, BuildOptions, build

        try:
            report = build([self.location], self.output_root, BuildOptions(force=True))
        except BuildError as exc:
            yield "skewguard", None, RuntimeError(f"skewguard build failed: {exc}")
            return
        self.hashed_files, self.manifest_hash = self.load_manifest()
        for name in paths:
            yield name, self.hashed_files.get(name, name), True
        for warning in report.warnings[:20]:
            yield f"skewguard warning: {warning}", None, False

"""The release store: every retained release's files in storage shared by every server.

A store is one URL: ``file:///shared/dir`` (an NFS/EFS mount, a Kubernetes RWX volume) or
``s3://bucket/prefix`` (any S3-compatible storage; ``pip install 'skewguard[s3]'``).
``publish`` uploads a build, ``collect`` deletes what no retained release references, and the
runtime serves old releases' files from it (``StoreSource``). Importing this package is cheap:
the S3 client is imported only when an ``s3://`` store is opened.
"""

from .backend import ObjectInfo, StoreBackend, StoreError, StoreMissing, StoreUnavailable
from .url import open_store

__all__ = [
    "ObjectInfo",
    "StoreBackend",
    "StoreError",
    "StoreMissing",
    "StoreUnavailable",
    "open_store",
]

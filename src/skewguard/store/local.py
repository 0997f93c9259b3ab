"""``file:///path``: a directory shared by every server (NFS, EFS, a Kubernetes RWX volume).

Objects are plain files under the root, so the directory can also be served as it is.
Writes go to a temporary file first, then ``link`` (put-if-absent: fails if the name exists)
or ``rename`` (replace): readers never see half an object.
"""

from __future__ import annotations

import errno
import os

from ..atomic import write_atomic
from .backend import ObjectInfo, StoreError, StoreMissing, StoreUnavailable

_TMP_DIR = ".tmp"


class FileStore:
    def __init__(self, root: str):
        self.root = os.path.abspath(root)
        self.url = "file://" + self.root

    def _path(self, key: str) -> str:
        parts = key.split("/")
        if not key or any(p in ("", ".", "..") for p in parts) or "\x00" in key:
            raise StoreError(f"{self.url}: invalid object key {key!r}")
        return os.path.join(self.root, *parts)

    def _failed(self, exc: OSError, what: str) -> StoreError:
        return StoreUnavailable(f"{self.url}: cannot {what}: {exc.strerror or exc}")

    def list(self, prefix: str) -> list[ObjectInfo]:
        base = os.path.join(self.root, *[p for p in prefix.split("/") if p])
        if not os.path.isdir(self.root):
            raise StoreUnavailable(f"{self.url}: no such directory (create it or mount the share)")
        found: list[ObjectInfo] = []
        for dirpath, dirnames, filenames in os.walk(base):
            dirnames[:] = [d for d in dirnames if d != _TMP_DIR]
            for name in filenames:
                if name.startswith(".") and name.endswith(".tmp"):
                    continue  # an atomic write in progress
                path = os.path.join(dirpath, name)
                try:
                    size = os.stat(path).st_size
                except FileNotFoundError:
                    continue
                found.append(
                    ObjectInfo(os.path.relpath(path, self.root).replace(os.sep, "/"), size)
                )
        return found

    def get(self, key: str) -> bytes:
        path = self._path(key)
        try:
            with open(path, "rb") as fh:
                return fh.read()
        except FileNotFoundError:
            raise StoreMissing(f"{self.url}: no object {key}") from None
        except OSError as exc:
            raise self._failed(exc, f"read {key}") from None

    def put_if_absent(
        self, key: str, data: bytes, attributes: dict[str, str] | None = None
    ) -> bool:
        path = self._path(key)
        if os.path.exists(path):
            return False
        tmp_dir = os.path.join(self.root, _TMP_DIR)
        tmp = os.path.join(tmp_dir, f"{os.getpid()}.{os.urandom(6).hex()}")
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            os.makedirs(tmp_dir, exist_ok=True)
            with open(tmp, "wb") as fh:
                fh.write(data)
            try:
                os.link(tmp, path)  # atomic, and refuses an existing name
                return True
            except FileExistsError:
                return False
        except OSError as exc:
            if exc.errno == errno.ENOSPC:
                raise StoreUnavailable(f"{self.url}: no space left writing {key}") from None
            raise self._failed(exc, f"write {key}") from None
        finally:
            try:
                os.unlink(tmp)
            except OSError:
                pass

    def put(self, key: str, data: bytes, attributes: dict[str, str] | None = None) -> None:
        path = self._path(key)
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            write_atomic(path, data, durable=True)
        except OSError as exc:
            raise self._failed(exc, f"write {key}") from None

    def delete(self, key: str) -> None:
        try:
            os.unlink(self._path(key))
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise self._failed(exc, f"delete {key}") from None

"""``s3://bucket/prefix``: any S3-compatible storage (AWS S3, Cloudflare R2, MinIO, Ceph), through
obstore (a Rust client made for object storage: signing, retries, conditional writes).

Endpoint, region and credentials come from the usual ``AWS_*`` environment variables
(``AWS_ENDPOINT_URL``, ``AWS_REGION``, ``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``,
``AWS_SESSION_TOKEN``...) or from the URL's query: ``?endpoint=http://127.0.0.1:9000&region=auto``.
Put-if-absent is a conditional PUT (``If-None-Match: *``).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from .backend import ObjectInfo, StoreError, StoreMissing, StoreUnavailable

QUERY_OPTIONS = ("endpoint", "region")


class S3Store:
    def __init__(self, bucket: str, prefix: str, options: dict[str, str], timeout: float):
        try:
            import obstore
            from obstore.store import S3Store as ObjectStoreS3
        except ImportError:
            raise StoreError("s3:// stores need obstore: pip install 'skewguard[s3]'") from None
        self._obstore = obstore
        self.url = f"s3://{bucket}/{prefix}".rstrip("/")
        endpoint = options.get("endpoint", "")
        client_options: Any = {
            "timeout": timedelta(seconds=timeout),
            "connect_timeout": timedelta(seconds=min(timeout, 5.0)),
        }
        if endpoint.startswith("http://"):
            client_options["allow_http"] = True
        config: dict[str, Any] = {}
        if endpoint:
            config["endpoint"] = endpoint
        if options.get("region"):
            config["region"] = options["region"]
        # One quick retry: a request must never stall a page for longer than the timeout allows.
        retry: Any = {
            "max_retries": 1,
            "backoff": {
                "init_backoff": timedelta(milliseconds=50),
                "max_backoff": timedelta(milliseconds=200),
                "base": 2,
            },
            "retry_timeout": timedelta(seconds=timeout),
        }
        try:
            self._store = ObjectStoreS3(
                bucket,
                prefix=prefix or None,
                client_options=client_options,
                retry_config=retry,
                **config,
            )
        except Exception as exc:  # obstore raises its own errors for bad configuration
            raise StoreError(f"{self.url}: {_one_line(exc)}") from None

    def _error(self, exc: Exception, what: str) -> StoreError:
        from obstore.exceptions import NotFoundError

        if isinstance(exc, NotFoundError | FileNotFoundError):
            return StoreMissing(f"{self.url}: no object {what}")
        return StoreUnavailable(f"{self.url}: {what}: {_one_line(exc)}")

    def list(self, prefix: str) -> list[ObjectInfo]:
        try:
            found: list[ObjectInfo] = []
            for batch in self._obstore.list(self._store, prefix or None, chunk_size=1000):
                found.extend(ObjectInfo(meta["path"], int(meta["size"])) for meta in batch)
            return found
        except Exception as exc:
            raise self._error(exc, f"list {prefix}") from None

    def get(self, key: str) -> bytes:
        try:
            return bytes(self._obstore.get(self._store, key).bytes())
        except Exception as exc:
            raise self._error(exc, key) from None

    def put_if_absent(
        self, key: str, data: bytes, attributes: dict[str, str] | None = None
    ) -> bool:
        from obstore.exceptions import AlreadyExistsError, PreconditionError

        try:
            self._obstore.put(
                self._store, key, data, mode="create", attributes=_attributes(attributes)
            )
            return True
        except (AlreadyExistsError, PreconditionError):
            return False
        except Exception as exc:
            raise self._error(exc, f"put {key}") from None

    def put(self, key: str, data: bytes, attributes: dict[str, str] | None = None) -> None:
        try:
            self._obstore.put(self._store, key, data, attributes=_attributes(attributes))
        except Exception as exc:
            raise self._error(exc, f"put {key}") from None

    def delete(self, key: str) -> None:
        try:
            self._obstore.delete(self._store, key)
        except Exception as exc:
            error = self._error(exc, f"delete {key}")
            if not isinstance(error, StoreMissing):
                raise error from None


def _attributes(attributes: dict[str, str] | None) -> Any:
    return dict(attributes) if attributes else None


def _one_line(exc: Exception) -> str:
    text = " ".join(str(exc).split())
    return text[:300] if text else type(exc).__name__

"""``Skewguard``: the one public object; framework integrations and the demo build on it.

    sg = Skewguard(static_root="dist", static_url="/static/", secret_key="...")
    app = sg.asgi(app)            # X-App-Version, Inertia 409, /version, /cache/bust, static files
    wsgi_app = sg.wsgi(wsgi_app)  # the same for WSGI
    sg.static("css/app.css")      # "/static/css/app.3f2a9c1d0b7e.css"

State that requests read (version snapshot + static table) lives in one immutable ``_State``
swapped by a single assignment: a request that read it once sees one release throughout.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from .protocol import Respond, bust_failed, bust_succeeded
from .settings import Settings
from .tokens import make_token
from .version import Component, VersionError, VersionSnapshot, resolve
from .web.static import (
    ContentHashCache,
    DiskStatic,
    StaticEntry,
    StaticTable,
    memory_entry,
    retained_files,
)

logger = logging.getLogger("skewguard")


class UnknownStaticPath(LookupError):
    """``static()`` of a path the manifest does not know, in strict mode."""


@dataclass(frozen=True)
class _State:
    snapshot: VersionSnapshot
    static: StaticTable | DiskStatic | None
    version_header: tuple[bytes, bytes] | None  # ready for ASGI; None when the header is off
    client: StaticEntry  # the browser client, served from memory
    client_config: dict[str, Any]  # what every page's bootstrap tells the client


RequestContext = Any  # an ASGI scope or a WSGI environ


class Skewguard:
    def __init__(
        self,
        settings: Settings | None = None,
        *,
        csp_nonce: Callable[[RequestContext], str | None] | None = None,
        client_options: Callable[[RequestContext], dict[str, Any]] | None = None,
        **options: object,
    ):
        """Settings as keyword arguments (``static_root="dist"``, ``APP_VERSION_MISMATCH="defer"``),
        over ``SKEWGUARD_*`` environment variables, over defaults. Raises SettingsError or
        VersionError (one line each) when the configuration cannot work.

        ``csp_nonce(scope_or_environ)`` returns the request's CSP nonce for the injected script
        (default: the CSP_NONCE_KEY entry of the scope, ``scope["state"]`` or the environ).
        ``client_options(scope_or_environ)`` adds per-request client settings (``policy``,
        ``poll`` in ms, ``message``)."""
        self.settings = settings if settings is not None else Settings.load(options)
        self._csp_nonce = csp_nonce
        self._client_options = client_options
        from .releases import open_registry

        self.registry = open_registry(self.settings)
        self._seen_bust: int | None = None
        self._pending_announce = False  # a bust made while the registry was unreachable
        self._components: list[Component] = []
        self._reload_lock = threading.Lock()
        self._dev_hashes = ContentHashCache()
        self._state = self._load()
        if self.registry is not None:
            snapshot = self._state.snapshot
            release_id = snapshot.release["id"] if snapshot.release else snapshot.version
            if not snapshot.dev and snapshot.version != "unknown":
                self.registry.register(
                    snapshot.version, release_id
                )  # the first release becomes active
            self._state = self._load()
            self._seen_bust = (
                self._state.snapshot.registry.bust if self._state.snapshot.registry else 0
            )
            self.registry.watch(self._registry_changed)
        if self.settings.VERSION_ENDPOINT and not self.settings.SECRET_KEY:
            logger.warning(
                "skewguard: no SECRET_KEY; POST %s refuses every request", self.settings.BUST_PATH
            )

    # -- version ---------------------------------------------------------------------------------

    @property
    def snapshot(self) -> VersionSnapshot:
        return self._state.snapshot

    @property
    def version(self) -> str:
        return self._state.snapshot.version

    @property
    def version_source(self) -> str:
        return self._state.snapshot.source

    def register_component(
        self, name: str, paths_or_globs: Iterable[str] | str, base: str | None = None
    ) -> None:
        """Files whose bytes shape the version (templates, config); globs allowed (``**`` too)."""
        patterns = (paths_or_globs,) if isinstance(paths_or_globs, str) else tuple(paths_or_globs)
        self._components = [c for c in self._components if c.name != name]
        self._components.append(Component(name, patterns, os.path.abspath(base or os.getcwd())))
        self.reload()

    def reload(self) -> VersionSnapshot:
        """Re-read manifest and components, recompute the version, swap atomically.

        Raises VersionError and keeps the current state when the new one cannot be built."""
        with self._reload_lock:
            self._state = self._load()
            return self._state.snapshot

    def bust(self) -> Respond:
        """What ``POST /cache/bust`` does once authorized: reload, tell the fleet, say what changed."""
        previous = self._state.snapshot
        try:
            current = self.reload()
        except VersionError as exc:
            logger.error("skewguard: bust failed, still serving %s: %s", previous.version, exc)
            return bust_failed(previous, str(exc), self.settings)
        if self.registry is not None:
            from .releases import RegistryError

            try:
                if current.version != "unknown":
                    self.registry.register(
                        current.version, current.release["id"] if current.release else ""
                    )
                state = self.registry.announce_bust()  # every other worker reloads too
                self._seen_bust = state.bust
                current = self.reload()
            except RegistryError as exc:
                self._pending_announce = True  # told to the fleet once the registry is back
                logger.warning("skewguard: bust applied here only for now: %s", exc)
        logger.info("skewguard: bust: %s -> %s", previous.version, current.version)
        return bust_succeeded(previous, current, self.settings)

    def _registry_changed(self, state) -> None:
        """A change from another server or worker: a bust re-reads everything, other changes
        (activation, retirement) only swap the registry view."""
        import dataclasses

        from .releases import RegistryError

        try:
            version = self._state.snapshot.version
            if version != "unknown" and not self._state.snapshot.dev and state.get(version) is None:
                state = self.registry.register(version)  # a restarted Redis may have lost us
            if self._pending_announce:
                state = self.registry.announce_bust()
                self._pending_announce = False
                self._seen_bust = state.bust
        except RegistryError:
            pass  # still unreachable: the next change or reconnect tries again
        if state.bust != self._seen_bust:
            self._seen_bust = state.bust
            try:
                self.reload()
                return
            except VersionError as exc:
                logger.error(
                    "skewguard: fleet bust failed here, still serving %s: %s", self.version, exc
                )
        with self._reload_lock:
            current = self._state
            self._state = dataclasses.replace(
                current, snapshot=dataclasses.replace(current.snapshot, registry=state)
            )

    def make_token(self, ttl_seconds: int = 600) -> str:
        """A bust token signed with SECRET_KEY (what ``skewguard token`` prints)."""
        return make_token(self.settings.SECRET_KEY, ttl_seconds)

    def _load(self) -> _State:
        import dataclasses

        settings = self.settings
        snapshot = resolve(settings, self._components)
        if self.registry is not None:
            snapshot = dataclasses.replace(snapshot, registry=self.registry.state())
        extra = [(b"x-app-version", snapshot.header_value)] if settings.APP_VERSION_HEADER else []
        static: StaticTable | DiskStatic | None = None
        if settings.SERVE_STATIC and settings.STATIC_ROOT:
            if snapshot.manifest is not None:
                retained = retained_files(settings.STATIC_ROOT)
                static = StaticTable.from_build(
                    settings.STATIC_ROOT, snapshot.manifest, retained, extra
                )
            elif settings.DEBUG or snapshot.dev:
                static = DiskStatic([*settings.STATIC_DIRS, settings.STATIC_ROOT], extra)
        from .client import client_code, client_name

        client = memory_entry(client_code(), client_name(), extra)
        config = {
            "version": snapshot.version,
            "policy": settings.APP_VERSION_MISMATCH,
            "versionUrl": settings.VERSION_PATH,
            "poll": int(settings.CLIENT_POLL_INTERVAL * 1000) if settings.VERSION_ENDPOINT else 0,
            "fetch": settings.CLIENT_WRAP_FETCH,
        }
        return _State(snapshot, static, extra[0] if extra else None, client, config)

    def bootstrap(self, context: RequestContext = None, state: _State | None = None) -> bytes:
        """The ``<script>`` tag that starts the browser client on a page (what injection inserts;
        templates that opt out of injection can output it themselves)."""
        from .client import bootstrap_tag

        state = state or self._state
        config = state.client_config
        if self._client_options is not None and context is not None:
            config = {**config, **(self._client_options(context) or {})}
        return bootstrap_tag(
            config, self.settings.STATIC_URL, self.settings.CLIENT_INLINE, self._nonce(context)
        )

    def _nonce(self, context: RequestContext) -> str | None:
        if context is None:
            return None
        if self._csp_nonce is not None:
            return self._csp_nonce(context)
        key = self.settings.CSP_NONCE_KEY
        if not isinstance(context, dict):
            return None
        value = context.get(key)
        if value is None and isinstance(context.get("state"), dict):
            value = context["state"].get(key)
        return value if isinstance(value, str) else None

    # -- template helpers ------------------------------------------------------------------------

    def static(self, path: str) -> str:
        """The URL of ``path``'s hashed file; unknown paths: canonical URL and a warning (strict: raise)."""
        path = path.lstrip("/")
        manifest = self._state.snapshot.manifest
        if manifest is not None:
            hashed = manifest.paths.get(path)
            if hashed is not None:
                return self.settings.STATIC_URL + hashed
            if self.settings.STRICT:
                raise UnknownStaticPath(
                    f"{path!r} is not in the manifest {self.settings.manifest_file}"
                )
            logger.warning(
                "skewguard: static(%r): not in the manifest; using the canonical URL", path
            )
        return self.settings.STATIC_URL + path

    def static_url(self, path: str) -> str:
        """``static()`` in production; in dev mode the canonical URL with ``?v=<content hash>``."""
        snapshot = self._state.snapshot
        if snapshot.manifest is not None and not (snapshot.dev or self.settings.DEBUG):
            return self.static(path)
        path = path.lstrip("/")
        url = self.settings.STATIC_URL + path
        if not self.settings.STATIC_DEV_VERSION_QUERY:
            return url
        for root in (*self.settings.STATIC_DIRS, self.settings.STATIC_ROOT):
            if not root:
                continue
            file_path = os.path.join(root, path)
            try:
                return f"{url}?v={self._dev_hashes.digest(file_path)[:12]}"
            except OSError:
                continue
        return url

    def app_version(self) -> str:
        return self._state.snapshot.version

    # -- adapters --------------------------------------------------------------------------------

    def asgi(self, app, *, endpoints: bool = True):
        """Wrap an ASGI app: headers, the Inertia rule, /version, /cache/bust and static files.
        ``endpoints=False`` leaves the two endpoints to the framework's own routes."""
        from .web.asgi import ASGIMiddleware

        return ASGIMiddleware(app, self, endpoints=endpoints)

    def wsgi(self, app, *, endpoints: bool = True):
        """Wrap a WSGI app: the same as ``asgi()``."""
        from .web.wsgi import WSGIMiddleware

        return WSGIMiddleware(app, self, endpoints=endpoints)

    def asgi_static(self):
        """An ASGI app serving the build directory, to mount under STATIC_URL."""
        from .web.asgi import ASGIStaticApp

        return ASGIStaticApp(self)

    def wsgi_static(self):
        """A WSGI app serving the build directory, to mount under STATIC_URL."""
        from .web.wsgi import WSGIStaticApp

        return WSGIStaticApp(self)

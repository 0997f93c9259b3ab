"""``Skewguard``: the one public object; framework integrations and the demo build on it.

    sg = Skewguard(static_root="dist", static_url="/static/", secret_key="...")
    app = sg.asgi(app)            # X-App-Version, Inertia 409, /version, /cache/bust, static files
    wsgi_app = sg.wsgi(wsgi_app)  # the same for WSGI
    sg.static("css/app.css")      # "/static/css/app.3f2a9c1d0b7e.css"

State that requests read (version snapshot + static table) lives in one immutable
``GuardState`` (``sg.current()``) swapped by a single assignment: a request that read it once
sees one release throughout.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from .errors import SkewguardError
from .protocol import (
    RequestFacts,
    Respond,
    authorize_bust,
    bust_failed,
    bust_succeeded,
    json_response,
    version_endpoint,
    version_headers,
)
from .settings import Settings
from .state import Endpoint, GuardState, RequestContext
from .tokens import make_token
from .types import ASGIApp, WSGIApp
from .version import Component, VersionError, VersionSnapshot, resolve
from .web.devstatic import ContentHashCache, DiskStatic
from .web.responder import FallbackSource, StaticTable, memory_entry
from .web.static import retained_files

if TYPE_CHECKING:
    from .releases.model import RegistryState
    from .store.serving import StoreSource, StoreStatic

logger = logging.getLogger("skewguard")


def bust_pending(
    previous: VersionSnapshot, current: VersionSnapshot, error: str, settings: Settings
) -> Respond:
    """Applied by this worker, but the registry could not be told: the others follow when it
    answers again. Not a 200, so a deploy script notices that the fleet is not there yet."""
    body = {
        "status": "pending",
        "version": current.version,
        "previous": previous.version,
        "error": f"{error}; this worker serves {current.version}, the others follow when "
        "the registry answers again",
    }
    headers = (("Cache-Control", "no-store"), ("Retry-After", "1"))
    return json_response(503, body, (*headers, *version_headers(current, settings)))


class UnknownStaticPath(SkewguardError, LookupError):
    """``static()`` of a path the manifest does not know, in strict mode."""


class RestartNeeded(VersionError):
    """Something else in the process that renders asset URLs (a framework's manifest loader)
    cannot switch to the new release in process: the process keeps the release it has."""


# ``listener(snapshot)`` readies a renderer for the release ``snapshot`` and returns the function
# that switches it over (or None). It raises RestartNeeded when that cannot be done in process.
ReloadListener = Callable[[VersionSnapshot], Callable[[], None] | None]


class Skewguard:
    def __init__(
        self,
        settings: Settings | None = None,
        *,
        csp_nonce: Callable[[RequestContext], str | None] | None = None,
        client_options: Callable[[RequestContext], dict[str, Any]] | None = None,
        static_fallback: FallbackSource | None = None,
        **options: object,
    ):
        """Settings as keyword arguments (``static_root="dist"``, ``APP_VERSION_MISMATCH="defer"``),
        over ``SKEWGUARD_*`` environment variables, over defaults. Raises SettingsError or
        VersionError (one line each) when the configuration cannot work.

        ``csp_nonce(scope_or_environ)`` returns the request's CSP nonce for the injected script
        (default: the CSP_NONCE_KEY entry of the scope, ``scope["state"]`` or the environ).
        ``client_options(scope_or_environ)`` adds per-request client settings (``policy``,
        ``poll`` in ms, ``message``). ``static_fallback`` is asked for hashed names the build
        directory does not hold (a release store of older releases)."""
        self.settings = settings if settings is not None else Settings.load(options)
        self._csp_nonce = csp_nonce
        self._client_options = client_options
        from .releases import open_registry

        self.registry = open_registry(self.settings)
        self._seen_bust: int | None = None
        self._components: list[Component] = []
        self._reload_listeners: list[ReloadListener] = []
        self._reload_lock = threading.Lock()
        self._dev_hashes = ContentHashCache()
        self._store_source = self._open_store()
        # The release store, when STORE is set, answers for hashed names the build lacks.
        self._static_fallback = static_fallback or self._store_source
        self._endpoints: dict[str, Endpoint] = {}
        if self.settings.VERSION_ENDPOINT:
            self.add_endpoint(self.settings.VERSION_PATH, self._version_endpoint)
            self.add_endpoint(self.settings.BUST_PATH, self._bust_endpoint, blocking=True)
        self._state = self._load()
        self.telemetry = None
        if self.settings.TELEMETRY or self.settings.METRICS_PATH or self.settings.STATUS_PATH:
            from .releases.registry import FileRegistry
            from .telemetry.runtime import Telemetry

            registry_file = self.registry.path if isinstance(self.registry, FileRegistry) else ""
            self.telemetry = Telemetry(self.settings, registry_file=registry_file)
            telemetry = self.telemetry
            # Reading Redis or the workers' files: blocking, so off the event loop under ASGI.
            if self.settings.METRICS_PATH:
                self.add_endpoint(
                    self.settings.METRICS_PATH,
                    lambda request, state: telemetry.metrics_response(request),
                    blocking=True,
                )
            if self.settings.STATUS_PATH:
                self.add_endpoint(
                    self.settings.STATUS_PATH,
                    lambda request, state: telemetry.status_response(request, state.snapshot),
                    blocking=True,
                )
        if self.registry is not None:
            snapshot = self._state.snapshot
            release_id = snapshot.release["id"] if snapshot.release else snapshot.version
            if self._store_source is not None:  # a fresh image: the older releases are retained
                from .store.registration import register_releases

                source = self._store_source
                register_releases(
                    self.registry,
                    (
                        (v, r)
                        for r in source.releases
                        if (v := source.versions[r]) != snapshot.version
                    ),
                )
            if not snapshot.dev and snapshot.version != "unknown":
                self.registry.join(snapshot.version, release_id)
            self._state = self._load()
            self._seen_bust = (
                self._state.snapshot.registry.bust if self._state.snapshot.registry else 0
            )
            self.registry.watch(self._registry_changed)
        if self.settings.VERSION_ENDPOINT and not self.settings.SECRET_KEY:
            logger.warning(
                "skewguard: no SECRET_KEY; POST %s refuses every request", self.settings.BUST_PATH
            )

    # -- state and endpoints ---------------------------------------------------------------------

    def current(self) -> GuardState:
        """The state requests read now (one release: version, static table, client settings)."""
        return self._state

    @property
    def endpoints(self) -> Mapping[str, Endpoint]:
        """Exact paths skewguard answers itself, before the application sees the request."""
        return self._endpoints

    def add_endpoint(
        self,
        path: str,
        handler: Callable[[RequestFacts, GuardState], Respond],
        *,
        blocking: bool = False,
    ) -> None:
        """Answer ``path`` with ``handler(request, state)`` in every adapter (ASGI, WSGI,
        Django). ``blocking`` handlers run in a worker thread under ASGI."""
        # In place: adapters hold this mapping; one assignment is atomic for readers.
        self._endpoints[path] = Endpoint(path, handler, blocking)

    def use_static_fallback(self, source: FallbackSource | None) -> None:
        """Ask ``source`` for hashed names the build directory lacks (``lookup(name)``); the
        same as ``Skewguard(static_fallback=...)``, for sources made after the guard."""
        self._static_fallback = source
        self.reload()

    def _version_endpoint(self, request: RequestFacts, state: GuardState) -> Respond:
        self.note_beat(request.query, state.snapshot)
        return version_endpoint(request, state.snapshot, self.settings)

    def _bust_endpoint(self, request: RequestFacts, state: GuardState) -> Respond:
        refusal = authorize_bust(request, self.settings)
        return refusal if refusal is not None else self.bust()

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

    def add_reload_listener(self, listener: ReloadListener) -> None:
        """Have a reload that changes the version also switch ``listener``'s renderer (Django's
        staticfiles storage, a Vite manifest loader): one release rendered per process."""
        self._reload_listeners.append(listener)

    def reload(self) -> VersionSnapshot:
        """Re-read manifest and components, recompute the version, swap atomically.

        Raises VersionError and keeps the current state when the new one cannot be built, and
        RestartNeeded when a renderer cannot follow: never the new version over old asset URLs."""
        with self._reload_lock:
            state = self._load()
            if state.snapshot.version != self._state.snapshot.version:
                # Every renderer readies first; only when all can follow does anything switch.
                switches = [listener(state.snapshot) for listener in self._reload_listeners]
                for switch in switches:
                    if switch is not None:
                        switch()
            self._state = state
            return self._state.snapshot

    def bust(self) -> Respond:
        """What ``POST /cache/bust`` does once authorized: reload, tell the fleet, say what changed."""
        previous = self._state.snapshot
        try:
            current = self.reload()
        except RestartNeeded as exc:
            logger.warning(
                "skewguard: restart needed, still serving %s here: %s", previous.version, exc
            )
            return bust_failed(previous, str(exc), self.settings, restart_needed=True)
        except VersionError as exc:
            logger.error("skewguard: bust failed, still serving %s: %s", previous.version, exc)
            return bust_failed(previous, str(exc), self.settings)
        if self.telemetry is not None:
            self.telemetry.busted()
        if self.registry is not None:
            from .releases import propagate_bust

            outcome = propagate_bust(
                self.registry,
                None if current.version == "unknown" else current.version,
                current.release["id"] if current.release else "",
                self._take_registry_view,
            )
            if outcome.state is None:
                logger.warning("skewguard: bust applied here only for now: %s", outcome.error)
                return bust_pending(previous, current, outcome.error, self.settings)
            current = self._state.snapshot
        logger.info("skewguard: bust: %s -> %s", previous.version, current.version)
        return bust_succeeded(previous, current, self.settings)

    def _registry_changed(self, state: RegistryState) -> None:
        """A change from another server or worker: a bust re-reads everything, other changes
        (activation, retirement) only swap the registry view."""
        from .releases import RegistryError

        registry = self.registry
        if registry is None:
            return
        try:
            version = self._state.snapshot.version
            if version != "unknown" and not self._state.snapshot.dev and state.get(version) is None:
                state = registry.register(version)  # a restarted Redis may have lost us
        except RegistryError:
            pass  # still unreachable: the next change or reconnect tries again
        if state.bust != self._seen_bust:
            self._seen_bust = state.bust
            try:
                self.reload()
                return
            except RestartNeeded as exc:
                logger.warning(
                    "skewguard: restart needed, still serving %s here: %s", self.version, exc
                )
            except VersionError as exc:
                logger.error(
                    "skewguard: fleet bust failed here, still serving %s: %s", self.version, exc
                )
        self._take_registry_view(state)

    def _take_registry_view(self, state: RegistryState) -> None:
        """Swap in the registry's view (what is active, retained, retired) and nothing else."""
        import dataclasses

        with self._reload_lock:
            self._seen_bust = state.bust
            current = self._state
            self._state = dataclasses.replace(
                current, snapshot=dataclasses.replace(current.snapshot, registry=state)
            )

    def note_beat(self, query: str, snapshot: VersionSnapshot | None = None) -> None:
        """Count the live-tab heartbeat a ``/version`` request carries (adapters call this)."""
        if self.telemetry is not None and self.settings.TELEMETRY:
            self.telemetry.beat(query, snapshot or self._state.snapshot)

    def note_decision(self, decision: object) -> None:
        """Count a 409 sent, or a request answered normally because its page was held."""
        if self.telemetry is not None and decision is not None:
            from .protocol import Proceed, Respond

            if isinstance(decision, Respond) and decision.status == 409:
                self.telemetry.conflict()
            elif isinstance(decision, Proceed) and decision.held:
                self.telemetry.hold_honoured()

    def make_token(self, ttl_seconds: int = 600) -> str:
        """A bust token signed with SECRET_KEY (what ``skewguard token`` prints)."""
        return make_token(self.settings.SECRET_KEY, ttl_seconds)

    def _open_store(self) -> StoreSource | None:
        """The release store as a source of old releases' files (STORE), or None."""
        settings = self.settings
        if not settings.STORE or not settings.SERVE_STATIC or not settings.STATIC_ROOT:
            return None
        from .settings import SettingsError
        from .store import StoreError, open_store
        from .store.serving import StoreSource

        try:
            store = open_store(settings.STORE, settings.STORE_TIMEOUT)
        except StoreError as exc:
            raise SettingsError(f"STORE: {exc}") from None
        return StoreSource(store, settings.STORE_CACHE, int(settings.STORE_CACHE_MB * 1024 * 1024))

    def _load(self) -> GuardState:
        import dataclasses

        settings = self.settings
        snapshot = resolve(settings, self._components)
        if self.registry is not None:
            snapshot = dataclasses.replace(snapshot, registry=self.registry.state())
        extra = [(b"x-app-version", snapshot.header_value)] if settings.APP_VERSION_HEADER else []
        origin = settings.STATIC_ALLOW_ORIGIN
        file_headers = (
            [(b"access-control-allow-origin", origin.encode("latin-1"))] if origin else []
        )
        static: StaticTable | DiskStatic | StoreStatic | None = None
        if settings.SERVE_STATIC and settings.STATIC_ROOT:
            if snapshot.manifest is not None:
                retained = retained_files(settings.STATIC_ROOT)
                fallback = self._static_fallback
                if self.registry is not None:  # workers: serve a new build's files at once
                    from .releases.newer_files import NewerBuildFiles

                    fallback = NewerBuildFiles(settings.STATIC_ROOT, file_headers, fallback)
                static = StaticTable.from_build(
                    settings.STATIC_ROOT,
                    snapshot.manifest,
                    retained,
                    extra,
                    file_headers,
                    fallback,
                )
            elif settings.DEBUG or snapshot.dev:
                static = DiskStatic(
                    [*settings.STATIC_DIRS, settings.STATIC_ROOT], extra, file_headers
                )
            if self._store_source is not None and isinstance(static, StaticTable):
                from .store.serving import StoreStatic

                self._store_source.use_headers([*extra, *file_headers])
                static = StoreStatic(static, self._store_source, extra)
        root_files = None
        if settings.ROOT_FILES_DIR:
            root_files = StaticTable.from_directory(settings.ROOT_FILES_DIR, extra, file_headers)
        from .client import client_code, client_name

        client = memory_entry(client_code(), client_name(), [*extra, *file_headers])
        config = {
            "version": snapshot.version,
            "policy": settings.APP_VERSION_MISMATCH,
            "versionUrl": settings.VERSION_PATH,
            "poll": int(settings.CLIENT_POLL_INTERVAL * 1000) if settings.VERSION_ENDPOINT else 0,
            "fetch": settings.CLIENT_WRAP_FETCH,
            "pin": settings.PIN_REQUESTS,
        }
        return GuardState(snapshot, static, extra[0] if extra else None, client, config, root_files)

    def bootstrap(self, context: RequestContext = None, state: GuardState | None = None) -> bytes:
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

    def asgi(self, app: ASGIApp, *, endpoints: bool = True) -> ASGIApp:
        """Wrap an ASGI app: headers, the Inertia rule, /version, /cache/bust and static files.
        ``endpoints=False`` leaves the two endpoints to the framework's own routes."""
        from .web.asgi import ASGIMiddleware

        return ASGIMiddleware(app, self, endpoints=endpoints)

    def wsgi(self, app: WSGIApp, *, endpoints: bool = True) -> WSGIApp:
        """Wrap a WSGI app: the same as ``asgi()``."""
        from .web.wsgi import WSGIMiddleware

        return WSGIMiddleware(app, self, endpoints=endpoints)

    def asgi_static(self) -> ASGIApp:
        """An ASGI app serving the build directory, to mount under STATIC_URL."""
        from .web.asgi import ASGIStaticApp

        return ASGIStaticApp(self)

    def wsgi_static(self) -> WSGIApp:
        """A WSGI app serving the build directory, to mount under STATIC_URL."""
        from .web.wsgi import WSGIStaticApp

        return WSGIStaticApp(self)

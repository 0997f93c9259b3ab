"""Litestar plugin.

    from skewguard.contrib.litestar import SkewguardPlugin
    app = Litestar(route_handlers=[...], template_config=..., plugins=[SkewguardPlugin(static_root="dist", secret_key=...)])

Registers the middleware (pure ASGI), ``/version`` and ``/cache/bust`` as route handlers, a
route for each other endpoint the guard has when the app is made (METRICS_PATH, STATUS_PATH,
``Skewguard.add_endpoint``: add yours before ``Litestar(...)``), the
template callables ``static``, ``static_url``, ``app_version`` (and ``vite_version`` as a global)
on the app's template engine, and ``litestar skewguard build|prune|token|version``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from litestar import Request, Response, asgi, get, post
from litestar.plugins import CLIPluginProtocol, InitPluginProtocol
from litestar.types import Receive, Scope, Send

from ..client import CLIENT_PREFIX
from ..guard import RestartNeeded, Skewguard
from ..protocol import Respond, authorize_bust, version_endpoint
from ..web.asgi import facts_from_scope
from .jinja import CurrentVersion


def scope_of(request: Request[Any, Any, Any]) -> Any:
    """Litestar's typed scope, as the plain ASGI mapping skewguard reads."""
    return request.scope


class SkewguardPlugin(InitPluginProtocol, CLIPluginProtocol):
    def __init__(self, guard: Skewguard | None = None, **options: Any):
        self.guard = guard if guard is not None else Skewguard(**options)

    def on_app_init(self, app_config: Any) -> Any:
        guard = self.guard
        # Outermost, so skewguard decides before litestar-vite's Inertia middleware sees a request.
        app_config.middleware.insert(0, lambda app: _middleware(guard, app))
        app_config.on_startup.append(lambda app: self._agree_with_vite(app_config.plugins))
        if guard.settings.VERSION_ENDPOINT:
            app_config.route_handlers.extend(self._handlers())
        # Litestar runs app middleware only for matched routes: the browser client and the static
        # files need a route of their own. skewguard owns STATIC_URL when it serves the build
        # (litestar-vite's own static route then steps aside); else only its client's prefix.
        serves_static = bool(guard.settings.SERVE_STATIC and guard.settings.STATIC_ROOT)
        if serves_static:
            _take_static_from_vite(app_config, guard.settings.STATIC_URL)
            mount = guard.settings.STATIC_URL.rstrip("/")
        else:
            mount = guard.settings.STATIC_URL + CLIENT_PREFIX.rstrip("/")
        app_config.route_handlers.append(_static_route(guard, mount))
        # The other endpoints (METRICS_PATH, STATUS_PATH, add_endpoint's) need routes too, for
        # the same reason: those the guard has when the app is made.
        framework = (guard.settings.VERSION_PATH, guard.settings.BUST_PATH)
        app_config.route_handlers.extend(
            _endpoint_route(guard, path) for path in guard.endpoints if path not in framework
        )
        app_config.on_startup.append(lambda app: _route_root_files(guard, app))
        template_config = app_config.template_config
        if template_config is not None:
            previous = template_config.engine_callback

            def register(engine: Any) -> None:
                if previous is not None:
                    previous(engine)
                engine.register_template_callable("static", lambda ctx, path: guard.static(path))
                engine.register_template_callable(
                    "static_url", lambda ctx, path: guard.static_url(path)
                )
                engine.register_template_callable("app_version", lambda ctx: guard.version)
                environment = getattr(
                    engine, "engine", None
                )  # Jinja: also the {{ vite_version }} global
                if environment is not None and hasattr(environment, "globals"):
                    environment.globals["vite_version"] = CurrentVersion(guard)

            template_config.engine_callback = register
        return app_config

    def _agree_with_vite(self, plugins: Any) -> None:
        """litestar-vite's Inertia plugin takes its version (page objects, its own 409) from its
        asset loader's ``version_id``. Make that skewguard's version: one source of truth, and
        skewguard's decision (holds, rolling deploys, policies) the only 409 rule applied."""
        guard = self.guard
        for plugin in plugins:
            if type(plugin).__name__ != "VitePlugin" or not hasattr(plugin, "asset_loader"):
                continue
            loader = plugin.asset_loader
            base = type(loader)
            if getattr(base, "_skewguard_version", False):
                continue
            guard.add_reload_listener(_vite_listener(plugin, base))
            loader.__class__ = type(
                base.__name__,
                (base,),
                {
                    "__slots__": (),  # the loader uses __slots__: same layout, or __class__ cannot change
                    "_skewguard_version": True,
                    "version_id": property(lambda self: guard.version),
                },
            )

    def _handlers(self) -> list[Any]:
        guard = self.guard

        def answer(respond: Respond) -> Response[bytes]:
            return Response(
                content=respond.body, status_code=respond.status, headers=dict(respond.headers)
            )

        @get(
            guard.settings.VERSION_PATH,
            name="skewguard_version",
            include_in_schema=False,
            sync_to_thread=False,
        )
        def version(request: Request[Any, Any, Any]) -> Response[bytes]:
            guard.note_beat(scope_of(request).get("query_string", b"").decode("latin-1"))
            return answer(
                version_endpoint(
                    facts_from_scope(scope_of(request)), guard.snapshot, guard.settings
                )
            )

        @post(guard.settings.BUST_PATH, name="skewguard_bust", include_in_schema=False)
        async def bust(request: Request[Any, Any, Any]) -> Response[bytes]:
            refusal = authorize_bust(facts_from_scope(scope_of(request)), guard.settings)
            if refusal is None:
                refusal = await asyncio.get_running_loop().run_in_executor(None, guard.bust)
            return answer(refusal)

        return [version, bust]

    def on_cli_init(self, cli: Any) -> None:
        from ..cli import framework_commands

        cli.add_command(framework_commands(self.guard))


def _route_root_files(guard: Skewguard, app: Any) -> None:
    """Root files (ROOT_FILES_DIR: robots.txt, .well-known/...) at their own paths, as the
    directory holds them when the app starts: Litestar answers an unrouted path itself, before any
    middleware. Registered once the app's own routes are known, because a path the app routes
    itself stays the app's (two handlers for one path would stop the app from starting).
    Litestar's path syntax takes braces as parameters: a name with one is left out."""
    root_files = guard.current().root_files
    if root_files is None:
        return
    taken = {route.path for route in app.routes}
    for name in sorted(root_files.entries):
        path = "/" + name
        if "{" in name or "}" in name or path in taken or path in guard.endpoints:
            continue
        app.register(_endpoint_route(guard, path))


OWN_ROUTE = "skewguard_own"  # the opt key of the routes whose answers are skewguard's own


def _middleware(guard: Skewguard, app: Any) -> Any:
    """skewguard's middleware for the app's routes. Litestar runs route middleware after it
    routed, with a mount's path already cut to the rest ("/app.css" under STATIC_URL): the
    routes skewguard answers itself (files, endpoints) are passed straight through, or their
    files would look like the app's pages (an HTML file would get the client injected)."""
    wrapped: Any = guard.asgi(app, endpoints=False)  # plain ASGI, not Litestar's types

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        handler = scope.get("route_handler")
        if handler is not None and (getattr(handler, "opt", None) or {}).get(OWN_ROUTE):
            await app(scope, receive, send)
        else:
            await wrapped(scope, receive, send)

    return middleware


async def _not_found(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 404, "headers": ()})
    await send({"type": "http.response.body", "body": b"Not Found", "more_body": False})


def _endpoint_route(guard: Skewguard, path: str) -> Any:
    """A route at one of the guard's endpoints (or root files); skewguard answers it, whatever
    the method (the endpoint or the file refuses the ones it does not take)."""
    answer: Any = guard.asgi(_not_found, endpoints=False)  # plain ASGI, not Litestar's types

    @asgi(path, name=f"skewguard_endpoint:{path}", copy_scope=True, opt={OWN_ROUTE: True})
    async def endpoint(scope: Scope, receive: Receive, send: Send) -> None:
        await answer(scope, receive, send)

    return endpoint


def _static_route(guard: Skewguard, mount: str) -> Any:
    """A mount whose requests skewguard's middleware answers under their full path."""
    answer: Any = guard.asgi(_not_found, endpoints=False)  # plain ASGI, not Litestar's types

    @asgi(mount, is_mount=True, name="skewguard_static", copy_scope=True, opt={OWN_ROUTE: True})
    async def static(scope: Scope, receive: Receive, send: Send) -> None:
        # Litestar's mounts pass the rest of the path with a trailing "/" added: the one it
        # added goes, one the URL had stays (``app.css/`` names no file, as in every adapter).
        rest = scope["path"]
        if not scope.get("raw_path", b"").partition(b"?")[0].endswith(b"/"):
            rest = rest.removesuffix("/")
        await answer({**scope, "path": mount + rest}, receive, send)

    return static


def _vite_listener(plugin: Any, loader_class: type) -> Callable[[Any], Callable[[], None]]:
    return lambda snapshot: _reload_vite(plugin, loader_class)


def _vite_plugins(app_config: Any) -> list[Any]:
    return [p for p in app_config.plugins if type(p).__name__ == "VitePlugin"]


def _take_static_from_vite(app_config: Any, static_url: str) -> None:
    """One owner of STATIC_URL: litestar-vite's static route (a path parameter under skewguard's
    mount, which Litestar refuses) is dropped, whichever plugin was initialised first."""
    for plugin in _vite_plugins(app_config):
        config = getattr(plugin, "_config", None)
        runtime = getattr(config, "runtime", None)
        asset_url = str(getattr(config, "asset_url", "") or "")
        if runtime is None or asset_url.rstrip("/") + "/" != static_url:
            continue
        runtime.set_static_folders = False  # litestar-vite not initialised yet: it adds none
    app_config.route_handlers[:] = [
        handler for handler in app_config.route_handlers if not _is_vite_static(handler)
    ]


def _is_vite_static(handler: Any) -> bool:
    routes = getattr(handler, "routes", None)
    if getattr(handler, "path", None) is None or not routes:
        return False
    return any(
        (getattr(h, "opt", None) or {}).get("_vite_static_handler")
        for route in routes
        for h in getattr(route, "route_handlers", ())
    )


def _reload_vite(plugin: Any, loader_class: type) -> Callable[[], None]:
    """A reload listener: litestar-vite's asset loader reads its (new) Vite manifest."""
    loader = plugin.asset_loader
    if getattr(plugin, "_spa_handler", None) is not None:
        raise RestartNeeded("litestar-vite's SPA handler keeps its HTML until a restart")
    try:
        fresh = loader_class(loader._config)
        fresh.parse_manifest()
        manifest, content = fresh._manifest, fresh._manifest_content
    except Exception as exc:  # noqa: BLE001 - litestar-vite's error: the loader keeps the old one
        raise RestartNeeded(f"litestar-vite cannot re-read its Vite manifest: {exc}") from exc

    def switch() -> None:
        loader._manifest, loader._manifest_content = manifest, content

    return switch

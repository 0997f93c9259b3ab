"""Litestar plugin.

    from skewguard.contrib.litestar import SkewguardPlugin
    app = Litestar(route_handlers=[...], template_config=..., plugins=[SkewguardPlugin(static_root="dist", secret_key=...)])

Registers the middleware (pure ASGI), ``/version`` and ``/cache/bust`` as route handlers, the
template callables ``static``, ``static_url``, ``app_version`` (and ``vite_version`` as a global)
on the app's template engine, and ``litestar skewguard build|prune|token|version``.
"""

from __future__ import annotations

import asyncio
from typing import Any

from litestar import Request, Response, asgi, get, post
from litestar.plugins import CLIPluginProtocol, InitPluginProtocol
from litestar.types import Receive, Scope, Send

from ..guard import Skewguard
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
        app_config.middleware.insert(0, lambda app: guard.asgi(app, endpoints=False))
        app_config.on_startup.append(lambda app: self._agree_with_vite(app_config.plugins))
        if guard.settings.VERSION_ENDPOINT:
            app_config.route_handlers.extend(self._handlers())
        if guard.settings.SERVE_STATIC and guard.settings.STATIC_ROOT:
            # Litestar runs app middleware only for matched routes: static files need a route of
            # their own (without STATIC_ROOT, e.g. with litestar-vite serving /static/, none is added).
            static_app = guard.asgi_static()

            @asgi(
                guard.settings.STATIC_URL.rstrip("/"),
                is_mount=True,
                name="skewguard_static",
                copy_scope=True,
            )
            async def static(scope: Scope, receive: Receive, send: Send) -> None:
                # Litestar's mounts pass the rest of the path with a trailing "/" added: files have none.
                rest: Any = {**scope, "path": scope["path"].rstrip("/")}
                await static_app(rest, receive, send)  # type: ignore[arg-type]

            app_config.route_handlers.append(static)
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

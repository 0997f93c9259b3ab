"""Starlette and FastAPI integration, in the framework's own shapes.

    from skewguard import Skewguard
    from skewguard.contrib.starlette import SkewguardMiddleware, install_templates, routes, static_mount

    sg = Skewguard(static_root="dist", secret_key=...)
    app = Starlette(routes=[..., *routes(sg), static_mount(sg)],
                    middleware=[Middleware(SkewguardMiddleware, guard=sg)])   # FastAPI: app.add_middleware(...)
    install_templates(templates, sg)   # Jinja2Templates: {{ static('css/app.css') }}, {{ app_version() }}

``SkewguardMiddleware`` is pure ASGI (no BaseHTTPMiddleware: streamed bodies stay streamed).
With ``routes(sg)`` in the app, pass ``endpoints=False`` so the routes (and ``url_for``) answer.
"""

from __future__ import annotations

from typing import Any

from ..guard import Skewguard
from ..protocol import Respond, authorize_bust, version_endpoint
from ..types import ASGIApp
from ..web.asgi import ASGIMiddleware, facts_from_scope
from .jinja import install


class SkewguardMiddleware(ASGIMiddleware):
    """For ``Middleware(SkewguardMiddleware, guard=sg)`` and ``app.add_middleware(...)``."""

    def __init__(self, app: ASGIApp, guard: Skewguard, endpoints: bool = True):
        super().__init__(app, guard, endpoints=endpoints)


def routes(guard: Skewguard) -> list[Any]:
    """``/version`` and ``/cache/bust`` as Starlette routes (named ``skewguard_version``/``skewguard_bust``)."""
    import asyncio

    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    def answer(respond: Respond) -> Response:
        return Response(respond.body, status_code=respond.status, headers=dict(respond.headers))

    async def version(request: Request) -> Response:
        guard.note_beat(request.scope.get("query_string", b"").decode("latin-1"))
        return answer(
            version_endpoint(facts_from_scope(request.scope), guard.snapshot, guard.settings)
        )

    async def bust(request: Request) -> Response:
        refusal = authorize_bust(facts_from_scope(request.scope), guard.settings)
        if refusal is None:
            refusal = await asyncio.get_running_loop().run_in_executor(None, guard.bust)
        return answer(refusal)

    methods = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]
    return [
        Route(guard.settings.VERSION_PATH, version, methods=methods, name="skewguard_version"),
        Route(guard.settings.BUST_PATH, bust, methods=methods, name="skewguard_bust"),
    ]


def static_mount(guard: Skewguard, name: str = "static") -> Any:
    """The build directory as ``Mount(STATIC_URL, ...)``; ``url_for("static", path=...)`` works."""
    from starlette.routing import Mount

    return Mount(guard.settings.STATIC_URL.rstrip("/"), app=guard.asgi_static(), name=name)


def install_templates(templates: Any, guard: Skewguard) -> None:
    """Add ``static``, ``static_url``, ``app_version`` and ``vite_version`` to a Jinja2Templates."""
    install(templates.env, guard)

"""The demo app: Starlette, Jinja2 templates, htmx, and skewguard around it all."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route
from starlette.templating import Jinja2Templates

from .. import Skewguard
from ..build import BuildOptions, build
from ..contrib.jinja import install
from .releases import write_release

POLICIES = ("reload", "defer", "prompt", "warn")
TEMPLATES = Path(__file__).parent / "templates"


class Demo:
    """A work directory with the demo's sources and build, and the app serving it."""

    def __init__(self, workdir: Path, poll_seconds: float = 3.0):
        self.src = workdir / "src"
        self.out = workdir / "dist"
        self.release = 0
        self.lock = threading.Lock()
        write_release(self.src, self.release)
        self._build()
        self.guard = Skewguard(
            static_root=str(self.out),
            secret_key="demo-only-secret",
            vite_hot_file="",
            client_poll_interval=poll_seconds,
            client_options=self._client_options,
        )
        templates = Jinja2Templates(directory=str(TEMPLATES))
        install(templates.env, self.guard)
        self.templates = templates
        self.app = self.guard.asgi(
            Starlette(
                routes=[
                    Route("/", self.home),
                    Route("/about", self.about),
                    Route("/demo/deploy", self.deploy, methods=["POST"]),
                    Route("/demo/time", self.time),
                ]
            )
        )

    def _build(self) -> None:
        build([str(self.src)], str(self.out), BuildOptions(brotli_quality=5))

    @staticmethod
    def _policy(request_or_scope: Any) -> str:
        from urllib.parse import parse_qs

        query = request_or_scope.get("query_string", b"").decode()
        policy = parse_qs(query).get("policy", ["reload"])[0]
        return policy if policy in POLICIES else "reload"

    def _client_options(self, scope: Any) -> dict[str, Any]:
        return {"policy": self._policy(scope)}

    def _page(self, request: Request, template: str, title: str) -> HTMLResponse:
        context = {"title": title, "policy": self._policy(request.scope), "policies": POLICIES}
        return self.templates.TemplateResponse(request, template, context)

    async def home(self, request: Request) -> HTMLResponse:
        return self._page(request, "home.html", "home")

    async def about(self, request: Request) -> HTMLResponse:
        return self._page(request, "about.html", "about")

    async def time(self, request: Request) -> HTMLResponse:
        return HTMLResponse(f"{time.strftime('%H:%M:%S')} from release {self.guard.version}")

    async def deploy(self, request: Request) -> HTMLResponse:
        import asyncio

        previous = self.guard.version
        version = await asyncio.get_running_loop().run_in_executor(None, self.deploy_now)
        return HTMLResponse(
            f"Deployed release {self.release}: {previous} → <strong>{version}</strong>"
        )

    def deploy_now(self) -> str:
        """A new release: new sources, a build, and a bust."""
        with self.lock:
            self.release += 1
            write_release(self.src, self.release)
            self._build()
            self.guard.bust()  # as POST /cache/bust: the registry makes it the active release
            return self.guard.version

"""Small real apps (Starlette for ASGI, Flask for WSGI, Django's handler with its middleware)
wrapped by skewguard, and a uniform client."""

from __future__ import annotations

from dataclasses import dataclass

from skewguard import Skewguard


@dataclass
class Reply:
    status: int
    headers: dict[str, str]  # lower-case names
    body: bytes


KINDS = ("asgi", "wsgi", "django")


class Harness:
    """Same calls for the three adapters; ``app_calls`` counts requests that reached the app."""

    def __init__(self, kind: str, guard: Skewguard):
        self.kind = kind
        self.guard = guard
        self._app_calls = 0
        self.django = None
        if kind == "django":
            from ..parity.harness import Adapter

            self.django = Adapter("django", guard)
        elif kind == "asgi":
            from starlette.testclient import TestClient

            self.client = TestClient(guard.asgi(self._starlette()), raise_server_exceptions=True)
        else:
            self.client = self._flask(guard).test_client()

    @property
    def app_calls(self) -> int:
        return self.django.app_calls if self.django is not None else self._app_calls

    @app_calls.setter
    def app_calls(self, value: int) -> None:
        if self.django is not None:
            self.django.app_calls = value
        else:
            self._app_calls = value

    def request(
        self, method: str, path: str, headers: dict[str, str] | None = None, body: bytes = b""
    ) -> Reply:
        if self.django is not None:
            from urllib.parse import quote

            r = self.django.request(method, quote(path, safe="/%?=&:@!$'()*+,;~"), headers, body)
            return Reply(r.status, r.headers, r.body)
        if self.kind == "asgi":
            # Raw bytes: httpx would otherwise undo Content-Encoding.
            # httpx sends "Accept-Encoding: gzip, deflate, br, zstd" unless told otherwise; the WSGI
            # test client sends none: make both alike. Header values go as latin-1 bytes, as on the wire.
            raw_headers = {"Accept-Encoding": "identity", **(headers or {})}
            raw_headers = {k: v.encode("latin-1") for k, v in raw_headers.items()}
            with self.client.stream(
                method, path, headers=raw_headers, content=body, follow_redirects=False
            ) as r:
                raw = b"".join(r.iter_raw())
            return Reply(r.status_code, {k.lower(): v for k, v in r.headers.items()}, raw)
        r = self.client.open(path, method=method, headers=headers or {}, data=body)
        return Reply(r.status_code, {k.lower(): v for k, v in r.headers.items()}, r.get_data())

    def _starlette(self):
        from starlette.applications import Starlette
        from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse
        from starlette.routing import Route

        async def page(request):
            self.app_calls += 1
            return HTMLResponse("<html><head></head><body>page</body></html>")

        async def inertia(request):
            self.app_calls += 1
            return JSONResponse(
                {"component": "Dashboard", "version": self.guard.version},
                headers={"X-Inertia": "true"},
            )

        async def form(request):
            self.app_calls += 1
            return RedirectResponse("/inertia", status_code=303)

        return Starlette(
            routes=[
                Route("/", page),
                Route("/inertia", inertia),
                Route("/form", form, methods=["POST"]),
            ]
        )

    def _flask(self, guard):
        from flask import Flask, jsonify, redirect

        app = Flask("wsgi-test")

        @app.get("/")
        def page():
            self.app_calls += 1
            return "<html><head></head><body>page</body></html>"

        @app.get("/inertia")
        def inertia():
            self.app_calls += 1
            response = jsonify({"component": "Dashboard", "version": guard.version})
            response.headers["X-Inertia"] = "true"
            return response

        @app.post("/form")
        def form():
            self.app_calls += 1
            return redirect("/inertia", code=303)

        app.wsgi_app = guard.wsgi(app.wsgi_app)
        return app

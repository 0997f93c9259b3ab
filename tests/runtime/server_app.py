"""Apps for tests that need a real server process. Configured by environment variables:
SKEWGUARD_* (read by skewguard itself) and TEST_APP_KIND ("asgi" or "wsgi")."""

from __future__ import annotations

import asyncio
import os
import time

from skewguard import Skewguard

guard = Skewguard()


async def _starlette_stream():
    yield b"first chunk\n"
    await asyncio.sleep(1.5)
    yield b"second chunk\n"


def make_asgi():
    from starlette.applications import Starlette
    from starlette.responses import HTMLResponse, StreamingResponse
    from starlette.routing import Route

    async def page(request):
        return HTMLResponse("<html><head></head><body>hello</body></html>")

    async def stream(request):
        return StreamingResponse(_starlette_stream(), media_type="text/plain")

    return guard.asgi(Starlette(routes=[Route("/", page), Route("/stream", stream)]))


def make_wsgi():
    from flask import Flask, Response

    app = Flask("server-app")

    @app.get("/")
    def page():
        return "<html><head></head><body>hello</body></html>"

    @app.get("/stream")
    def stream():
        def generate():
            yield b"first chunk\n"
            time.sleep(1.5)
            yield b"second chunk\n"

        return Response(generate(), mimetype="text/plain")

    app.wsgi_app = guard.wsgi(app.wsgi_app)
    return app


app = make_asgi() if os.environ.get("TEST_APP_KIND", "asgi") == "asgi" else make_wsgi()

"""VersionRouter in front of a tiny app, for the agreement tests: ROUTER_MAP (JSON) and
ROUTER_DEFAULT configure it, TEST_APP_KIND picks ASGI (uvicorn) or WSGI (gunicorn)."""

from __future__ import annotations

import json
import os

from skewguard.routing import VersionRouter

router = VersionRouter(json.loads(os.environ["ROUTER_MAP"]), os.environ["ROUTER_DEFAULT"])


async def asgi_ok(scope, receive, send):
    if scope["type"] != "http":
        return
    await send(
        {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]}
    )
    await send({"type": "http.response.body", "body": b"ok"})


def wsgi_ok(environ, start_response):
    start_response("200 OK", [("Content-Length", "2")])
    return [b"ok"]


app = router.asgi(asgi_ok) if os.environ.get("TEST_APP_KIND") == "asgi" else router.wsgi(wsgi_ok)

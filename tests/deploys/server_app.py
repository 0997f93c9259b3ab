"""The app the deploy tests run under real servers, configured only by SKEWGUARD_* variables
(what a user sets) and TEST_APP_KIND ("asgi" for uvicorn, "wsgi" for gunicorn).

``/pid`` names the worker process that answered, so a test can tell workers apart; pages link
the current release's stylesheet, as a template would."""

from __future__ import annotations

import os

from skewguard import Skewguard

guard = Skewguard()


def page() -> str:
    return f'<html><head><link rel="stylesheet" href="{guard.static("css/app.css")}"></head></html>'


def make_asgi():
    from starlette.applications import Starlette
    from starlette.responses import HTMLResponse, PlainTextResponse
    from starlette.routing import Route

    async def home(request):
        return HTMLResponse(page())

    async def pid(request):
        return PlainTextResponse(str(os.getpid()))

    return guard.asgi(Starlette(routes=[Route("/", home), Route("/pid", pid)]))


def make_wsgi():
    from flask import Flask, Response

    app = Flask("deploy-app")
    app.add_url_rule("/", "home", page)
    app.add_url_rule("/pid", "pid", lambda: Response(str(os.getpid()), mimetype="text/plain"))
    app.wsgi_app = guard.wsgi(app.wsgi_app)  # type: ignore[method-assign]
    return app


app = make_asgi() if os.environ.get("TEST_APP_KIND", "asgi") == "asgi" else make_wsgi()

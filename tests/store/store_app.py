"""Apps served by real servers in the store tests; every kind skewguard serves files through.

TEST_APP_KIND: "asgi" (sg.asgi, uvicorn), "asgi-static" (sg.asgi_static mounted in Starlette),
"wsgi" (sg.wsgi around Flask), "wsgi-static" (sg.wsgi_static under /static/), "django" (the
Django middleware). skewguard itself reads SKEWGUARD_* (STATIC_ROOT, STORE, ...).
"""

from __future__ import annotations

import os

KIND = os.environ.get("TEST_APP_KIND", "asgi")
PAGE = (
    "<!doctype html><html><head><meta charset='utf-8'><title>store</title></head><body>"
    "<p>release <span id='release'>{version}</span></p>"
    "<button id='load' type='button'>Load chunk</button><pre id='out'></pre>"
    "<video id='clip' muted playsinline width='160' height='120'></video>"
    "<script type='module' src='{app}'></script></body></html>"
)


def _page(guard) -> bytes:
    return PAGE.format(version=guard.version, app=guard.static("js/app.js")).encode()


def _make():
    if KIND in ("asgi", "asgi-static"):
        from starlette.applications import Starlette
        from starlette.responses import HTMLResponse
        from starlette.routing import Mount, Route

        from skewguard import Skewguard

        guard = Skewguard()

        async def page(request):
            return HTMLResponse(_page(guard))

        routes = [Route("/", page)]
        if KIND == "asgi":
            return guard.asgi(Starlette(routes=routes))
        # The static app alone, mounted by the framework: no middleware in front of it.
        return Starlette(routes=[*routes, Mount("/static", app=guard.asgi_static())])
    if KIND in ("wsgi", "wsgi-static"):
        from flask import Flask

        from skewguard import Skewguard

        guard = Skewguard()
        flask_app = Flask("store-app")
        flask_app.get("/")(lambda: _page(guard).decode())
        if KIND == "wsgi":
            return guard.wsgi(flask_app.wsgi_app)
        wrapped = flask_app.wsgi_app  # the static app alone serves /static/
        static = guard.wsgi_static()

        def dispatch(environ, start_response):
            path = environ.get("PATH_INFO", "")
            if path.startswith("/static/"):
                environ = {**environ, "PATH_INFO": path[len("/static") :]}
                return static(environ, start_response)
            return wrapped(environ, start_response)

        return dispatch
    if KIND == "django":
        import django
        from django.conf import settings
        from django.http import HttpResponse
        from django.urls import path

        def page(request):
            from skewguard.contrib.django.conf import get_guard

            return HttpResponse(_page(get_guard()))

        settings.configure(
            DEBUG=False,
            SECRET_KEY="store-test",
            ALLOWED_HOSTS=["*"],
            ROOT_URLCONF=__name__,
            INSTALLED_APPS=["django.contrib.staticfiles", "skewguard.contrib.django"],
            MIDDLEWARE=["skewguard.contrib.django.middleware.SkewguardMiddleware"],
            STATIC_URL="/static/",
            STATIC_ROOT=os.environ["SKEWGUARD_STATIC_ROOT"],
            SKEWGUARD={"VITE_HOT_FILE": ""},
        )
        global urlpatterns
        urlpatterns = [path("", page)]
        django.setup()
        from django.core.wsgi import get_wsgi_application

        return get_wsgi_application()
    raise RuntimeError(f"unknown TEST_APP_KIND {KIND!r}")


urlpatterns: list = []
app = _make()

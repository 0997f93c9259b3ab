"""The app the hostile-HTTP tests attack under real servers, one per adapter (TEST_APP_KIND):

- "asgi": Starlette wrapped by ``guard.asgi`` (uvicorn, httptools or h11);
- "wsgi": Flask wrapped by ``guard.wsgi`` (gunicorn sync worker, wsgiref);
- "flask": the Flask extension (gunicorn);
- "django": a Django project with skewguard's middleware (WSGI under gunicorn, ASGI under uvicorn);
- "litestar": the Litestar plugin (uvicorn).

Each has the same routes: ``/`` (a document), ``/nohead`` (HTML without </head> or </body>),
``/gzip`` (gzip-encoded HTML), ``/notmodified`` (a 304 that says text/html), ``/drip`` (HTML
streamed in 1-byte chunks), ``/big`` (a 2 MB text body, for clients that leave mid-response) and
``/echo`` (POST: the length of the body read). SKEWGUARD_* from the environment configure
skewguard (STATIC_ROOT, ROOT_FILES_DIR, METRICS_PATH, STATUS_PATH...).
"""

# No `from __future__ import annotations`: Litestar reads the handlers' annotations at run time.
import gzip
import os

DOCUMENT = b"<!doctype html><html><head><title>t</title></head><body>page</body></html>"
NO_HEAD = b"<p>no head, no body tags</p>"
GZIPPED = gzip.compress(DOCUMENT, mtime=0)  # the same bytes in the server and the test
DRIP = b"<html><head></head><body>drip</body></html>"
BIG = b"x" * (2 << 20)
KIND = os.environ.get("TEST_APP_KIND", "asgi")


def make_asgi():  # type: ignore[no-untyped-def]
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import PlainTextResponse, Response, StreamingResponse
    from starlette.routing import Route

    from skewguard import Skewguard

    async def drip():  # type: ignore[no-untyped-def]
        for i in range(len(DRIP)):
            yield DRIP[i : i + 1]

    async def echo(request: Request) -> Response:
        return PlainTextResponse(str(len(await request.body())))

    html = "text/html; charset=utf-8"
    routes = [
        Route("/", lambda r: Response(DOCUMENT, media_type=html)),
        Route("/nohead", lambda r: Response(NO_HEAD, media_type=html)),
        Route(
            "/gzip",
            lambda r: Response(GZIPPED, media_type=html, headers={"Content-Encoding": "gzip"}),
        ),
        Route("/notmodified", lambda r: Response(status_code=304, media_type=html)),
        Route("/drip", lambda r: StreamingResponse(drip(), media_type=html)),
        Route("/big", lambda r: Response(BIG, media_type="text/plain")),
        Route("/echo", echo, methods=["POST"]),
    ]
    return Skewguard().asgi(Starlette(routes=routes))


def _flask_routes(app):  # type: ignore[no-untyped-def]
    from flask import Response, request

    html = "text/html; charset=utf-8"
    app.add_url_rule("/", "home", lambda: Response(DOCUMENT, content_type=html))
    app.add_url_rule("/nohead", "nohead", lambda: Response(NO_HEAD, content_type=html))
    app.add_url_rule(
        "/gzip",
        "gzip",
        lambda: Response(GZIPPED, content_type=html, headers={"Content-Encoding": "gzip"}),
    )
    app.add_url_rule("/notmodified", "nm", lambda: Response(status=304, content_type=html))
    app.add_url_rule(
        "/drip",
        "drip",
        lambda: Response((DRIP[i : i + 1] for i in range(len(DRIP))), content_type=html),
    )
    app.add_url_rule("/big", "big", lambda: Response(BIG, mimetype="text/plain"))
    app.add_url_rule("/echo", "echo", lambda: str(len(request.get_data())), methods=["POST"])
    return app


def make_wsgi():  # type: ignore[no-untyped-def]
    from flask import Flask

    from skewguard import Skewguard

    app = _flask_routes(Flask("hostile-wsgi", static_folder=None))
    app.wsgi_app = Skewguard().wsgi(app.wsgi_app)
    return app


def make_flask():  # type: ignore[no-untyped-def]
    from flask import Flask

    from skewguard.contrib.flask import Skewguard

    app = Flask("hostile-flask", static_folder=None)
    app.config.update(SECRET_KEY=os.environ["SKEWGUARD_SECRET_KEY"])
    Skewguard(app)
    return _flask_routes(app)


# -- Django -----------------------------------------------------------------------------------------


def _django_views():  # type: ignore[no-untyped-def]
    from django.http import HttpResponse, StreamingHttpResponse
    from django.urls import path

    html = "text/html; charset=utf-8"

    def gzipped(request):  # type: ignore[no-untyped-def]
        response = HttpResponse(GZIPPED, content_type=html)
        response["Content-Encoding"] = "gzip"
        return response

    return [
        path("", lambda r: HttpResponse(DOCUMENT, content_type=html)),
        path("nohead", lambda r: HttpResponse(NO_HEAD, content_type=html)),
        path("gzip", gzipped),
        path("notmodified", lambda r: HttpResponse(status=304, content_type=html)),
        path(
            "drip",
            lambda r: StreamingHttpResponse(
                (DRIP[i : i + 1] for i in range(len(DRIP))), content_type=html
            ),
        ),
        path("big", lambda r: HttpResponse(BIG, content_type="text/plain")),
        path("echo", lambda r: HttpResponse(str(len(r.body)))),
    ]


urlpatterns: list[object] = []


def make_django():  # type: ignore[no-untyped-def]
    import django
    from django.conf import settings

    settings.configure(
        SECRET_KEY=os.environ["SKEWGUARD_SECRET_KEY"],
        DEBUG=False,
        ALLOWED_HOSTS=["*"],
        ROOT_URLCONF=__name__,
        INSTALLED_APPS=["django.contrib.staticfiles", "skewguard.contrib.django"],
        MIDDLEWARE=["skewguard.contrib.django.middleware.SkewguardMiddleware"],
        STATIC_URL="/static/",
        STATIC_ROOT=os.environ["SKEWGUARD_STATIC_ROOT"],
        DATABASES={},
        USE_TZ=True,
        LOGGING_CONFIG=None,
    )
    django.setup()
    urlpatterns[:] = _django_views()
    if os.environ.get("TEST_DJANGO_ASGI") == "1":
        from django.core.asgi import get_asgi_application

        return get_asgi_application()
    from django.core.wsgi import get_wsgi_application

    return get_wsgi_application()


def make_litestar():  # type: ignore[no-untyped-def]
    from litestar import Litestar, MediaType, Request, Response, get, post
    from litestar.response import Stream

    from skewguard.contrib.litestar import SkewguardPlugin

    html = MediaType.HTML

    @get("/", sync_to_thread=False)
    def home() -> Response[bytes]:
        return Response(DOCUMENT, media_type=html)

    @get("/nohead", sync_to_thread=False)
    def nohead() -> Response[bytes]:
        return Response(NO_HEAD, media_type=html)

    @get("/gzip", sync_to_thread=False)
    def gzipped() -> Response[bytes]:
        return Response(GZIPPED, media_type=html, headers={"Content-Encoding": "gzip"})

    @get("/notmodified", sync_to_thread=False)
    def not_modified() -> Response[bytes]:
        return Response(b"", status_code=304, media_type=html)

    @get("/drip", sync_to_thread=False)
    def drip() -> Stream:
        return Stream((DRIP[i : i + 1] for i in range(len(DRIP))), media_type=html)

    @get("/big", sync_to_thread=False)
    def big() -> Response[bytes]:
        return Response(BIG, media_type=MediaType.TEXT)

    @post("/echo", status_code=200)
    async def echo(request: Request) -> str:  # type: ignore[type-arg]
        return str(len(await request.body()))

    return Litestar(
        route_handlers=[home, nohead, gzipped, not_modified, drip, big, echo],
        plugins=[SkewguardPlugin()],
    )


_FACTORIES = {
    "asgi": make_asgi,
    "wsgi": make_wsgi,
    "flask": make_flask,
    "django": make_django,
    "litestar": make_litestar,
}


def __getattr__(name: str):  # type: ignore[no-untyped-def]
    """``app`` is made when a server asks for it, not when the tests import the constants."""
    if name != "app":
        raise AttributeError(name)
    app = globals()["app"] = _FACTORIES[KIND]()
    return app

"""One in-process client for the three adapters: ASGI middleware (a real Starlette app), WSGI
middleware (a real Flask app) and Django's middleware (a real Django WSGI handler).

Each request goes in as the server would hand it over: an ASGI scope with ``raw_path`` and the
pathsend extension; a PEP 3333 environ with latin-1 ``PATH_INFO``, ``SCRIPT_NAME`` and a
``wsgi.file_wrapper`` that, like wsgiref's, gunicorn's and uWSGI's, sends the file from where it
stands to its end. ``Reply.zero_copy`` says when a file went through pathsend or file_wrapper.
"""

from __future__ import annotations

import asyncio
import io
import sys
import threading
from collections.abc import Coroutine, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import unquote, unquote_to_bytes

from skewguard import Skewguard

ADAPTERS = ("asgi", "wsgi", "django")
PAGE = "<html><head><title>t</title></head><body>page</body></html>"
T = TypeVar("T")


def run_coroutine(coroutine: Coroutine[Any, Any, T]) -> T:
    """asyncio.run, also when this thread already runs an event loop: Playwright's sync API,
    used by the browser tests' session-wide Chromium, keeps one running in the main thread."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    outcome: list[T] = []
    failure: list[BaseException] = []

    def run() -> None:
        try:
            outcome.append(asyncio.run(coroutine))
        except BaseException as error:  # handed back to the calling thread
            failure.append(error)

    worker = threading.Thread(target=run)
    worker.start()
    worker.join()
    if failure:
        raise failure[0]
    return outcome[0]


@dataclass
class Reply:
    status: int
    header_list: list[tuple[str, str]]
    body: bytes
    zero_copy: bool = False
    headers: dict[str, str] = field(init=False)

    def __post_init__(self) -> None:
        self.headers = {k.lower(): v for k, v in self.header_list}

    def count(self, name: str) -> int:
        return sum(1 for k, _ in self.header_list if k.lower() == name.lower())


class FileWrapper:
    """wsgi.file_wrapper as servers implement it: the rest of the file, from its position."""

    used = False

    def __init__(self, filelike: Any, block_size: int = 8192):
        FileWrapper.used = True
        self.filelike = filelike
        self.block_size = block_size

    def __iter__(self) -> Any:
        while True:
            data = self.filelike.read(self.block_size)
            if not data:
                return
            yield data

    def close(self) -> None:
        self.filelike.close()


class Adapter:
    def __init__(self, kind: str, guard: Skewguard, script_name: str = ""):
        self.kind = kind
        self.guard = guard
        self.script_name = script_name
        self.app_calls = 0
        if kind == "asgi":
            self.app: Any = guard.asgi(self._starlette())
        elif kind == "wsgi":
            self.app = guard.wsgi(self._flask().wsgi_app)
        else:
            self.django_settings, self.app = django_handler(guard, self)

    def request(
        self, method: str, target: str, headers: dict[str, str] | None = None, body: bytes = b""
    ) -> Reply:
        """``target``: the request target as sent (percent-encoded path and query)."""
        path, _, query = target.partition("?")
        headers = dict(headers or {})
        if self.kind == "asgi":
            return run_coroutine(self._asgi(method, path, query, headers, body))
        if self.kind == "django":
            with self.django_settings:
                return self._wsgi(method, path, query, headers, body)
        return self._wsgi(method, path, query, headers, body)

    async def _asgi(
        self, method: str, path: str, query: str, headers: dict[str, str], body: bytes
    ) -> Reply:
        full = self.script_name + path
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": unquote(full),
            "raw_path": full.encode("latin-1"),
            "root_path": self.script_name,
            "query_string": query.encode("latin-1"),
            "headers": [(k.lower().encode(), v.encode("latin-1")) for k, v in headers.items()],
            "server": ("127.0.0.1", 80),
            "client": ("127.0.0.1", 5000),
            "extensions": {"http.response.pathsend": {}},
            "state": {},
        }
        sent = [False]

        async def receive() -> dict[str, Any]:
            if sent[0]:
                await asyncio.sleep(3600)
            sent[0] = True
            return {"type": "http.request", "body": body, "more_body": False}

        start: dict[str, Any] = {}
        chunks: list[bytes] = []
        zero_copy = False

        async def send(message: dict[str, Any]) -> None:
            nonlocal zero_copy
            if message["type"] == "http.response.start":
                start.update(message)
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
            elif message["type"] == "http.response.pathsend":
                zero_copy = True
                with open(message["path"], "rb") as fh:
                    chunks.append(fh.read())

        await self.app(scope, receive, send)
        header_list = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in start["headers"]]
        data = b"" if method == "HEAD" else b"".join(chunks)
        return Reply(start["status"], header_list, data, zero_copy)

    def _wsgi(
        self, method: str, path: str, query: str, headers: dict[str, str], body: bytes
    ) -> Reply:
        environ: dict[str, Any] = {
            "REQUEST_METHOD": method,
            "SCRIPT_NAME": self.script_name,
            "PATH_INFO": unquote_to_bytes(path).decode("latin-1"),  # PEP 3333
            "QUERY_STRING": query,
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "80",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "REMOTE_ADDR": "127.0.0.1",
            "CONTENT_LENGTH": str(len(body)),
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(body),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
            "wsgi.file_wrapper": FileWrapper,
        }
        for name, value in headers.items():
            key = name.upper().replace("-", "_")
            if key not in ("CONTENT_TYPE", "CONTENT_LENGTH"):
                key = "HTTP_" + key
            environ[key] = value
        start: list[Any] = []

        def start_response(
            status: str, header_list: list[tuple[str, str]], exc_info: Any = None
        ) -> Any:
            start[:] = [status, header_list]
            return lambda data: None

        FileWrapper.used = False
        result: Iterable[bytes] = self.app(environ, start_response)
        try:
            data = b"".join(result)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        status = int(start[0].split(" ", 1)[0])
        return Reply(status, list(start[1]), b"" if method == "HEAD" else data, FileWrapper.used)

    # -- the applications ------------------------------------------------------------------------

    def _starlette(self) -> Any:
        from starlette.applications import Starlette
        from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse
        from starlette.routing import Route

        async def page(request: Any) -> Any:
            self.app_calls += 1
            return HTMLResponse(PAGE)

        async def inertia(request: Any) -> Any:
            self.app_calls += 1
            return JSONResponse({"component": "D"}, headers={"X-Inertia": "true"})

        async def form(request: Any) -> Any:
            self.app_calls += 1
            return RedirectResponse("/inertia", status_code=303)

        async def own(request: Any) -> Any:
            return HTMLResponse("x", headers={"X-App-Version": "app's", "X-App-Stale": "app's"})

        return Starlette(
            routes=[
                Route("/", page, methods=["GET", "HEAD"]),
                Route("/inertia", inertia),
                Route("/form", form, methods=["POST"]),
                Route("/own", own),
            ]
        )

    def _flask(self) -> Any:
        from flask import Flask, jsonify, make_response, redirect

        app = Flask("parity")

        @app.get("/")
        def page() -> Any:
            self.app_calls += 1
            return PAGE

        @app.get("/inertia")
        def inertia() -> Any:
            self.app_calls += 1
            response = jsonify({"component": "D"})
            response.headers["X-Inertia"] = "true"
            return response

        @app.post("/form")
        def form() -> Any:
            self.app_calls += 1
            return redirect("/inertia", code=303)

        @app.get("/own")
        def own() -> Any:
            response = make_response("x")
            response.headers["X-App-Version"] = "app's"
            response.headers["X-App-Stale"] = "app's"
            return response

        return app


def django_handler(guard: Skewguard, adapter: Adapter) -> tuple[Any, Any]:
    """Django's own WSGI handler with SkewguardMiddleware, serving ``guard``, and the settings
    it runs under (entered around each request: other tests keep their own)."""
    import django
    from django.conf import settings

    if not settings.configured:  # else another test configured this process: override on top
        settings.configure(SECRET_KEY="parity")
    django.setup()
    from django.core.handlers.wsgi import WSGIHandler
    from django.test.utils import override_settings

    from skewguard.contrib.django import conf

    from . import django_urls

    django_urls.ADAPTER = adapter
    override = override_settings(
        DEBUG=False,
        ALLOWED_HOSTS=["*"],
        ROOT_URLCONF="tests.parity.django_urls",
        MIDDLEWARE=["skewguard.contrib.django.middleware.SkewguardMiddleware"],
        FORCE_SCRIPT_NAME=None,
    )
    conf._guard = guard
    try:
        with override:
            handler = WSGIHandler()
    finally:
        conf.reset()
    return override, handler

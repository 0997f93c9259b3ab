"""WSGI adapter (PEP 3333): the same decisions as the ASGI middleware."""

from __future__ import annotations

from http import HTTPStatus
from typing import TYPE_CHECKING, Any

from ..protocol import (
    Proceed,
    RequestFacts,
    Respond,
    authorize_bust,
    decide,
    route,
    version_endpoint,
)
from .inject import HtmlInjector, injected_length, should_inject
from .static import STREAM_CHUNK, StaticResponse, respond

if TYPE_CHECKING:
    from ..guard import Skewguard

_ENVIRON_HEADERS = {
    "HTTP_X_INERTIA": "x-inertia",
    "HTTP_X_INERTIA_VERSION": "x-inertia-version",
    "HTTP_X_SKEWGUARD_HOLD": "x-skewguard-hold",
    "HTTP_COOKIE": "cookie",
    "HTTP_AUTHORIZATION": "authorization",
    "HTTP_ACCEPT_ENCODING": "accept-encoding",
    "HTTP_IF_NONE_MATCH": "if-none-match",
    "HTTP_IF_MODIFIED_SINCE": "if-modified-since",
    "HTTP_RANGE": "range",
    "HTTP_IF_RANGE": "if-range",
}
_STATUS = {status.value: f"{status.value} {status.phrase}" for status in HTTPStatus}


def facts_from_environ(environ: dict[str, Any]) -> RequestFacts:
    headers = {name: environ[key] for key, name in _ENVIRON_HEADERS.items() if key in environ}
    from urllib.parse import quote

    path = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
    # PATH_INFO is decoded (latin-1 per PEP 3333); re-encode it for headers such as X-Inertia-Location.
    raw = quote(path.encode("latin-1", "replace"), safe="/:@!$&'()*+,;=-._~")
    return RequestFacts(
        environ.get("REQUEST_METHOD", "GET").upper(), raw, environ.get("QUERY_STRING", ""), headers
    )


def _start(start_response, respond: Respond) -> list[bytes]:
    start_response(_STATUS.get(respond.status, str(respond.status)), list(respond.headers))
    return [respond.body]


class WSGIMiddleware:
    def __init__(self, app, guard: Skewguard, endpoints: bool = True):
        self.app = app
        self.guard = guard
        self.endpoints = endpoints  # False: /version and /cache/bust are the framework's routes

    def __call__(self, environ: dict[str, Any], start_response):
        guard = self.guard
        state = guard._state  # read once: this request sees one release throughout
        settings = guard.settings
        decoded_path = environ.get("PATH_INFO", "") or "/"
        kind = route(decoded_path, settings)
        if not self.endpoints and kind in ("version", "bust"):
            kind = "app"
        if kind == "static":  # STATIC_URL belongs to skewguard: unknown names are a quick 404
            facts = facts_from_environ(environ)
            return serve_static(
                state, environ, start_response, facts, decoded_path[len(settings.STATIC_URL) :]
            )
        if kind == "client":
            from ..client import client_name

            facts = facts_from_environ(environ)
            name = decoded_path[len(settings.STATIC_URL) :]
            response = (
                respond(state.client, facts.method, facts.headers, None)
                if name == client_name()
                else None
            )
            return _send_static(environ, start_response, response, facts.method)
        if kind == "version":
            return _start(
                start_response,
                version_endpoint(facts_from_environ(environ), state.snapshot, settings),
            )
        if kind == "bust":
            refusal = authorize_bust(facts_from_environ(environ), settings)
            return _start(start_response, refusal if refusal is not None else guard.bust())

        extra: list[tuple[str, str]] = []
        if "HTTP_X_INERTIA_VERSION" in environ or "HTTP_X_SKEWGUARD_HOLD" in environ:
            decision = decide(facts_from_environ(environ), state.snapshot, settings)
            if isinstance(decision, Respond):
                return _start(start_response, decision)
            if isinstance(decision, Proceed):
                extra.extend(decision.headers)
            if "HTTP_X_INERTIA_VERSION" in environ:  # proceeding: downstream Inertia adapters agree
                environ["HTTP_X_INERTIA_VERSION"] = state.snapshot.version
        if settings.APP_VERSION_HEADER:
            extra.append(("X-App-Version", state.snapshot.version))
        fragment = "HTTP_HX_REQUEST" in environ or "HTTP_X_INERTIA" in environ
        method = environ.get("REQUEST_METHOD", "GET").upper()
        inject = settings.APP_VERSION_MISMATCH != "ignore" and not fragment and method != "HEAD"
        if not extra and not inject:
            return self.app(environ, start_response)
        injector: list[
            HtmlInjector
        ] = []  # set by start_response, which may come late (a generator)

        def start_wrapper(status, headers, exc_info=None):
            headers = [h for h in headers if h[0].lower() not in ("x-app-version", "x-app-stale")]
            headers.extend(extra)
            if inject:
                found = _injector_for(guard, state, environ, method, status, headers)
                injector[:] = [found] if found else []
            write = (
                start_response(status, headers, exc_info)
                if exc_info
                else start_response(status, headers)
            )
            if injector:
                return lambda data: write(injector[0].feed(data))  # the legacy write() callable
            return write

        result = self.app(environ, start_wrapper)
        return _Injecting(result, injector) if inject else result


def _injector_for(
    guard, state, environ, method: str, status: str, headers: list
) -> HtmlInjector | None:
    content_type = content_encoding = None
    length_at = None
    for index, (name, value) in enumerate(headers):
        name = name.lower()
        if name == "content-type":
            content_type = value
        elif name == "content-encoding":
            content_encoding = value
        elif name == "content-length":
            length_at = index
    try:
        code = int(status.split(" ", 1)[0])
    except ValueError:
        return None
    if not should_inject(method, code, content_type, content_encoding, False):
        return None
    snippet = guard.bootstrap(environ, state)
    if length_at is not None:
        length = injected_length(headers[length_at][1], snippet)
        if length is None:
            return None  # a body of unknown size: leave it alone
        headers[length_at] = ("Content-Length", length)
    return HtmlInjector(snippet)


class _Injecting:
    """The app's body, passed through the injector once start_response said it is HTML."""

    def __init__(self, result, injector: list[HtmlInjector]):
        self.result = result
        self.injector = injector

    def __iter__(self):
        for chunk in self.result:
            if not self.injector:
                yield chunk
                continue
            out = self.injector[0].feed(chunk)
            if out:
                yield out
        if self.injector:
            tail = self.injector[0].finish()
            if tail:
                yield tail

    def close(self) -> None:
        close = getattr(self.result, "close", None)
        if close is not None:
            close()


class WSGIStaticApp:
    """The build directory as a WSGI app, for mounting under STATIC_URL."""

    def __init__(self, guard: Skewguard):
        self.guard = guard

    def __call__(self, environ: dict[str, Any], start_response):
        facts = facts_from_environ(environ)
        return serve_static(
            self.guard._state, environ, start_response, facts, environ.get("PATH_INFO", "")
        )


def serve_static(state, environ, start_response, facts: RequestFacts, name: str):
    table = state.static
    response = (
        table.respond(name.lstrip("/"), facts.method, facts.headers) if table is not None else None
    )
    return _send_static(environ, start_response, response, facts.method)


def _send_static(environ, start_response, response: StaticResponse | None, method: str):
    if response is None:
        start_response(
            "404 Not Found",
            [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", "9")],
        )
        return [b"Not Found"]
    start_response(_STATUS.get(response.status, str(response.status)), response.headers_for_wsgi())
    if response.file is None or method == "HEAD":
        return [response.body]
    return _file_body(environ, response)


def _file_body(environ, response: StaticResponse):
    try:
        fh = open(response.file, "rb")
    except OSError:
        return [b""]
    if response.offset == 0 and "wsgi.file_wrapper" in environ:
        return environ["wsgi.file_wrapper"](fh, STREAM_CHUNK)
    fh.seek(response.offset)
    return _read_range(fh, response.length)


def _read_range(fh, length: int):
    with fh:
        while length > 0:
            chunk = fh.read(min(STREAM_CHUNK, length))
            if not chunk:
                return
            length -= len(chunk)
            yield chunk

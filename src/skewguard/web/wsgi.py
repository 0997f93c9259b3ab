"""WSGI adapter (PEP 3333): the same decisions as the ASGI middleware."""

from __future__ import annotations

from http import HTTPStatus
from typing import TYPE_CHECKING, Any

from ..protocol import RequestFacts, Respond, authorize_bust, decide_inertia, route, version_endpoint
from .static import STREAM_CHUNK, StaticResponse

if TYPE_CHECKING:
    from ..guard import Skewguard

_ENVIRON_HEADERS = {
    "HTTP_X_INERTIA": "x-inertia",
    "HTTP_X_INERTIA_VERSION": "x-inertia-version",
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
    return RequestFacts(environ.get("REQUEST_METHOD", "GET").upper(), raw, environ.get("QUERY_STRING", ""), headers)


def _start(start_response, respond: Respond) -> list[bytes]:
    start_response(_STATUS.get(respond.status, str(respond.status)), list(respond.headers))
    return [respond.body]


class WSGIMiddleware:
    def __init__(self, app, guard: Skewguard):
        self.app = app
        self.guard = guard

    def __call__(self, environ: dict[str, Any], start_response):
        guard = self.guard
        state = guard._state  # read once: this request sees one release throughout
        settings = guard.settings
        decoded_path = environ.get("PATH_INFO", "") or "/"
        kind = route(decoded_path, settings)
        if kind == "static":  # STATIC_URL belongs to skewguard: unknown names are a quick 404
            facts = facts_from_environ(environ)
            return serve_static(state, environ, start_response, facts, decoded_path[len(settings.STATIC_URL):])
        if kind == "version":
            return _start(start_response, version_endpoint(facts_from_environ(environ), state.snapshot, settings))
        if kind == "bust":
            refusal = authorize_bust(facts_from_environ(environ), settings)
            return _start(start_response, refusal if refusal is not None else guard.bust())

        if "HTTP_X_INERTIA_VERSION" in environ:  # the Inertia rule needs the request decoded
            conflict = decide_inertia(facts_from_environ(environ), state.snapshot, settings)
            if conflict is not None:
                return _start(start_response, conflict)
        if not settings.APP_VERSION_HEADER:
            return self.app(environ, start_response)
        version = state.snapshot.version

        def start_with_version(status, headers, exc_info=None):
            headers = [h for h in headers if h[0].lower() != "x-app-version"]
            headers.append(("X-App-Version", version))
            return start_response(status, headers, exc_info) if exc_info else start_response(status, headers)

        return self.app(environ, start_with_version)


class WSGIStaticApp:
    """The build directory as a WSGI app, for mounting under STATIC_URL."""

    def __init__(self, guard: Skewguard):
        self.guard = guard

    def __call__(self, environ: dict[str, Any], start_response):
        facts = facts_from_environ(environ)
        return serve_static(self.guard._state, environ, start_response, facts, environ.get("PATH_INFO", ""))


def serve_static(state, environ, start_response, facts: RequestFacts, name: str):
    table = state.static
    response = table.respond(name.lstrip("/"), facts.method, facts.headers) if table is not None else None
    if response is None:
        start_response("404 Not Found", [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", "9")])
        return [b"Not Found"]
    start_response(_STATUS.get(response.status, str(response.status)), response.headers_for_wsgi())
    if response.file is None or facts.method == "HEAD":
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

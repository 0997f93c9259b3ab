"""WSGI adapter (PEP 3333): carries out the same decisions and plans as the ASGI middleware."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from http import HTTPStatus
from typing import BinaryIO
from urllib.parse import quote

from ..plan import (
    ENVIRON_REQUEST_HEADERS,
    FRAGMENT_ENVIRON,
    VERSIONED_ENVIRON,
    ResponseHead,
    plan_response,
)
from ..protocol import Proceed, RequestFacts, Respond, decide
from ..state import Guard, GuardState
from ..types import Environ, ExcInfo, StartResponse, Write, WSGIApp, WSGIHeaders
from .dispatch import endpoint_answer, is_root_file, static_answer, static_kind
from .inject import HtmlInjector
from .responder import STREAM_CHUNK, StaticResponse, read_range

_STATUS = {status.value: f"{status.value} {status.phrase}" for status in HTTPStatus}
_PLANNED = ("content-type", "content-encoding", "content-length")


def decoded_path(environ: Environ, key: str = "PATH_INFO") -> str:
    """A path as the URL spelled it: PEP 3333 servers decode the bytes as latin-1, so a UTF-8 name
    (``café.css``) arrives as mojibake; re-decode it (bytes that are not UTF-8 stay as they are)."""
    value: str = environ.get(key, "")
    try:
        return value.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return value


def request_headers(environ: Environ) -> dict[str, str]:
    return {name: environ[key] for key, name in ENVIRON_REQUEST_HEADERS.items() if key in environ}


def facts_from_environ(environ: Environ) -> RequestFacts:
    path = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
    # PATH_INFO is decoded (latin-1 per PEP 3333); re-encode it for headers such as X-Inertia-Location.
    raw = quote(path.encode("latin-1", "replace"), safe="/:@!$&'()*+,;=-._~")
    return RequestFacts(
        environ.get("REQUEST_METHOD", "GET").upper(),
        raw,
        environ.get("QUERY_STRING", ""),
        request_headers(environ),
    )


def status_line(status: int) -> str:
    return _STATUS.get(status, str(status))


def _start(start_response: StartResponse, respond: Respond) -> list[bytes]:
    start_response(status_line(respond.status), list(respond.headers))
    return [respond.body]


class WSGIMiddleware:
    def __init__(self, app: WSGIApp, guard: Guard, endpoints: bool = True):
        self.app = app
        self.guard = guard
        # endpoints=False: /version and /cache/bust are the framework's routes; endpoints added
        # with add_endpoint are still answered here.
        settings = guard.settings
        self.framework_paths = (
            frozenset() if endpoints else frozenset((settings.VERSION_PATH, settings.BUST_PATH))
        )

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        guard = self.guard
        state = guard.current()  # read once: this request sees one release throughout
        settings = guard.settings
        path = decoded_path(environ) or "/"
        endpoint = guard.endpoints.get(path)
        if endpoint is not None and path not in self.framework_paths:
            answer = endpoint_answer(endpoint, facts_from_environ(environ), state)
            return _start(start_response, answer)
        kind = static_kind(path, settings)
        if kind is not None:  # STATIC_URL belongs to skewguard: unknown names are a quick 404
            name = path[len(settings.STATIC_URL) :]
            return serve_static(state, kind, name, environ, start_response)
        if is_root_file(path, state):
            return serve_static(state, "root", path[1:], environ, start_response)

        add: tuple[tuple[str, str], ...] = ()
        if not environ.keys().isdisjoint(VERSIONED_ENVIRON):
            decision = decide(facts_from_environ(environ), state.snapshot, settings)
            guard.note_decision(decision)
            if isinstance(decision, Respond):
                return _start(start_response, decision)
            if isinstance(decision, Proceed):
                add = decision.headers
            if "HTTP_X_INERTIA_VERSION" in environ:  # proceeding: downstream Inertia adapters agree
                environ["HTTP_X_INERTIA_VERSION"] = state.snapshot.version
        if settings.APP_VERSION_HEADER:
            add = (*add, ("X-App-Version", state.snapshot.version))
        fragment = not environ.keys().isdisjoint(FRAGMENT_ENVIRON)
        method = environ.get("REQUEST_METHOD", "GET").upper()
        inject = settings.APP_VERSION_MISMATCH != "ignore" and not fragment
        if not add and not inject:
            return self.app(environ, start_response)
        injector: list[
            HtmlInjector
        ] = []  # set by start_response, which may come late (a generator)

        def start_wrapper(
            status: str, headers: WSGIHeaders, exc_info: ExcInfo | None = None
        ) -> Write:
            head = _head(status, headers)
            plan = plan_response(
                method,
                head,
                add,
                inject=inject,
                fragment=fragment,
                snippet=lambda: guard.bootstrap(environ, state),
            )
            planned = [h for h in headers if h[0].lower() not in plan.drop]
            if plan.content_length is not None:
                planned = [h for h in planned if h[0].lower() != "content-length"]
                planned.append(("Content-Length", plan.content_length))
            planned.extend(plan.add)
            injector[:] = [HtmlInjector(plan.snippet)] if plan.snippet is not None else []
            write = (
                start_response(status, planned, exc_info)
                if exc_info
                else start_response(status, planned)
            )
            if injector:
                return lambda data: write(injector[0].feed(data))  # the legacy write() callable
            return write

        result = self.app(environ, start_wrapper)
        return _Injecting(result, injector) if inject else result


def _head(status: str, headers: WSGIHeaders) -> ResponseHead:
    found: dict[str, str] = {}
    for name, value in headers:
        name = name.lower()
        if name in _PLANNED and name not in found:
            found[name] = value
    try:
        code = int(status.split(" ", 1)[0])
    except ValueError:
        code = 0  # not a status this adapter understands: nothing is injected
    return ResponseHead(
        code, found.get("content-type"), found.get("content-encoding"), found.get("content-length")
    )


class _Injecting:
    """The app's body, passed through the injector once start_response said it is HTML."""

    def __init__(self, result: Iterable[bytes], injector: list[HtmlInjector]):
        self.result = result
        self.injector = injector

    def __iter__(self) -> Iterator[bytes]:
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

    def __init__(self, guard: Guard):
        self.guard = guard

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        return serve_static(
            self.guard.current(), "static", decoded_path(environ), environ, start_response
        )


def serve_static(
    state: GuardState, kind: str, name: str, environ: Environ, start_response: StartResponse
) -> Iterable[bytes]:
    method = environ.get("REQUEST_METHOD", "GET").upper()
    response, body = static_answer(state, kind, name, method, request_headers(environ))
    start_response(status_line(response.status), response.headers_for_wsgi())
    if body is None:
        return [response.body]
    return file_body(environ, response, body)


def file_body(environ: Environ, response: StaticResponse, body: BinaryIO) -> Iterable[bytes]:
    """The body of a checked, opened file; the server's file_wrapper only for the whole file
    (it sends from the file's first byte to its last, whatever the range)."""
    if response.whole_file and "wsgi.file_wrapper" in environ:
        wrapped: Iterable[bytes] = environ["wsgi.file_wrapper"](body, STREAM_CHUNK)
        return wrapped
    body.seek(response.offset)
    return read_range(body, response.length)

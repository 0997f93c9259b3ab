"""ASGI adapter: a pure ASGI middleware (wraps ``send``; never buffers a streamed body)."""

from __future__ import annotations

import asyncio
import os
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

Scope = dict[str, Any]

# The request headers skewguard's decisions read; everything else is never decoded.
_WANTED = frozenset(
    (
        b"x-inertia",
        b"x-inertia-version",
        b"x-skewguard-hold",
        b"cookie",
        b"authorization",
        b"accept-encoding",
        b"if-none-match",
        b"if-modified-since",
        b"range",
        b"if-range",
    )
)
# Requests that say which release they run: only these need decoding for the decision core.
_VERSIONED = frozenset((b"x-inertia-version", b"x-skewguard-hold"))
# Requests whose HTML answers are fragments (htmx) or that expect JSON (Inertia): never injected.
_FRAGMENT = frozenset((b"hx-request", b"x-inertia"))
_NOTABLE = _VERSIONED | _FRAGMENT
# Response headers skewguard owns (an app's own values give way). ASGI names are lower case;
# the title-case spellings cover apps that send them anyway.
_OWN = frozenset((b"x-app-version", b"x-app-stale", b"X-App-Version", b"X-App-Stale"))
_CONTENT_TYPE = frozenset((b"content-type", b"Content-Type"))
_NOT_FOUND = StaticResponse(
    404, [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", b"9")], b"Not Found"
)


def request_headers(scope: Scope) -> dict[str, str]:
    headers: dict[str, str] = {}
    for name, value in scope.get("headers", ()):
        name = name.lower()
        if name in _WANTED and name.decode() not in headers:
            headers[name.decode()] = value.decode("latin-1")
    return headers


def facts_from_scope(scope: Scope) -> RequestFacts:
    raw_path = scope.get("raw_path")
    path = raw_path.decode("latin-1") if raw_path else scope.get("path", "/")
    query = scope.get("query_string", b"").decode("latin-1")
    return RequestFacts(scope.get("method", "GET").upper(), path, query, request_headers(scope))


class ASGIMiddleware:
    def __init__(self, app, guard: Skewguard, endpoints: bool = True):
        self.app = app
        self.guard = guard
        self.endpoints = endpoints  # False: /version and /cache/bust are the framework's routes
        settings = guard.settings  # immutable: what can be known now is not worked out per request
        self.inject = settings.APP_VERSION_MISMATCH != "ignore"
        self.exact_paths = frozenset((settings.VERSION_PATH, settings.BUST_PATH))
        self.static_prefix = settings.STATIC_URL

    async def __call__(self, scope: Scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        guard = self.guard
        state = guard._state  # read once: this request sees one release throughout
        settings = guard.settings
        path = scope["path"]
        if path in self.exact_paths or path.startswith(self.static_prefix):  # else surely the app's
            kind = route(path, settings)
            if not self.endpoints and kind in ("version", "bust"):
                kind = "app"
            if kind != "app":
                await self._skewguard_answers(kind, scope, receive, send, state)
                return

        extra: list[tuple[bytes, bytes]] = []
        fragment = False
        for name, _ in scope["headers"]:
            if name not in _NOTABLE:
                continue
            if name in _FRAGMENT:
                fragment = True
                continue
            decision = decide(facts_from_scope(scope), state.snapshot, settings)
            if isinstance(decision, Respond):
                await send_respond(send, decision)
                return
            if isinstance(decision, Proceed):
                extra = [(k.lower().encode(), v.encode()) for k, v in decision.headers]
            # skewguard decided this request proceeds: an Inertia adapter further in (litestar-vite,
            # any other) must not apply a 409 rule of its own, so it sees the current version.
            scope = _with_current_inertia_version(scope, state.snapshot.header_value)
            break
        if state.version_header is not None:
            extra.append(state.version_header)
        inject = self.inject and not fragment and scope["method"] != "HEAD"
        if not extra and not inject:
            await self.app(scope, receive, send)
            return
        injector: HtmlInjector | None = None

        async def send_wrapper(message) -> None:
            nonlocal injector
            kind = message["type"]
            if kind == "http.response.start":
                raw = message.get("headers", ())
                headers = list(raw)
                html = own = False
                for name, value in raw:  # one pass: is it HTML, and did the app set our headers?
                    if name in _CONTENT_TYPE:
                        html = value[:9].lower() == b"text/html"
                    elif name in _OWN:
                        own = True
                if own:
                    headers = [h for h in headers if h[0] not in _OWN]
                headers.extend(extra)
                if inject and html:
                    injector = _injector_for(
                        guard, state, scope, message.get("status", 200), headers
                    )
                message["headers"] = headers  # the app's message, handed over: no copy needed
            elif injector is not None:
                if kind == "http.response.body":
                    body = injector.feed(message.get("body", b""))
                    if not message.get("more_body", False):
                        body += injector.finish()
                    message = {**message, "body": body}
                elif kind == "http.response.pathsend":  # an HTML file: send it through the injector
                    with open(message["path"], "rb") as fh:
                        body = injector.feed(fh.read()) + injector.finish()
                    message = {"type": "http.response.body", "body": body}
            await send(message)

        await self.app(scope, receive, send_wrapper)

    async def _skewguard_answers(self, kind: str, scope: Scope, receive, send, state) -> None:
        guard, settings = self.guard, self.guard.settings
        facts = facts_from_scope(scope)
        if kind == "static":
            await serve_static(state, scope, facts, send, settings.STATIC_URL)
        elif kind == "client":
            name = scope["path"][len(settings.STATIC_URL) :]
            from ..client import client_name

            response = (
                respond(state.client, facts.method, facts.headers, None)
                if name == client_name()
                else None
            )
            await send_static(send, scope, response or _NOT_FOUND, facts.method)
        elif kind == "version":
            await send_respond(send, version_endpoint(facts, state.snapshot, settings))
        elif kind == "bust":
            refusal = authorize_bust(facts, settings)
            if refusal is None:
                await drain(receive)
                refusal = await asyncio.get_running_loop().run_in_executor(None, guard.bust)
            await send_respond(send, refusal)


def _with_current_inertia_version(scope: Scope, version: bytes) -> Scope:
    headers = scope["headers"]
    if not any(name == b"x-inertia-version" and value != version for name, value in headers):
        return scope
    return {
        **scope,
        "headers": [(n, version if n == b"x-inertia-version" else v) for n, v in headers],
    }


def _injector_for(guard, state, scope: Scope, status: int, headers: list) -> HtmlInjector | None:
    """An injector when the response is a whole HTML document; fixes Content-Length in place."""
    content_type = content_encoding = None
    length_at = None
    for index, (name, value) in enumerate(headers):
        name = name.lower()
        if name == b"content-type":
            content_type = value.decode("latin-1")
        elif name == b"content-encoding":
            content_encoding = value.decode("latin-1")
        elif name == b"content-length":
            length_at = index
    if not should_inject(scope.get("method", "GET"), status, content_type, content_encoding, False):
        return None
    snippet = guard.bootstrap(scope, state)
    if length_at is not None:
        length = injected_length(headers[length_at][1], snippet)
        if length is None:
            return None  # a body of unknown size: leave it alone
        headers[length_at] = (b"content-length", length.encode())
    return HtmlInjector(snippet)


class ASGIStaticApp:
    """The build directory as an ASGI app, for mounting under STATIC_URL (``app.mount``)."""

    def __init__(self, guard: Skewguard):
        self.guard = guard

    async def __call__(self, scope: Scope, receive, send) -> None:
        if scope["type"] != "http":
            return
        facts = facts_from_scope(scope)
        # Mounted: the framework left the remaining path in scope["path"] (root_path stripped).
        state = self.guard._state
        await serve_static(state, scope, facts, send, "")


async def serve_static(state, scope: Scope, facts: RequestFacts, send, prefix: str) -> None:
    """Answer from the static table (404 for names it does not have)."""
    table = state.static
    path = scope["path"]
    if prefix:
        path = path[len(prefix) :]
    elif scope.get("root_path") and path.startswith(scope["root_path"]):
        path = path[len(scope["root_path"]) :]
    path = path.lstrip("/")
    response = table.respond(path, facts.method, facts.headers) if table is not None else None
    await send_static(send, scope, response or _NOT_FOUND, facts.method)


async def send_static(send, scope: Scope, response: StaticResponse, method: str) -> None:
    await send(
        {"type": "http.response.start", "status": response.status, "headers": response.headers}
    )
    if response.file is None or method == "HEAD":
        await send({"type": "http.response.body", "body": response.body})
        return
    extensions = scope.get("extensions") or {}
    if "http.response.pathsend" in extensions and response.offset == 0:
        try:
            if os.path.getsize(response.file) == response.length:
                await send({"type": "http.response.pathsend", "path": response.file})
                return
        except OSError:
            pass
    try:
        with open(response.file, "rb") as fh:
            fh.seek(response.offset)
            remaining = response.length
            while remaining > 0:
                chunk = fh.read(min(STREAM_CHUNK, remaining))
                if not chunk:
                    break
                remaining -= len(chunk)
                await send(
                    {"type": "http.response.body", "body": chunk, "more_body": remaining > 0}
                )
            if remaining > 0:  # the file shrank underneath us: end the response cleanly
                await send({"type": "http.response.body", "body": b""})
    except OSError:
        await send({"type": "http.response.body", "body": b""})


async def send_respond(send, respond: Respond) -> None:
    headers = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in respond.headers]
    await send({"type": "http.response.start", "status": respond.status, "headers": headers})
    await send({"type": "http.response.body", "body": respond.body})


async def drain(receive) -> None:
    """Read (and drop) a request body we do not use, so the server can reuse the connection."""
    received = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return
        received += len(message.get("body", b""))
        if not message.get("more_body") or received > 1 << 20:
            return

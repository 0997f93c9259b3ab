"""ASGI adapter: a pure ASGI middleware (wraps ``send``; never buffers a streamed body)."""

from __future__ import annotations

import asyncio
import os
from typing import TYPE_CHECKING, Any

from ..protocol import RequestFacts, Respond, authorize_bust, decide_inertia, route, version_endpoint
from .static import STREAM_CHUNK, StaticResponse

if TYPE_CHECKING:
    from ..guard import Skewguard

Scope = dict[str, Any]

# The request headers skewguard's decisions read; everything else is never decoded.
_WANTED = frozenset(
    (b"x-inertia", b"x-inertia-version", b"authorization", b"accept-encoding", b"if-none-match",
     b"if-modified-since", b"range", b"if-range")
)
_NOT_FOUND = StaticResponse(404, [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", b"9")], b"Not Found")


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
    def __init__(self, app, guard: Skewguard):
        self.app = app
        self.guard = guard

    async def __call__(self, scope: Scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        guard = self.guard
        state = guard._state  # read once: this request sees one release throughout
        settings = guard.settings
        kind = route(scope["path"], settings)
        if kind == "static":
            await serve_static(state, scope, facts_from_scope(scope), send, settings.STATIC_URL)
            return
        if kind == "version":
            await send_respond(send, version_endpoint(facts_from_scope(scope), state.snapshot, settings))
            return
        if kind == "bust":
            facts = facts_from_scope(scope)
            refusal = authorize_bust(facts, settings)
            if refusal is None:
                await drain(receive)
                refusal = await asyncio.get_running_loop().run_in_executor(None, guard.bust)
            await send_respond(send, refusal)
            return

        # The Inertia rule reads two headers: decode the request only when it carries them.
        for name, _ in scope["headers"]:
            if name == b"x-inertia-version" or name == b"X-Inertia-Version":
                conflict = decide_inertia(facts_from_scope(scope), state.snapshot, settings)
                if conflict is not None:
                    await send_respond(send, conflict)
                    return
                break
        version_header = state.version_header
        if version_header is None:
            await self.app(scope, receive, send)
            return

        async def send_with_version(message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                for index, (name, _) in enumerate(headers):  # the app's own value gives way
                    if name.lower() == b"x-app-version":
                        del headers[index]
                        break
                headers.append(version_header)
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_version)


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
        path = path[len(prefix):]
    elif scope.get("root_path") and path.startswith(scope["root_path"]):
        path = path[len(scope["root_path"]):]
    path = path.lstrip("/")
    response = table.respond(path, facts.method, facts.headers) if table is not None else None
    await send_static(send, scope, response or _NOT_FOUND, facts.method)


async def send_static(send, scope: Scope, response: StaticResponse, method: str) -> None:
    await send({"type": "http.response.start", "status": response.status, "headers": response.headers})
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
                await send({"type": "http.response.body", "body": chunk, "more_body": remaining > 0})
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

"""ASGI adapter: a pure ASGI middleware (wraps ``send``; never buffers a streamed body).

It carries out what ``protocol.decide``, ``plan.plan_response`` and ``web.dispatch`` decide; the
only things it knows itself are ASGI's message shapes and the fast path (a request with none of
the headers skewguard reads is not decoded at all).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import BinaryIO

from ..plan import (
    ASGI_REQUEST_HEADERS,
    FRAGMENT_HEADERS,
    OWN_RESPONSE_HEADERS,
    VERSIONED_HEADERS,
    ResponseHead,
    ResponsePlan,
    plan_response,
)
from ..protocol import Proceed, RequestFacts, Respond, decide
from ..state import Endpoint, Guard, GuardState
from ..types import ASGIApp, Message, Receive, Scope, Send
from .dispatch import endpoint_answer, static_answer, static_kind
from .inject import HtmlInjector
from .responder import STREAM_CHUNK, StaticResponse

# Requests that say which release they run, or whose answers are never injected (fragments).
_VERSIONED = frozenset(name.encode() for name in VERSIONED_HEADERS)
_FRAGMENT = frozenset(name.encode() for name in FRAGMENT_HEADERS)
_NOTABLE = _VERSIONED | _FRAGMENT
# ASGI header names are lower case; the title-case spellings cover apps that send them anyway.
_OWN = frozenset((*(n.encode() for n in OWN_RESPONSE_HEADERS), b"X-App-Version", b"X-App-Stale"))
_CONTENT_TYPE = frozenset((b"content-type", b"Content-Type"))
_PLANNED = frozenset((b"content-type", b"content-encoding", b"content-length"))


def request_headers(scope: Scope) -> dict[str, str]:
    headers: dict[str, str] = {}
    for name, value in scope.get("headers", ()):
        name = name.lower()
        if name in ASGI_REQUEST_HEADERS and name.decode() not in headers:
            headers[name.decode()] = value.decode("latin-1")
    return headers


def facts_from_scope(scope: Scope) -> RequestFacts:
    raw_path = scope.get("raw_path")
    path = raw_path.decode("latin-1") if raw_path else scope.get("path", "/")
    query = scope.get("query_string", b"").decode("latin-1")
    return RequestFacts(scope.get("method", "GET").upper(), path, query, request_headers(scope))


class ASGIMiddleware:
    def __init__(self, app: ASGIApp, guard: Guard, endpoints: bool = True):
        self.app = app
        self.guard = guard
        settings = guard.settings  # immutable: what can be known now is not worked out per request
        # endpoints=False: /version and /cache/bust are the framework's routes; endpoints added
        # with add_endpoint are still answered here.
        self.framework_paths = (
            frozenset() if endpoints else frozenset((settings.VERSION_PATH, settings.BUST_PATH))
        )
        self.inject = settings.APP_VERSION_MISMATCH != "ignore"
        self.static_prefix = settings.STATIC_URL
        self.endpoint_map = guard.endpoints  # the guard's own mapping: later additions count

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # The hot path: every request of the application passes here. It is written for speed
        # (locals, no per-message coroutine, nothing decoded unless a header asks for it), so
        # that the middleware costs about a microsecond on top of the bare app.
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        guard = self.guard
        state = guard.current()  # read once: this request sees one release throughout
        path = scope["path"]
        root_path = scope.get("root_path")
        if root_path and path.startswith(root_path):  # mounted under a prefix, as SCRIPT_NAME
            path = path[len(root_path) :]
        endpoint = self.endpoint_map.get(path)
        if endpoint is not None and path not in self.framework_paths:
            await run_endpoint(endpoint, facts_from_scope(scope), state, receive, send)
            return
        if path.startswith(self.static_prefix):  # else surely the app's
            kind = static_kind(path, guard.settings)
            if kind is not None:
                await serve_static(state, kind, path[len(self.static_prefix) :], scope, send)
                return
        elif state.root_files is not None and path[1:] in state.root_files.entries:
            await serve_static(state, "root", path[1:], scope, send)
            return

        extra = state.response_headers
        fragment = decided = False
        # Every header is looked at: a fragment header (htmx, Inertia) after a versioned one
        # still says the answer is a fragment, never to be injected.
        for name, _ in scope["headers"]:
            if name not in _NOTABLE:
                continue
            if name in _FRAGMENT:
                fragment = True
                continue
            if decided:
                continue
            decided = True
            decision = decide(facts_from_scope(scope), state.snapshot, guard.settings)
            guard.note_decision(decision)
            if isinstance(decision, Respond):
                await send_respond(send, decision)
                return
            if isinstance(decision, Proceed) and decision.headers:
                added = [
                    (k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in decision.headers
                ]
                extra = (*added, *extra)
            # skewguard decided this request proceeds: an Inertia adapter further in (litestar-vite,
            # any other) must not apply a 409 rule of its own, so it sees the current version.
            scope = _with_current_inertia_version(scope, state.snapshot.header_value)
        inject = self.inject and not fragment
        if not extra and not inject:
            await self.app(scope, receive, send)
            return
        injector: HtmlInjector | None = None

        # A plain function, not a coroutine: it hands back ``send``'s awaitable, so a message
        # that needs no change costs one call, not one more coroutine.
        def send_wrapper(message: Message) -> Awaitable[None]:
            nonlocal injector
            if injector is not None:
                return _send_injected(send, injector, message)
            if message["type"] != "http.response.start":
                return send(message)
            raw = message.get("headers", ())
            html = own = False
            for name, value in raw:  # one pass: is it HTML, and did the app set our headers?
                if name in _CONTENT_TYPE:
                    html = value[:9].lower() == b"text/html"
                elif name in _OWN:
                    own = True
            # The app's message, handed over: its header list is rebuilt, never appended to
            # (an app may send the same list object with every response).
            headers = [*(h for h in raw if h[0] not in _OWN), *extra] if own else [*raw, *extra]
            if inject and html:
                plan = _plan(
                    guard, state, scope, scope["method"], message.get("status", 200), headers
                )
                if plan.content_length is not None:
                    _set_length(headers, plan.content_length)
                if plan.snippet is not None:
                    injector = HtmlInjector(plan.snippet)
            message["headers"] = headers
            return send(message)

        await self.app(scope, receive, send_wrapper)


async def _send_injected(send: Send, injector: HtmlInjector, message: Message) -> None:
    """A message of an HTML answer that gets the snippet: its body goes through the injector."""
    kind = message["type"]
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


def _plan(
    guard: Guard,
    state: GuardState,
    scope: Scope,
    method: str,
    status: int,
    headers: list[tuple[bytes, bytes]],
) -> ResponsePlan:
    found: dict[bytes, str] = {}
    for name, value in headers:
        name = name.lower()
        if name in _PLANNED and name not in found:
            found[name] = value.decode("latin-1")
    head = ResponseHead(
        status,
        found.get(b"content-type"),
        found.get(b"content-encoding"),
        found.get(b"content-length"),
    )
    return plan_response(
        method, head, (), inject=True, fragment=False, snippet=lambda: guard.bootstrap(scope, state)
    )


def _set_length(headers: list[tuple[bytes, bytes]], length: str) -> None:
    headers[:] = [h for h in headers if h[0].lower() != b"content-length"]
    headers.append((b"content-length", length.encode()))


def _with_current_inertia_version(scope: Scope, version: bytes) -> Scope:
    headers = scope["headers"]
    if not any(name == b"x-inertia-version" and value != version for name, value in headers):
        return scope
    return {
        **scope,
        "headers": [(n, version if n == b"x-inertia-version" else v) for n, v in headers],
    }


class ASGIStaticApp:
    """The build directory as an ASGI app, for mounting under STATIC_URL (``app.mount``)."""

    def __init__(self, guard: Guard):
        self.guard = guard

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        # Mounted: the framework left the remaining path in scope["path"] (root_path stripped).
        path = scope["path"]
        root_path = scope.get("root_path")
        if root_path and path.startswith(root_path):
            path = path[len(root_path) :]
        await serve_static(self.guard.current(), "static", path, scope, send)


async def serve_static(state: GuardState, kind: str, name: str, scope: Scope, send: Send) -> None:
    """Answer from the static table (404 for names it does not have)."""
    method = scope.get("method", "GET").upper()
    fetch_needed = getattr(state.static, "fetch_needed", None)
    if kind == "static" and fetch_needed is not None and fetch_needed(name.lstrip("/")):
        # The release store: the fetch waits on the network, off the event loop.
        response, body = await asyncio.get_running_loop().run_in_executor(
            None, static_answer, state, kind, name, method, request_headers(scope)
        )
    else:
        response, body = static_answer(state, kind, name, method, request_headers(scope))
    await send_static(send, scope, response, body)


async def send_static(
    send: Send, scope: Scope, response: StaticResponse, body: BinaryIO | None
) -> None:
    await send(
        {"type": "http.response.start", "status": response.status, "headers": response.headers}
    )
    if body is None:
        await send({"type": "http.response.body", "body": response.body})
        return
    with body:
        extensions = scope.get("extensions") or {}
        # pathsend opens the path anew: only for hashed files, which are never rewritten.
        if (
            response.whole_file
            and response.file_ino is None
            and "http.response.pathsend" in extensions
        ):
            await send({"type": "http.response.pathsend", "path": response.file})
            return
        body.seek(response.offset)
        remaining = response.length
        while remaining > 0:
            chunk = body.read(min(STREAM_CHUNK, remaining))
            if not chunk:  # cannot happen for a checked file; end the response cleanly anyway
                break
            remaining -= len(chunk)
            await send({"type": "http.response.body", "body": chunk, "more_body": remaining > 0})
        if remaining > 0:
            await send({"type": "http.response.body", "body": b""})


async def run_endpoint(
    endpoint: Endpoint, facts: RequestFacts, state: GuardState, receive: Receive, send: Send
) -> None:
    if endpoint.blocking:
        await drain(receive)
        answer = await asyncio.get_running_loop().run_in_executor(
            None, endpoint_answer, endpoint, facts, state
        )
    else:
        answer = endpoint_answer(endpoint, facts, state)
    await send_respond(send, answer)


async def send_respond(send: Send, respond: Respond) -> None:
    headers = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in respond.headers]
    await send({"type": "http.response.start", "status": respond.status, "headers": headers})
    await send({"type": "http.response.body", "body": respond.body})


async def drain(receive: Receive) -> None:
    """Read (and drop) a request body we do not use, so the server can reuse the connection."""
    received = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return
        received += len(message.get("body", b""))
        if not message.get("more_body") or received > 1 << 20:
            return

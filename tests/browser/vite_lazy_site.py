"""A page running a real Vite build (or modules skewguard built) whose lazy chunks the server is
slow to answer, wrapped by skewguard (uvicorn). Configured by SKEWGUARD_* and TEST_VITE_ENTRY
(the entry's name under STATIC_URL); any ``*-slow-*.js`` chunk takes 2 s to answer, as a chunk on
a busy CDN might. ``/bare`` is the same page without the browser client."""

from __future__ import annotations

import asyncio
import os

from skewguard import Skewguard

guard = Skewguard()
SLOW_SECONDS = 2.0


def page(entry: str) -> bytes:
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>Lazy</title>"
        f"<script type='module' src='{entry}'></script></head><body>"
        f"<p>rendered by <span id='rendered-version'>{guard.version}</span></p>"
        "<script>window.__boot = Math.random();"
        " document.addEventListener('skewguard:reload', () => sessionStorage.setItem("
        "'chunk-at-reload', String(window.__chunk)));</script></body></html>"
    ).encode()


async def page_app(scope, receive, send):
    if scope["type"] != "http":
        return
    await respond(send, page(guard.static(os.environ["TEST_VITE_ENTRY"])))


async def respond(send, html: bytes):
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"text/html; charset=utf-8")],
        }
    )
    await send({"type": "http.response.body", "body": html})


def slow_chunks(app):
    async def wrapped(scope, receive, send):
        path = scope.get("path", "")
        if "-slow-" in path.rsplit("/", 1)[-1] and path.endswith(".js"):
            await asyncio.sleep(SLOW_SECONDS)
        await app(scope, receive, send)

    return wrapped


guarded = guard.asgi(page_app)


async def without_client(scope, receive, send):  # /bare: the page as a site without skewguard's
    if scope["type"] == "http" and scope["path"] == "/bare":
        return await respond(send, page(guard.static(os.environ["TEST_VITE_ENTRY"])))
    await guarded(scope, receive, send)


app = slow_chunks(without_client)

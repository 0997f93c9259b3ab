"""tests/browser/site.py behind a slow network for full page loads: with ``slow-documents=1`` in
the query, every request that is not an Inertia XHR waits 2 s before the site answers, so a
navigation the browser has started stays pending long enough for the user to click again."""

from __future__ import annotations

import asyncio

from .site import app as site_app

DELAY_SECONDS = 2.0


async def app(scope, receive, send):
    if (
        scope["type"] == "http"
        and b"slow-documents=1" in scope.get("query_string", b"")
        and not any(name == b"x-inertia" for name, _ in scope["headers"])
    ):
        await asyncio.sleep(DELAY_SECONDS)
    await site_app(scope, receive, send)

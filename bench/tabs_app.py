"""The app bench/tabs.py serves under uvicorn workers: a bare ASGI app wrapped by skewguard,
configured by SKEWGUARD_* (STATIC_ROOT, REDIS_URL); with TABS_BARE=1 the bare app alone (what the
HTTP server costs per request without skewguard)."""

from __future__ import annotations

import os

from skewguard import Skewguard


async def bare(scope, receive, send):
    if scope["type"] != "http":
        return
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"text/plain"), (b"content-length", b"2")],
        }
    )
    await send({"type": "http.response.body", "body": b"ok"})


app = bare if os.environ.get("TABS_BARE") == "1" else Skewguard().asgi(bare)

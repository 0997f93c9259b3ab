"""The apps bench/runtime.py serves under uvicorn, chosen by BENCH_APP; BENCH_ROOT is a build dir.

"With skewguard" is the default settings, as an application gets them with nothing but
STATIC_ROOT and SECRET_KEY: telemetry on, and REGISTRY=auto, which picks the file registry (and
its watcher thread) because the build directory is writable. SKEWGUARD_* variables in the
environment change them, as they would for any app (the bench sets SKEWGUARD_REGISTRY=none for
its comparison).
"""

from __future__ import annotations

import os

ROOT = os.environ.get("BENCH_ROOT", "")
KIND = os.environ.get("BENCH_APP", "bare")
SMALL_BODY = b"x" * 10240


async def bare(scope, receive, send):
    """The reference: a tiny ASGI app with no framework at all."""
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


async def bare_10k(scope, receive, send):
    """The same, answering 10 KB from memory: what serving a 10 KB file cannot beat."""
    if scope["type"] != "http":
        return
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"text/css"), (b"content-length", b"10240")],
        }
    )
    await send({"type": "http.response.body", "body": SMALL_BODY})


def with_skewguard(root: str, app=bare):
    """``app`` wrapped by skewguard's middleware with the default settings."""
    from skewguard import Skewguard

    guard = Skewguard(static_root=root, secret_key="bench", vite_hot_file="")
    return guard.asgi(app)


def without_watcher(root: str, app=bare):
    """The defaults with the file registry's watcher thread never started: a diagnostic that
    tells the watcher's cost apart from everything else the registry turns on (no worker
    hears a bust from another in this configuration)."""
    from skewguard.releases.base import ReleaseRegistry

    ReleaseRegistry._start_watcher = lambda self: None  # this bench process only
    return with_skewguard(root, app)


def _app():
    if KIND == "bare":
        return bare
    if KIND == "bare_10k":
        return bare_10k
    if KIND in ("skewguard_middleware", "skewguard_static"):
        return with_skewguard(ROOT)
    if KIND == "skewguard_no_watcher":
        return without_watcher(ROOT)
    if KIND == "servestatic":
        from servestatic import ServeStaticASGI

        return ServeStaticASGI(bare, root=ROOT, prefix="static/")
    if KIND == "starlette_static":
        from starlette.applications import Starlette
        from starlette.routing import Mount
        from starlette.staticfiles import StaticFiles

        return Starlette(routes=[Mount("/static", app=StaticFiles(directory=ROOT))])
    raise SystemExit(f"unknown BENCH_APP {KIND!r}")


app = _app()

"""HTML injection of the client bootstrap, the hold marker decisions, and the client build."""

from __future__ import annotations

import gzip
import json
import re
import subprocess

import pytest

from skewguard import Skewguard
from skewguard.client import client_code, client_name
from skewguard.protocol import Proceed, RequestFacts, Respond, decide
from skewguard.settings import Settings
from skewguard.version import VersionSnapshot
from skewguard.web.inject import HtmlInjector

from ..conftest import ROOT, require_tool

PAGE = b"<!doctype html><html><head><title>t</title></head><body><header>h</header><p>x</p></body></html>"


def inject_chunks(chunks: list[bytes], snippet: bytes = b"<S>") -> bytes:
    injector = HtmlInjector(snippet)
    return b"".join(injector.feed(c) for c in chunks) + injector.finish()


def test_before_head_else_body_else_end():
    assert inject_chunks([PAGE]) == PAGE.replace(b"</head>", b"<S></head>")
    no_head = b"<html><body><p>x</p></body></html>"
    assert inject_chunks([no_head]) == no_head.replace(b"</body>", b"<S></body>")
    bare = b"<p>just a fragment</p>"
    assert inject_chunks([bare]) == bare + b"<S>"
    assert inject_chunks([b"<HEAD></HEAD >"]) == b"<HEAD><S></HEAD >"
    assert (
        inject_chunks([b"<body><header>x</header></body>"]) == b"<body><header>x</header><S></body>"
    )


def test_tags_split_across_chunks_at_every_position():
    expected = PAGE.replace(b"</head>", b"<S></head>")
    for cut in range(1, len(PAGE)):
        assert inject_chunks([PAGE[:cut], PAGE[cut:]]) == expected, cut
    assert inject_chunks([bytes([b]) for b in PAGE]) == expected  # one byte at a time


# -- through the adapters ------------------------------------------------------------------------


def starlette_app(routes_extra=None):
    from starlette.applications import Starlette
    from starlette.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
    from starlette.routing import Route

    async def page(request):
        return HTMLResponse(PAGE.decode())

    async def streamed(request):
        async def body():
            for cut in (PAGE[:40], PAGE[40:44], PAGE[44:]):  # "</head>" is split between chunks
                yield cut

        return StreamingResponse(body(), media_type="text/html")

    async def gzipped(request):
        return Response(
            gzip.compress(PAGE, mtime=0),
            media_type="text/html",
            headers={"Content-Encoding": "gzip"},
        )

    async def not_modified(request):
        return Response(status_code=304, headers={"Content-Type": "text/html"})

    async def partial(request):
        return Response(PAGE[:10], status_code=206, media_type="text/html")

    async def api(request):
        return JSONResponse({"html": "</head>"})

    async def nonce_page(request):
        request.scope.setdefault("state", {})["csp_nonce"] = "n0nce-123"
        return HTMLResponse(PAGE.decode())

    return Starlette(
        routes=[
            Route("/", page),
            Route("/stream", streamed),
            Route("/gz", gzipped),
            Route("/304", not_modified),
            Route("/206", partial),
            Route("/api", api),
            Route("/nonce", nonce_page),
        ]
    )


@pytest.fixture
def asgi_client():
    from starlette.testclient import TestClient

    def make(**options):
        options.setdefault("app_version", "v2")
        options.setdefault("manifest_required", False)
        options.setdefault("vite_hot_file", "")
        sg = Skewguard(**options)
        return sg, TestClient(sg.asgi(starlette_app()))

    return make


def test_asgi_injection(asgi_client):
    sg, client = asgi_client()
    r = client.get("/")
    tag = sg.bootstrap().decode()
    assert r.text == PAGE.decode().replace("</head>", tag + "</head>")
    assert int(r.headers["content-length"]) == len(r.content)
    config = json.loads(
        re.search(r'data-skewguard="([^"]+)"', r.text).group(1).replace("&quot;", '"')
    )
    assert (
        config["version"] == "v2"
        and config["policy"] == "reload"
        and config["versionUrl"] == "/version"
    )
    streamed = client.get("/stream")
    assert streamed.text.count("data-skewguard") == 1 and tag + "</head>" in streamed.text
    for path in ("/304", "/206", "/api"):
        assert "data-skewguard" not in client.get(path).text, path
    with client.stream("GET", "/gz") as r:  # raw: httpx would otherwise decode it
        assert b"".join(r.iter_raw()) == gzip.compress(
            PAGE, mtime=0
        )  # an encoded body is left alone
    head = client.head("/")
    assert head.content == b""
    assert "data-skewguard" not in client.get("/", headers={"HX-Request": "true"}).text
    assert "data-skewguard" not in client.get("/", headers={"X-Inertia": "true"}).text


def test_asgi_nonce_inline_and_ignore(asgi_client):
    _, client = asgi_client()
    assert 'nonce="n0nce-123"' in client.get("/nonce").text
    _, client = asgi_client(csp_nonce=lambda scope: "from-callable")
    assert 'nonce="from-callable"' in client.get("/").text
    _, client = asgi_client(client_inline=True)
    text = client.get("/").text
    assert (
        "window.__skewguard=" in text
        and client_code().decode()[:40] in text
        and "<script src" not in text
    )
    _, client = asgi_client(app_version_mismatch="ignore")
    assert "<script" not in client.get("/").text


def test_client_script_is_served_immutable_and_compressed(asgi_client):
    sg, client = asgi_client()
    url = "/static/" + client_name()
    r = client.get(url, headers={"Accept-Encoding": "identity"})
    assert r.status_code == 200 and r.content == client_code()
    assert r.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert r.headers["content-type"].startswith("text/javascript")
    gz = client.get(url, headers={"Accept-Encoding": "gzip"})
    assert gz.headers["content-encoding"] == "gzip" and gz.content == client_code()
    assert client.get("/static/__skewguard/client.000000000000.js").status_code == 404


def test_wsgi_injection():
    from flask import Flask, Response

    app = Flask("inject")

    @app.get("/")
    def page():
        return PAGE.decode()

    @app.get("/stream")
    def streamed():
        return Response(iter([PAGE[:40], PAGE[40:44], PAGE[44:]]), mimetype="text/html")

    @app.get("/api")
    def api():
        return {"html": "</head>"}

    sg = Skewguard(app_version="v2", manifest_required=False, vite_hot_file="")
    app.wsgi_app = sg.wsgi(app.wsgi_app)
    client = app.test_client()
    r = client.get("/")
    tag = sg.bootstrap().decode()
    assert r.get_data(as_text=True) == PAGE.decode().replace("</head>", tag + "</head>")
    assert int(r.headers["Content-Length"]) == len(r.get_data())
    assert client.get("/stream").get_data(as_text=True).count("data-skewguard") == 1
    assert "data-skewguard" not in client.get("/api").get_data(as_text=True)
    assert client.head("/").get_data() == b""
    assert "data-skewguard" not in client.get("/", headers={"HX-Request": "true"}).get_data(
        as_text=True
    )
    served = client.get("/static/" + client_name())
    assert served.status_code == 200 and served.get_data() == client_code()


# -- the hold marker -----------------------------------------------------------------------------

SNAP = VersionSnapshot("v2", "explicit")


def facts(method="GET", **headers):
    return RequestFacts(method, "/page", "", {k.replace("_", "-"): v for k, v in headers.items()})


def test_hold_marker_turns_a_409_into_a_stale_answer():
    settings = Settings()
    assert isinstance(
        decide(facts(x_inertia="true", x_inertia_version="v1"), SNAP, settings), Respond
    )
    held = decide(
        facts(x_inertia="true", x_inertia_version="v1", x_skewguard_hold="v1"), SNAP, settings
    )
    assert isinstance(held, Proceed) and held.headers == (("X-App-Stale", "1"),)
    # A cookie proves nothing: it is shared by every tab, and one tab's hold must not exempt
    # another tab of the same release.
    for cookie in ("a=1; skewguard_hold_v1=1", "skewguard_hold_v0=1"):
        by_cookie = decide(
            facts(x_inertia="true", x_inertia_version="v1", cookie=cookie), SNAP, settings
        )
        assert isinstance(by_cookie, Respond)
    # A doubled header ("v1, v1", two hooks each adding it) is not the exact value.
    doubled = decide(
        facts(x_inertia="true", x_inertia_version="v1", x_skewguard_hold="v1, v1"), SNAP, settings
    )
    assert isinstance(doubled, Respond)
    assert isinstance(
        decide(
            facts(x_inertia="true", x_inertia_version="v1", x_skewguard_hold="v0"), SNAP, settings
        ),
        Respond,
    )
    # htmx or fetch from a held page: tagged, never refused.
    assert isinstance(decide(facts(x_skewguard_hold="v1"), SNAP, settings), Proceed)
    assert decide(facts(x_skewguard_hold="v2"), SNAP, settings) is None  # current: nothing to say


# -- the client build ----------------------------------------------------------------------------


def test_minified_client_is_a_fresh_reproducible_build_under_5kb(tmp_path):
    require_tool("npm")
    fresh = tmp_path / "skewguard.min.js"
    subprocess.run(
        ["bash", str(ROOT / "scripts" / "build-client.sh"), str(fresh)], check=True, timeout=300
    )
    committed = ROOT / "src" / "skewguard" / "client" / "skewguard.min.js"
    assert fresh.read_bytes() == committed.read_bytes(), (
        "run scripts/build-client.sh and commit the result"
    )
    size = len(gzip.compress(committed.read_bytes(), 9))
    assert size < 5 * 1024, f"{size} bytes minified+gzipped"

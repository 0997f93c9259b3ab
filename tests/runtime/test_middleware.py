"""The middleware through a real Starlette app (ASGI) and a real Flask app (WSGI)."""

from __future__ import annotations

import json
import os
import time
from email.utils import formatdate

import pytest

from skewguard import Skewguard
from skewguard.build import BuildOptions, build
from skewguard.tokens import make_token

from ..build.helpers import write_tree
from .apps import KINDS, Harness

CSS = "".join(f".c{i}{{color:#{i:06x}}}\n" for i in range(300))
BIG_JS = "".join(f"export const v{i} = {i};\n" for i in range(30000))  # > memory limit: streamed


@pytest.fixture
def site(tmp_path):
    src = write_tree(
        tmp_path / "src",
        {
            "css/app.css": CSS + "a{background:url(../img/logo.svg)}",
            "img/logo.svg": "<svg xmlns='http://www.w3.org/2000/svg'/>",
            "js/mod.mjs": "export default 1;",
            "js/big.js": BIG_JS,
            "fonts/f.woff2": b"wOF2" + bytes(100),
            "wasm/m.wasm": b"\x00asm" + bytes(10),
            "site.webmanifest": '{"name":"x"}',
        },
    )
    out = tmp_path / "out"
    build([str(src)], str(out), BuildOptions())
    return src, out


@pytest.fixture(params=KINDS)
def harness(request, site):
    _, out = site
    guard = Skewguard(static_root=str(out), secret_key="s3cret", vite_hot_file="")
    return Harness(request.param, guard)


def paths(out):
    return json.loads((out / "staticfiles.json").read_text())["paths"]


def test_version_header_on_every_response(harness):
    version = harness.guard.version
    for method, path in (("GET", "/"), ("GET", "/inertia"), ("POST", "/form"), ("GET", "/missing")):
        reply = harness.request(method, path)
        assert reply.headers["x-app-version"] == version, (method, path, reply.status)


def test_inertia_rule_through_the_adapter(harness):
    calls = harness.app_calls
    reply = harness.request(
        "GET", "/inertia?page=2", {"X-Inertia": "true", "X-Inertia-Version": "old"}
    )
    assert reply.status == 409
    assert reply.headers["x-inertia-location"] == "/inertia?page=2"
    assert reply.headers["x-inertia-version"] == harness.guard.version
    assert "x-inertia" not in reply.headers
    assert harness.app_calls == calls  # the app was not called
    ok = harness.request(
        "GET", "/inertia", {"X-Inertia": "true", "X-Inertia-Version": harness.guard.version}
    )
    assert ok.status == 200 and harness.app_calls == calls + 1
    post = harness.request("POST", "/form", {"X-Inertia": "true", "X-Inertia-Version": "old"})
    assert post.status == 303  # never a 409 for a POST: the form data would be lost


def test_version_endpoint(harness):
    reply = harness.request("GET", "/version")
    assert reply.status == 200 and reply.headers["cache-control"] == "no-store"
    body = json.loads(reply.body)
    assert body["version"] == harness.guard.version and body["source"] == "manifest"
    assert body["release"]["id"] == harness.guard.version
    assert harness.request("HEAD", "/version").body == b""
    assert harness.request("DELETE", "/version").status == 405


def test_bust(harness, site):
    src, out = site
    old = harness.guard.version
    denied = harness.request("POST", "/cache/bust")
    assert denied.status == 401 and denied.headers["www-authenticate"].startswith("Bearer")
    wrong = harness.request("GET", "/cache/bust")
    assert wrong.status == 405 and wrong.headers["allow"] == "POST"
    (src / "css/app.css").write_text(CSS + "b{}")
    build([str(src)], str(out), BuildOptions(compress=False))
    token = make_token("s3cret", 60)
    reply = harness.request("POST", "/cache/bust", {"Authorization": f"Bearer {token}"})
    assert reply.status == 200, reply.body
    body = json.loads(reply.body)
    assert body["status"] == "ok" and body["previous"] == old and body["version"] != old
    assert harness.request("GET", "/").headers["x-app-version"] == body["version"]
    assert harness.guard.static("css/app.css") == "/static/" + paths(out)["css/app.css"]


def test_bust_with_a_corrupt_manifest_keeps_serving(harness, site):
    _, out = site
    old = harness.guard.version
    (out / "staticfiles.json").write_text("{torn")
    reply = harness.request(
        "POST", "/cache/bust", {"Authorization": f"Bearer {make_token('s3cret', 60)}"}
    )
    assert reply.status == 422
    assert json.loads(reply.body)["status"] == "error" and json.loads(reply.body)["version"] == old
    assert harness.request("GET", "/").headers["x-app-version"] == old


def test_no_secret_key_refuses_every_bust(site):
    _, out = site
    guard = Skewguard(static_root=str(out), vite_hot_file="")
    for kind in KINDS:
        harness = Harness(kind, guard)
        token = make_token("anything", 60)
        assert (
            harness.request("POST", "/cache/bust", {"Authorization": f"Bearer {token}"}).status
            == 401
        )


# -- static files --------------------------------------------------------------------------------


def test_hashed_and_canonical_caching(harness, site):
    _, out = site
    hashed = paths(out)["css/app.css"]
    reply = harness.request("GET", "/static/" + hashed)
    assert reply.status == 200 and reply.body.decode().startswith(".c0")
    assert reply.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert reply.headers["content-type"] == "text/css; charset=utf-8"
    assert reply.headers["x-app-version"] == harness.guard.version
    canonical = harness.request("GET", "/static/css/app.css")
    assert canonical.status == 200 and canonical.headers["cache-control"] == "no-cache"
    assert canonical.headers["etag"].startswith('"') and not canonical.headers["etag"].startswith(
        "W/"
    )
    assert canonical.body == reply.body


def test_content_types(harness, site):
    _, out = site
    p = paths(out)
    expected = {
        "js/mod.mjs": "text/javascript; charset=utf-8",
        "fonts/f.woff2": "font/woff2",
        "wasm/m.wasm": "application/wasm",
        "site.webmanifest": "application/manifest+json",
        "img/logo.svg": "image/svg+xml",
    }
    for canonical, content_type in expected.items():
        assert (
            harness.request("GET", "/static/" + p[canonical]).headers["content-type"]
            == content_type
        )


@pytest.mark.parametrize(
    "accept, encoding",
    [
        ("gzip, deflate, br, zstd", "br"),
        ("gzip", "gzip"),
        ("br;q=0, gzip", "gzip"),
        ("br;q=0.5, gzip;q=0.9", "gzip"),
        ("zstd", "zstd"),
        ("*", "br"),
        ("identity", None),
        ("br;q=0, gzip;q=0, zstd;q=0", None),
        ("br;q=nonsense, gzip", "gzip"),
        (";;;,,,=,q=", None),
    ],
)
def test_encoding_negotiation(harness, site, accept, encoding):
    _, out = site
    hashed = paths(out)["css/app.css"]
    reply = harness.request("GET", "/static/" + hashed, {"Accept-Encoding": accept})
    assert reply.status == 200
    assert reply.headers.get("content-encoding") == encoding
    assert reply.headers["vary"] == "Accept-Encoding"
    if encoding is None:
        assert reply.body.decode().startswith(".c0")
    else:
        suffix = {"br": ".br", "gzip": ".gz", "zstd": ".zst"}[encoding]
        assert reply.body == (out / (hashed + suffix)).read_bytes()


def test_conditional_requests(harness, site):
    _, out = site
    hashed = paths(out)["css/app.css"]
    first = harness.request("GET", "/static/" + hashed)
    etag = first.headers["etag"]
    assert harness.request("GET", "/static/" + hashed, {"If-None-Match": etag}).status == 304
    assert (
        harness.request("GET", "/static/" + hashed, {"If-None-Match": f'"other", W/{etag}'}).status
        == 304
    )
    assert harness.request("GET", "/static/" + hashed, {"If-None-Match": '"other"'}).status == 200
    future = formatdate(time.time() + 3600, usegmt=True)
    past = formatdate(0, usegmt=True)
    assert harness.request("GET", "/static/" + hashed, {"If-Modified-Since": future}).status == 304
    assert harness.request("GET", "/static/" + hashed, {"If-Modified-Since": past}).status == 200
    assert (
        harness.request("GET", "/static/" + hashed, {"If-Modified-Since": "garbage"}).status == 200
    )
    assert (
        harness.request("GET", "/static/" + hashed, {"If-None-Match": "\x00\xff" * 3000}).status
        == 200
    )


def test_ranges(harness, site):
    _, out = site
    hashed = paths(out)["js/big.js"]
    data = (out / hashed).read_bytes()
    size = len(data)
    reply = harness.request("GET", "/static/" + hashed, {"Range": "bytes=10-19"})
    assert reply.status == 206 and reply.body == data[10:20]
    assert reply.headers["content-range"] == f"bytes 10-19/{size}"
    assert harness.request("GET", "/static/" + hashed, {"Range": "bytes=-5"}).body == data[-5:]
    assert (
        harness.request("GET", "/static/" + hashed, {"Range": f"bytes={size - 3}-"}).body
        == data[-3:]
    )
    unsatisfiable = harness.request("GET", "/static/" + hashed, {"Range": f"bytes={size}-"})
    assert (
        unsatisfiable.status == 416 and unsatisfiable.headers["content-range"] == f"bytes */{size}"
    )
    for ignored in ("bytes=0-1,5-6", "items=0-5", "bytes=x-y", "bytes=" + "9" * 500 + "-"):
        reply = harness.request("GET", "/static/" + hashed, {"Range": ignored})
        assert reply.status in (200, 416) and reply.status != 500
    full = harness.request("GET", "/static/" + hashed)
    assert full.status == 200 and full.body == data  # streamed from disk (over the memory limit)


def test_head_and_methods(harness, site):
    _, out = site
    hashed = paths(out)["css/app.css"]
    head = harness.request("HEAD", "/static/" + hashed)
    assert head.status == 200 and head.body == b"" and int(head.headers["content-length"]) > 0
    assert harness.request("POST", "/static/" + hashed).status == 405


@pytest.mark.parametrize(
    "path",
    [
        "/static/../staticfiles.json",
        "/static/%2e%2e/%2e%2e/etc/passwd",
        "/static/%2e%2e%2fstaticfiles.json",
        "/static/css/..%5c..%5cstaticfiles.json",
        "/static/css%00.css",
        "/static//etc/passwd",
        "/static/" + "a/" * 2000,
        "/static/.skewguard/releases.json",
        "/static/staticfiles.json",
        "/static/css/",
        "/static/",
    ],
)
def test_hostile_paths_are_404(harness, path):
    reply = harness.request("GET", path)
    assert reply.status in (404, 400), (path, reply.status)


def test_retained_release_served_and_pruned_files_404_fast(harness, site):
    src, out = site
    old_hashed = paths(out)["css/app.css"]
    (src / "css/app.css").write_text(CSS + "c{}")
    build([str(src)], str(out), BuildOptions(compress=False))
    harness.guard.reload()
    new_hashed = paths(out)["css/app.css"]
    assert new_hashed != old_hashed
    for name in (old_hashed, new_hashed):  # an old tab can still load the old release's file
        reply = harness.request("GET", "/static/" + name)
        assert reply.status == 200 and reply.headers["cache-control"].endswith("immutable")
    os.unlink(out / old_hashed)  # pruned behind the server's back
    for suffix in (".gz", ".br", ".zst"):
        if (out / (old_hashed + suffix)).exists():
            os.unlink(out / (old_hashed + suffix))
    harness.guard.reload()
    assert harness.request("GET", "/static/" + old_hashed).status == 404


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Inertia": "true", "X-Inertia-Version": "v" * 10_000},
        {"X-Inertia": "true", "X-Inertia-Version": "\x01\x02\x7f"},
        {"X-Inertia": "true", "X-Inertia-Version": "\xe9\xff"},
        {"Accept-Encoding": "\xff" * 2000},
        {"If-Modified-Since": "\x00" * 100},
        {"Authorization": "Bearer " + "\xff" * 5000},
    ],
)
def test_hostile_headers_never_500(harness, site, headers):
    _, out = site
    hashed = paths(out)["css/app.css"]
    for method, path in (
        ("GET", "/inertia"),
        ("GET", "/static/" + hashed),
        ("POST", "/cache/bust"),
        ("GET", "/version"),
    ):
        reply = harness.request(method, path, headers)
        assert reply.status < 500, (method, path, headers)


# -- dev mode ------------------------------------------------------------------------------------


def test_dev_mode_serves_sources_and_appends_content_hash(tmp_path):
    src = write_tree(tmp_path / "static", {"css/app.css": "a{color:red}"})
    outside = write_tree(tmp_path / "secret", {"key.txt": "top secret"})
    os.symlink(outside / "key.txt", src / "css" / "link.txt")
    guard = Skewguard(static_root=str(src), debug=True, manifest_required=False, vite_hot_file="")
    url = guard.static_url("css/app.css")
    assert url.startswith("/static/css/app.css?v=") and len(url.split("v=")[1]) == 12
    (src / "css/app.css").write_text("a{color:tan}")
    os.utime(src / "css/app.css", ns=(1, 10**18))
    assert guard.static_url("css/app.css") != url
    for kind in KINDS:
        harness = Harness(kind, guard)
        reply = harness.request("GET", "/static/css/app.css")
        assert (
            reply.status == 200
            and reply.body == b"a{color:tan}"
            and reply.headers["cache-control"] == "no-cache"
        )
        assert (
            harness.request("GET", "/static/css/link.txt").status == 404
        )  # symlink out of the root
        assert harness.request("GET", "/static/../secret/key.txt").status == 404
        dev = harness.request("GET", "/inertia", {"X-Inertia": "true", "X-Inertia-Version": "old"})
        assert dev.status == 200  # never a 409 in dev mode

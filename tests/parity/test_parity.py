"""Every runtime behaviour through the three adapters alike: ASGI, WSGI and Django middleware.

Each test runs once per adapter (the ``kind`` parameter). The bugs the three separate copies
of the response path had are pinned here: Range from byte 0 through a zero-copy path, non-ASCII
names under WSGI, Django's 304 Content-Type and Content-Disposition, HEAD lengths of injected
pages, 404s without X-App-Version, 19-digit Range bounds, a sibling archive served as gzip,
canonical names after a rebuild into the live directory, and files pruned under the server.
"""

from __future__ import annotations

import gzip
import json
import os
import time
from pathlib import Path

import pytest

from skewguard.build import BuildOptions, build

from ..build.helpers import write_tree
from .conftest import BIG, OTHER_ARCHIVE, SMALL, SOURCES, make_guard
from .harness import Adapter


def paths(out: Path) -> dict[str, str]:
    return json.loads((out / "staticfiles.json").read_text())["paths"]


def url(out: Path, canonical: str) -> str:
    from urllib.parse import quote

    return "/static/" + quote(paths(out)[canonical])


def test_version_header_once_and_the_apps_own_gives_way(adapter: Adapter) -> None:
    version = adapter.guard.version
    for target in ("/", "/own", "/inertia", "/version"):
        reply = adapter.request("GET", target)
        assert reply.headers["x-app-version"] == version and reply.count("x-app-version") == 1
        assert "x-app-stale" not in reply.headers, target


def test_inertia_409_without_calling_the_app(adapter: Adapter) -> None:
    calls = adapter.app_calls
    stale = {"X-Inertia": "true", "X-Inertia-Version": "old"}
    reply = adapter.request("GET", "/inertia?page=2", stale)
    assert reply.status == 409 and reply.headers["x-inertia-location"] == "/inertia?page=2"
    assert adapter.app_calls == calls
    assert adapter.request("POST", "/form", stale).status == 303  # never a 409 for a POST


def test_injection_fixes_content_length(adapter: Adapter) -> None:
    reply = adapter.request("GET", "/")
    snippet = adapter.guard.bootstrap()
    assert reply.body.count(b"<script") == 1 and b"__skewguard" in reply.body
    assert reply.body.index(b"<script") < reply.body.index(b"</head>")
    assert int(reply.headers["content-length"]) == len(reply.body) >= len(snippet)
    fragment = adapter.request("GET", "/", {"HX-Request": "true"})
    assert b"<script" not in fragment.body
    assert int(fragment.headers["content-length"]) == len(fragment.body)


def test_head_of_an_injected_page_declares_the_get_length(adapter: Adapter) -> None:
    get = adapter.request("GET", "/")
    head = adapter.request("HEAD", "/")
    assert head.status == 200 and head.body == b""
    assert head.headers["content-length"] == get.headers["content-length"]


def test_client_script_served_from_one_place(adapter: Adapter) -> None:
    from skewguard.client import client_name

    reply = adapter.request("GET", "/static/" + client_name())
    assert reply.status == 200 and reply.headers["content-type"].startswith("text/javascript")
    assert int(reply.headers["content-length"]) == len(reply.body) > 100
    assert adapter.request("GET", "/static/__skewguard/other.js").status == 404


def test_static_files_and_skewguards_own_404(adapter: Adapter, site) -> None:
    out, _ = site
    reply = adapter.request("GET", url(out, "js/app.js"))
    assert reply.status == 200 and reply.body == SMALL
    assert reply.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert reply.headers["access-control-allow-origin"] == "*"
    assert "content-disposition" not in reply.headers
    canonical = adapter.request("GET", "/static/js/app.js")
    assert canonical.body == SMALL and canonical.headers["cache-control"] == "no-cache"
    missing = adapter.request("GET", "/static/js/nope.js")
    assert missing.status == 404 and missing.body == b"Not Found"
    assert missing.headers["x-app-version"] == adapter.guard.version
    assert adapter.request("POST", url(out, "js/app.js")).status == 405


def test_allow_origin_is_configurable(site, adapter_for) -> None:
    out, _ = site
    adapter = adapter_for(make_guard(out, static_allow_origin=""))
    reply = adapter.request("GET", url(out, "js/app.js"))
    assert reply.status == 200 and "access-control-allow-origin" not in reply.headers


@pytest.mark.parametrize("name", ["js/app.js", "js/big.js"])  # from memory, and streamed
def test_range_from_byte_zero_sends_only_the_range(adapter: Adapter, site, name: str) -> None:
    out, _ = site
    data = SOURCES[name]
    reply = adapter.request("GET", url(out, name), {"Range": "bytes=0-9"})
    assert reply.status == 206 and reply.headers["content-range"] == f"bytes 0-9/{len(data)}"
    assert reply.headers["content-length"] == "10" and reply.body == data[:10]
    whole = adapter.request("GET", url(out, name), {"Range": f"bytes=0-{len(data) - 1}"})
    assert whole.status == 206 and whole.body == data
    middle = adapter.request("GET", url(out, name), {"Range": "bytes=10-19"})
    assert middle.body == data[10:20]


def test_whole_big_files_take_the_zero_copy_path(adapter: Adapter, site) -> None:
    out, _ = site
    reply = adapter.request("GET", url(out, "js/big.js"))
    assert reply.status == 200 and reply.body == BIG and reply.zero_copy
    assert "content-disposition" not in reply.headers
    assert int(reply.headers["content-length"]) == len(BIG)


def test_range_numbers_parse_exactly(adapter: Adapter, site) -> None:
    out, _ = site
    reply = adapter.request("GET", url(out, "js/app.js"), {"Range": "bytes=" + "0" * 25 + "5-9"})
    assert reply.status == 206 and reply.headers["content-range"].startswith("bytes 5-9/")
    assert reply.body == SMALL[5:10]
    huge = adapter.request("GET", url(out, "js/app.js"), {"Range": "bytes=1" + "0" * 30 + "-"})
    assert huge.status == 416


def test_not_modified_carries_no_body_headers(adapter: Adapter, site) -> None:
    out, _ = site
    first = adapter.request("GET", url(out, "js/app.js"))
    reply = adapter.request("GET", url(out, "js/app.js"), {"If-None-Match": first.headers["etag"]})
    assert reply.status == 304 and reply.body == b""
    assert "content-type" not in reply.headers and "content-disposition" not in reply.headers
    assert reply.headers["etag"] == first.headers["etag"]
    assert reply.headers["x-app-version"] == adapter.guard.version


@pytest.mark.parametrize("canonical", [False, True])
def test_non_ascii_names(adapter: Adapter, site, canonical: bool) -> None:
    out, _ = site
    target = "/static/img/caf%C3%A9.svg" if canonical else url(out, "img/café.svg")
    reply = adapter.request("GET", target)
    assert reply.status == 200 and reply.body == SOURCES["img/café.svg"].encode()


def test_under_a_script_name(site, adapter_for, kind: str) -> None:
    out, _ = site
    # Django's relative STATIC_URL carries the script prefix; an absolute one, and WSGI and ASGI
    # mounts, see STATIC_URL as the application does, below the prefix.
    for static_url in ("/app/static/", "/static/") if kind == "django" else ("/static/",):
        adapter = adapter_for(make_guard(out, static_url=static_url), script_name="/app")
        hashed = paths(out)["js/app.js"]
        reply = adapter.request("GET", "/static/" + hashed)
        assert reply.status == 200 and reply.body == SMALL, static_url
        assert adapter.request("GET", "/version").status == 200
        assert adapter.request("GET", "/static/nope.js").status == 404


def test_encodings_are_the_manifests_word(adapter: Adapter, site) -> None:
    out, _ = site
    plain = SOURCES["dl/data.csv"].encode()
    for target in ("/static/dl/data.csv", url(out, "dl/data.csv")):
        reply = adapter.request("GET", target, {"Accept-Encoding": "gzip"})
        assert reply.status == 200 and reply.body != OTHER_ARCHIVE, target
        body = gzip.decompress(reply.body) if reply.headers.get("content-encoding") else reply.body
        assert body == plain, target
    archive = adapter.request("GET", url(out, "dl/data.csv.gz"), {"Accept-Encoding": "gzip"})
    assert archive.body == OTHER_ARCHIVE and "content-encoding" not in archive.headers


def test_root_files_at_slash(site, adapter_for) -> None:
    out, root = site
    adapter = adapter_for(make_guard(out, root_files_dir=str(root)))
    robots = adapter.request("GET", "/robots.txt")
    assert robots.status == 200 and robots.body == b"User-agent: *\n"
    assert robots.headers["cache-control"] == "no-cache"
    assert adapter.request("GET", "/.well-known/security.txt").status == 200
    assert adapter.request("GET", "/").body.startswith(b"<html>")  # everything else: the app


def test_a_pruned_file_is_a_prompt_404(adapter: Adapter, site) -> None:
    out, _ = site
    target = url(out, "js/big.js")
    os.remove(out / paths(out)["js/big.js"])
    for headers in ({}, {"Range": "bytes=0-9"}, {"Range": "bytes=5-9"}):
        started = time.monotonic()
        reply = adapter.request("GET", target, headers)
        assert reply.status == 404 and reply.body == b"Not Found", headers
        assert reply.headers["x-app-version"] == adapter.guard.version
        assert time.monotonic() - started < 1


@pytest.mark.parametrize("new_size", [4501, 300])  # grows, shrinks
def test_canonical_names_after_a_rebuild_into_the_live_directory(
    adapter: Adapter, site, new_size: int, tmp_path: Path
) -> None:
    out, _ = site
    before = adapter.request("GET", "/static/js/app.js", {"Accept-Encoding": "gzip"})
    assert before.status == 200
    src = write_tree(tmp_path / "src", {"js/app.js": "x" * (new_size - 1) + "\n"})
    time.sleep(0.01)  # a different mtime even on coarse clocks
    build([str(src)], str(out), BuildOptions())
    new = ("x" * (new_size - 1) + "\n").encode()
    for accept in ("identity", "gzip"):
        reply = adapter.request("GET", "/static/js/app.js", {"Accept-Encoding": accept})
        assert reply.status == 200
        assert int(reply.headers["content-length"]) == len(reply.body), accept
        body = gzip.decompress(reply.body) if reply.headers.get("content-encoding") else reply.body
        assert body == new, accept
        assert reply.headers["etag"] != before.headers["etag"]

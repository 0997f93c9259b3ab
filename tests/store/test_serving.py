"""Old releases' files served from the store by a server whose disk holds only its own release."""

from __future__ import annotations

import json
import threading
import time

import httpx
import pytest

from skewguard.store import open_store
from skewguard.store.publish import publish

from .conftest import build_release

COMPARED = ("content-type", "cache-control", "etag", "vary", "accept-ranges", "content-length")


def _two_releases(tmp_path, url):
    """Release 1 built into A and published; release 2 built into a fresh B and published."""
    a = build_release(tmp_path, "a", 1)
    publish(str(a), open_store(url))
    b = build_release(tmp_path, "b", 2)
    publish(str(b), open_store(url))
    old = json.loads((a / "staticfiles.json").read_text())
    return a, b, old


@pytest.mark.parametrize(
    "kind, store_kind",
    [(k, "file") for k in ("asgi", "wsgi", "asgi-static", "wsgi-static", "django")]
    + [("asgi", "s3"), ("django", "s3")],
)
def test_an_old_file_comes_from_the_store_exactly_like_a_local_one(
    tmp_path, s3_env, request, app_server, kind, store_kind
):
    if store_kind == "file":
        store_url = (tmp_path / "store").as_uri()
    else:
        s3 = request.getfixturevalue("s3_server")
        store_url = s3.url(s3.new_bucket())
    a, b, old = _two_releases(tmp_path, store_url)
    css = old["paths"]["site.css"]
    assert not (b / css).exists()
    server_a = app_server(kind, a, "")  # release 1 on its own disk: the reference answer
    server_b = app_server(kind, b, store_url)
    url = f"/static/{css}"
    cases = [
        ("GET", {}),
        ("GET", {"accept-encoding": "gzip, br"}),
        ("GET", {"accept-encoding": "gzip"}),
        ("GET", {"accept-encoding": "zstd"}),
        ("GET", {"accept-encoding": "br", "range": "bytes=3-40"}),
        ("GET", {"range": "bytes=5-24"}),
        ("HEAD", {}),
    ]
    for method, headers in cases:
        local = httpx.request(method, server_a.base + url, headers=headers)
        stored = httpx.request(method, server_b.base + url, headers=headers)
        assert local.status_code in (200, 206)
        assert stored.status_code == local.status_code, (method, headers, server_b.log())
        for name in COMPARED:
            assert stored.headers.get(name) == local.headers.get(name), (name, method, headers)
        assert stored.headers.get("content-encoding") == local.headers.get("content-encoding")
        assert stored.content == local.content
    assert (
        httpx.get(server_b.base + url, headers={"accept-encoding": "br"}).headers[
            "content-encoding"
        ]
        == "br"
    )
    etag = httpx.get(server_b.base + url).headers["etag"]
    assert httpx.get(server_b.base + url, headers={"if-none-match": etag}).status_code == 304
    # Release 2's own files still come from B's disk; a name no release has is a 404.
    new_css = json.loads((b / "staticfiles.json").read_text())["paths"]["site.css"]
    assert httpx.get(f"{server_b.base}/static/{new_css}").status_code == 200
    assert httpx.get(f"{server_b.base}/static/site.0123456789ab.css").status_code == 404
    assert "Traceback" not in server_b.log()


def test_the_store_is_asked_once_and_never_for_unknown_names(
    tmp_path, s3_env, s3_server, app_server
):
    bucket = s3_server.new_bucket()
    url = s3_server.url(bucket)
    a, b, old = _two_releases(tmp_path, url)
    server = app_server("asgi", b, url)
    before = len(s3_server.requests(bucket))
    for _ in range(3):
        assert httpx.get(f"{server.base}/static/js/chunk.0123456789ab.js").status_code == 404
        assert httpx.get(f"{server.base}/static/../../etc/passwd").status_code == 404
    assert len(s3_server.requests(bucket)) == before  # in no retained release: no request
    chunk = old["paths"]["js/chunk.js"]
    for _ in range(5):
        response = httpx.get(f"{server.base}/static/{chunk}")
        assert response.status_code == 200 and b"release = 1" in response.content
    gets = [r for r in s3_server.requests(bucket)[before:] if r[0] == "GET"]
    assert len(gets) == 1 and gets[0][1].endswith(chunk)  # one fetch, then the local cache


def test_a_store_outage_gives_503_within_the_timeout_and_local_files_keep_coming(
    tmp_path, s3_env, s3_server_factory, app_server
):
    s3 = s3_server_factory()
    url = s3.url(s3.new_bucket())
    a, b, old = _two_releases(tmp_path, url)
    server = app_server("asgi", b, url, store_timeout="1")
    cached = old["paths"]["js/chunk.js"]
    assert httpx.get(f"{server.base}/static/{cached}").status_code == 200
    s3.stop()  # the outage
    local = json.loads((b / "staticfiles.json").read_text())["paths"]["site.css"]
    uncached = old["paths"]["site.css"]
    statuses: list[int] = []
    durations: list[float] = []

    def hit(name: str) -> None:
        started = time.perf_counter()
        response = httpx.get(f"{server.base}/static/{name}", timeout=30)
        durations.append(time.perf_counter() - started)
        statuses.append(response.status_code)

    threads = [threading.Thread(target=hit, args=(uncached,)) for _ in range(8)]
    for t in threads:
        t.start()
    # While those wait on the dead store, the event loop keeps answering local files.
    started = time.perf_counter()
    for _ in range(10):
        assert httpx.get(f"{server.base}/static/{local}").status_code == 200
    assert time.perf_counter() - started < 1 + 5  # never queued behind the store's timeout
    for t in threads:
        t.join()
    assert set(statuses) == {503}, statuses
    assert max(durations) < 1 + 5  # the timeout, plus one quick retry and slack on a busy machine
    assert httpx.get(f"{server.base}/static/{cached}").status_code == 200  # cached copy
    assert httpx.get(f"{server.base}/").status_code == 200
    response = httpx.get(f"{server.base}/static/{uncached}")
    assert response.status_code == 503 and response.headers["retry-after"] == "5"
    log = server.log()
    assert "release store unreachable" in log and uncached in log
    assert "Traceback" not in log and " 500 " not in log


def test_a_server_from_a_fresh_image_learns_of_retained_releases_from_the_store(
    tmp_path, store_url, app_server
):
    a, b, old = _two_releases(tmp_path, store_url)
    registry = tmp_path / "registry.json"
    server = app_server("asgi", b, store_url, registry="file", registry_path=str(registry))
    version_1 = old["hash"]
    state = json.loads(registry.read_text())
    releases = {r["version"]: r["state"] for r in state["releases"]}
    version_2 = json.loads((b / "staticfiles.json").read_text())["hash"]
    assert releases == {version_1: "retained", version_2: "active"}
    # A tab at release 1 is stale (its files are served), not retired (forced to reload).
    response = httpx.get(
        f"{server.base}/", headers={"x-app-requested-version": version_1, "accept": "text/html"}
    )
    assert response.status_code == 200

"""The local cache of files fetched from the store: bounded in size, least recently used out
first, and the files it answers carry their release's time, whichever server fetched them."""

from __future__ import annotations

import json
import os
import time
from datetime import datetime
from email.utils import formatdate
from pathlib import Path

import httpx

from skewguard.build import BuildOptions, build
from skewguard.store import open_store
from skewguard.store.publish import publish

from .conftest import build_release

KB = 1024
SIZES = {"a": 400 * KB, "b": 300 * KB, "c": 350 * KB, "d": 200 * KB}  # past the 1 MB bound


def _old_release(tmp_path: Path, url: str) -> dict[str, str]:
    """Release 1: images of known sizes (random bytes: no precompressed siblings), published;
    then release 2, which has none of them, published too. Returns canonical -> hashed name."""
    src = tmp_path / "old-src"
    (src / "img").mkdir(parents=True)
    for name, size in SIZES.items():
        (src / "img" / f"{name}.png").write_bytes(os.urandom(size))
    old = tmp_path / "old"
    build([str(src)], str(old), BuildOptions(workers=1))
    publish(str(old), open_store(url))
    new = build_release(tmp_path, "new", 2)
    publish(str(new), open_store(url))
    paths = json.loads((old / "staticfiles.json").read_text())["paths"]
    for name in SIZES:
        assert paths[f"img/{name}.png"] != f"img/{name}.png"
        assert not (new / paths[f"img/{name}.png"]).exists()
    return {name: paths[f"img/{name}.png"] for name in SIZES}


def _cached(cache: Path) -> dict[str, int]:
    """Every file the server's cache holds on disk, by base name, with its size."""
    return {
        p.name: p.stat().st_size for p in cache.rglob("*") if p.is_file() and p.suffix != ".part"
    }


def test_the_store_cache_evicts_the_least_recently_used_to_stay_under_its_bound(
    tmp_path, s3_env, s3_server, app_server
):
    bucket = s3_server.new_bucket()
    url = s3_server.url(bucket)
    names = _old_release(tmp_path, url)
    originals = {n: (tmp_path / "old" / names[n]).read_bytes() for n in SIZES}
    cache = tmp_path / "cache"
    bound = 1024 * KB
    server = app_server("asgi", tmp_path / "new", url, store_cache=str(cache), store_cache_mb="1")

    def get(name: str) -> None:
        response = httpx.get(f"{server.base}/static/{names[name]}")
        assert response.status_code == 200, server.log()
        assert response.content == originals[name]  # the right bytes, whatever their path

    def fetches(name: str) -> int:
        return sum(
            1
            for method, path, _ in s3_server.requests(bucket)
            if method == "GET" and path.endswith(names[name])
        )

    get("a")
    get("b")  # 700 KB: both fit
    assert set(_cached(cache)) == {os.path.basename(names[n]) for n in "ab"}
    get("a")  # a is now the most recently used; b the least
    get("c")  # 1050 KB would pass the bound: b goes
    on_disk = _cached(cache)
    assert sum(on_disk.values()) <= bound
    assert os.path.basename(names["a"]) in on_disk and os.path.basename(names["c"]) in on_disk
    assert os.path.basename(names["b"]) not in on_disk
    assert fetches("a") == 1 and fetches("b") == 1  # a came from the cache the second time

    get("b")  # evicted: fetched again from the store, and the least recently used (a) goes
    assert fetches("b") == 2
    on_disk = _cached(cache)
    assert sum(on_disk.values()) <= bound
    assert set(on_disk) == {os.path.basename(names[n]) for n in "cb"}

    for name in "dacbd":  # keep cycling: the bound holds after every answer
        get(name)
        assert sum(_cached(cache).values()) <= bound
    assert "Traceback" not in server.log()


def test_last_modified_is_the_release_time_on_every_server(tmp_path, s3_env, store_url, app_server):
    a = build_release(tmp_path, "a", 1)
    publish(str(a), open_store(store_url))
    b = build_release(tmp_path, "b", 2)
    publish(str(b), open_store(store_url))
    manifest = json.loads((a / "staticfiles.json").read_text())
    built = datetime.fromisoformat(manifest["release"]["built_at"]).timestamp()
    expected = formatdate(built, usegmt=True)
    old = [manifest["paths"][n] for n in ("site.css", "js/chunk.js")]
    first = app_server("asgi", b, store_url, store_cache=str(tmp_path / "cache-1"))
    answers = {n: httpx.get(f"{first.base}/static/{n}").headers["last-modified"] for n in old}
    time.sleep(1.1)  # a later fetch, into another server's cache: a different file mtime
    second = app_server("wsgi", b, store_url, store_cache=str(tmp_path / "cache-2"))
    for name in old:
        for headers in ({}, {"accept-encoding": "gzip"}):
            response = httpx.get(f"{second.base}/static/{name}", headers=headers)
            assert response.status_code == 200
            assert response.headers["last-modified"] == answers[name] == expected
    # A conditional request with the release's time is answered 304 by both.
    for server in (first, second):
        response = httpx.get(
            f"{server.base}/static/{old[0]}", headers={"if-modified-since": expected}
        )
        assert response.status_code == 304

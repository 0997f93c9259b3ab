"""Publishing a build to the store: ordered, incremental, with per-object metadata."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time

import pytest

from skewguard.store import open_store
from skewguard.store.collect import current_release, load_releases
from skewguard.store.layout import FILES
from skewguard.store.publish import publish

from ..conftest import ROOT, run_cli
from .conftest import CREDENTIALS, build_release, write_site


def _objects(store) -> set[str]:
    return {info.key for info in store.list(FILES)}


def test_publish_uploads_every_asset_then_the_release_then_the_pointer(tmp_path, store_url):
    out = build_release(tmp_path, "a", 1)
    manifest = json.loads((out / "staticfiles.json").read_text())
    result = run_cli("publish", str(out), "--store", store_url, "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    store = open_store(store_url)
    keys = _objects(store)
    # Each file once: servers make the precompressed siblings, the build's levels recorded.
    assert any(info["encodings"] for info in manifest["files"].values())
    assert keys == {FILES + name for name in manifest["files"]} | {
        k for k in keys if k.startswith(FILES + "__skewguard/client.")
    }
    assert any(k.startswith(FILES + "__skewguard/client.") for k in keys)  # for a CDN
    assert report["uploaded"] == len(keys) and report["skipped"] == 0
    assert report["bytes"] > 0 and report["previous"] is None
    release = manifest["release"]["id"]
    assert current_release(store) == release
    [record] = load_releases(store)
    assert record.id == release and dict(record.manifest.paths) == manifest["paths"]
    assert record.compression == {"br": 8, "gzip": 6, "zstd": 9}
    assert store.list("leases/") == []  # the publish finished: no lease left behind

    again = run_cli("publish", str(out), "--store", store_url)
    assert again.returncode == 0, again.stderr
    assert f"0 uploaded (0 B), {len(keys)} skipped" in again.stdout


def test_with_siblings_stores_them_and_unreproducible_levels_store_them_too(tmp_path, store_url):
    out = build_release(tmp_path, "a", 1)
    manifest = json.loads((out / "staticfiles.json").read_text())
    suffix = {"gzip": ".gz", "br": ".br", "zstd": ".zst"}
    siblings = {
        FILES + name + suffix[encoding]
        for name, info in manifest["files"].items()
        for encoding in info["encodings"]
    }
    result = run_cli("publish", str(out), "--store", store_url, "--with-siblings")
    assert result.returncode == 0, result.stderr
    store = open_store(store_url)
    assert siblings <= _objects(store)
    [record] = load_releases(store)
    assert record.compression is None  # servers fetch the stored siblings

    # Built at other levels than publish can check: the siblings are stored, not remade.
    from skewguard.build import BuildOptions, build

    src = tmp_path / "b-src"
    write_site(src, 2)
    other = tmp_path / "b"
    build([str(src)], str(other), BuildOptions(workers=1, gzip_level=9, brotli_quality=5))
    report = publish(str(other), open_store(store_url))
    [second] = [r for r in load_releases(store) if r.id == report.release_id]
    assert second.compression is None
    names = json.loads((other / "staticfiles.json").read_text())["files"]
    css = next(n for n in names if n.startswith("site."))
    assert FILES + css + ".gz" in _objects(store)
    # Told the levels (build --publish knows them), it stores each file once again.
    from skewguard.build.compress import Levels

    levels = Levels(brotli=5, gzip=9, zstd=9)
    write_site(src, 3)
    build([str(src)], str(other), BuildOptions(workers=1, gzip_level=9, brotli_quality=5))
    third = publish(str(other), open_store(store_url), levels=levels)
    [record] = [r for r in load_releases(store) if r.id == third.release_id]
    assert record.compression == {"br": 5, "gzip": 9, "zstd": 9}


def test_a_first_publish_makes_one_put_per_object_and_seven_other_requests(
    tmp_path, s3_env, s3_server
):
    """Every request is a round trip (and, to object storage, a billed operation): apart from
    one PUT per object, a publish reads the pointer, claims its lease with one conditional PUT,
    reads the collection lock and the release list, then (after every object) writes the record
    and the pointer and drops the lease. Counted in the server's own log, 404s included."""
    bucket = s3_server.new_bucket()
    out = build_release(tmp_path, "a", 1)
    report = publish(str(out), open_store(s3_server.url(bucket)))

    def what(path: str) -> str:  # /bucket/releases/<key> or /bucket?<query>
        key, _, query = path.partition("?")
        key = key.removeprefix(f"/{bucket}").lstrip("/").removeprefix("releases/")
        return key.split("/")[0] + ("?" + query.split("&")[0] if query else "")

    logged = s3_server.requests(bucket)
    requests = [(m, what(path), status) for m, path, status in logged if path != f"/{bucket}"]
    objects = [r for r in requests if r[1] == "files"]
    assert len(objects) == report.uploaded == report.objects
    assert set(objects) == {("PUT", "files", 200)}
    first, last = requests.index(objects[0]), len(requests) - requests[::-1].index(objects[-1])
    assert requests[:first] == [
        ("GET", "current.json", 404),
        ("PUT", "leases", 200),
        ("GET", "gc.lock", 404),
        ("GET", "?list-type=2", 200),
    ], requests
    assert requests[first:last] == objects
    assert requests[last:] == [
        ("PUT", "releases", 200),
        ("PUT", "current.json", 200),
        ("POST", "?delete", 200),
    ], requests


def test_incremental_publish_puts_only_what_changed(tmp_path, s3_env, s3_server):
    bucket = s3_server.new_bucket()
    url = s3_server.url(bucket)
    src = tmp_path / "src"
    write_site(src, 1, extra_files=20)
    out = tmp_path / "out"
    from skewguard.build import BuildOptions, build

    build([str(src)], str(out), BuildOptions(workers=1))
    first = publish(str(out), open_store(url))
    puts_before = [r for r in s3_server.requests(bucket) if r[0] == "PUT"]
    asset_puts = [r for r in puts_before if f"/{FILES}" in r[1]]
    assert len(asset_puts) == first.uploaded

    (src / "img" / "logo.svg").write_text(
        "<svg xmlns='http://www.w3.org/2000/svg'><circle r='1'/></svg>\n"
    )
    build([str(src)], str(out), BuildOptions(workers=1))
    second = publish(str(out), open_store(url))
    new_puts = [r for r in s3_server.requests(bucket) if r[0] == "PUT"][len(puts_before) :]
    asset_paths = sorted(r[1].split(f"/{FILES}", 1)[1] for r in new_puts if f"/{FILES}" in r[1])
    # The image, and the stylesheet whose hash changed because it references the image
    # (with its precompressed siblings); the 20 shared files and the scripts are skipped.
    assert sorted({p.split(".")[0] for p in asset_paths}) == ["img/logo", "site"], asset_paths
    assert len(asset_paths) == second.uploaded and second.uploaded < first.uploaded / 5
    assert second.skipped == second.objects - second.uploaded
    other_puts = [r[1] for r in new_puts if f"/{FILES}" not in r[1]]
    assert any("releases/" in p for p in other_puts) and any(
        "current.json" in p for p in other_puts
    )

    before = len(s3_server.requests(bucket))
    started = time.perf_counter()
    noop = publish(str(out), open_store(url))
    assert noop.uploaded == 0 and noop.skipped == noop.objects
    assert time.perf_counter() - started < 5  # generous: the benchmark measures it
    # Unchanged and current: the release record and the pointer are read, nothing is written.
    requests = s3_server.requests(bucket)[before:]
    assert sorted(r[0] for r in requests) == ["GET", "GET"], requests
    noop_cli = run_cli("publish", str(out), "--store", url, "--json")
    assert noop_cli.returncode == 0, noop_cli.stderr
    assert json.loads(noop_cli.stdout)["uploaded"] == 0
    assert not [r for r in s3_server.requests(bucket)[before:] if r[0] != "GET"]


def test_metadata_read_back_from_the_s3_server(tmp_path, s3_env, s3_server):
    bucket = s3_server.new_bucket()
    out = build_release(tmp_path, "a", 1)
    manifest = json.loads((out / "staticfiles.json").read_text())
    publish(str(out), open_store(s3_server.url(bucket, "site")), siblings=True)
    client = s3_server.client()
    css = manifest["paths"]["site.css"]
    head = client.head_object(Bucket=bucket, Key=f"site/files/{css}")
    assert head["ContentType"] == "text/css; charset=utf-8"
    assert head["CacheControl"] == "public, max-age=31536000, immutable"
    assert "ContentEncoding" not in head
    assert "gzip" in manifest["files"][css]["encodings"]
    gz = client.get_object(Bucket=bucket, Key=f"site/files/{css}.gz")
    assert gz["ContentEncoding"] == "gzip" and gz["ContentType"] == "text/css; charset=utf-8"
    import gzip

    assert gzip.decompress(gz["Body"].read()) == (out / css).read_bytes()
    svg = manifest["paths"]["img/logo.svg"]
    head = client.head_object(Bucket=bucket, Key=f"site/files/{svg}")
    assert head["ContentType"] == "image/svg+xml"
    js = manifest["paths"]["js/app.js"]
    head = client.head_object(Bucket=bucket, Key=f"site/files/{js}")
    assert head["ContentType"] == "text/javascript; charset=utf-8"


def _complete(store, release: str) -> bool:
    [record] = [r for r in load_releases(store) if r.id == release]
    keys = _objects(store)
    return all(FILES + name in keys for name in record.objects)


@pytest.mark.parametrize("kind", ["file", "s3"])
def test_a_publish_killed_at_random_instants_leaves_the_previous_release_current(
    tmp_path, s3_env, s3_server, kind
):
    first = build_release(tmp_path, "r1", 1)
    second = build_release(tmp_path, "r2", 2, extra_files=60)
    release_1 = json.loads((first / "staticfiles.json").read_text())["release"]["id"]
    release_2 = json.loads((second / "staticfiles.json").read_text())["release"]["id"]
    bucket = s3_server.new_bucket() if kind == "s3" else ""

    def fresh_store(n: int) -> str:  # a store where release 1 is current
        url = (
            (tmp_path / f"store{n}").as_uri() if kind == "file" else s3_server.url(bucket, f"t{n}")
        )
        publish(str(first), open_store(url))
        return url

    env = {**os.environ, **CREDENTIALS, "PYTHONPATH": str(ROOT / "src")}

    def command(url: str) -> list[str]:
        return [sys.executable, "-m", "skewguard", "publish", str(second), "--store", url, "-q"]

    started = time.perf_counter()  # a whole publish, interpreter start included
    subprocess.run(command(fresh_store(0)), env=env, check=True)
    duration = time.perf_counter() - started
    rng = random.Random(11)
    kills = outcomes = trial = 0
    while kills < 10 and trial < 30:  # a run that finished before its kill does not count
        trial += 1
        url = fresh_store(trial)
        store = open_store(url)
        launched = time.perf_counter()
        proc = subprocess.Popen(command(url), env=env, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.0, duration))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        else:  # the first run was slow (a busy machine): aim within the quicker runs
            duration = min(duration, time.perf_counter() - launched)
        proc.wait()
        current = current_release(store)
        assert current in (release_1, release_2)
        assert _complete(store, release_1), "the previous release lost objects"
        assert _complete(store, current), f"current release {current} is incomplete"
        outcomes += current == release_1
        rerun = publish(str(second), open_store(url))  # running it again finishes the job
        assert current_release(store) == release_2 and _complete(store, release_2)
        assert rerun.uploaded + rerun.skipped == rerun.objects
    assert kills >= 10, f"only {kills} kills over a {duration:.2f}s publish"
    assert outcomes >= 1


def test_publish_errors_are_one_line(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    result = run_cli("publish", str(empty), "--store", (tmp_path / "s").as_uri())
    assert result.returncode == 1
    assert result.stderr.startswith("skewguard: error: nothing to publish: manifest not found")
    assert len(result.stderr.splitlines()) == 1
    result = run_cli("publish", str(empty), "--store", "ftp://example/x")
    assert result.returncode == 1 and "use file:///path or s3://bucket/prefix" in result.stderr
    out = build_release(tmp_path, "a", 1)
    css = json.loads((out / "staticfiles.json").read_text())["paths"]["site.css"]
    os.unlink(out / css)
    result = run_cli("publish", str(out), "--store", (tmp_path / "s").as_uri())
    assert result.returncode == 1 and f"{css} is missing" in result.stderr


def test_build_publish_and_the_progress_bar(tmp_path):
    src = tmp_path / "src"
    write_site(src, 1)
    url = (tmp_path / "store").as_uri()
    result = run_cli("build", str(src), "-o", str(tmp_path / "out"), "--publish", url, "--json")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["publish"]["uploaded"] > 0
    assert current_release(open_store(url)) == document["publish"]["release"]
    # On a terminal: a progress bar on stderr (a pseudo-terminal, as a user sees it).
    import pty

    src2 = tmp_path / "src2"
    write_site(src2, 2)
    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "skewguard", "build", str(src2), "-o", str(tmp_path / "o2")]
        + ["--publish", url],
        stdin=follower,
        stdout=follower,
        stderr=follower,
    )
    os.close(follower)
    output = b""
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:
            break
        if not chunk:
            break
        output += chunk
    proc.wait(timeout=60)
    os.close(leader)
    text = output.decode(errors="replace")
    assert proc.returncode == 0, text
    assert "uploading" in text and "published release" in text


def test_publish_register_records_the_release_in_the_registry(tmp_path):
    out = build_release(tmp_path, "a", 1)
    registry = tmp_path / "registry.json"
    url = (tmp_path / "store").as_uri()
    result = run_cli(
        "publish", str(out), "--store", url, "--register", "--registry-path", str(registry)
    )
    assert result.returncode == 0, result.stderr
    version = json.loads((out / "staticfiles.json").read_text())["hash"]
    listed = run_cli("release", "list", "--registry-path", str(registry), "--json")
    [entry] = json.loads(listed.stdout)["releases"]
    assert entry["version"] == version and entry["state"] == "retained"

"""Static serving under real servers, each with its own path for file bodies: uvicorn (ASGI;
it offers no pathsend, so bodies stream), gunicorn (sync worker: ``wsgi.file_wrapper`` with
sendfile) and wsgiref (``wsgi.file_wrapper``). Plus a bounded scenario: rebuilds and prunes into
the live directory of a running uvicorn server under load, with 0 wrong-length responses.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from skewguard.build import BuildOptions, apply_prune, build, plan_prune

from ..build.helpers import write_tree
from ..conftest import ROOT, require_tool
from ..processes import WSGI_RUNNER, free_port, stop, wait_for_http
from .conftest import BIG, SMALL, SOURCES

SERVERS = ("uvicorn", "gunicorn", "wsgiref")


def start_server(name: str, out: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {
        **os.environ,
        "TEST_APP_KIND": "asgi" if name == "uvicorn" else "wsgi",
        "SKEWGUARD_STATIC_ROOT": str(out),
        "SKEWGUARD_SECRET_KEY": "s3cret",
        "SKEWGUARD_VITE_HOT_FILE": "",
        "PYTHONPATH": os.pathsep.join(filter(None, (os.environ.get("PYTHONPATH"), str(ROOT)))),
    }
    app = "tests.runtime.server_app:app"
    if name == "uvicorn":
        command = [sys.executable, "-m", "uvicorn", app, "--port", str(port)]
        command += ["--host", "127.0.0.1", "--log-level", "warning"]
    elif name == "gunicorn":
        if shutil.which("gunicorn", path=os.path.dirname(sys.executable)) is None:
            require_tool("gunicorn")
        command = [sys.executable, "-m", "gunicorn", app, "-b", f"127.0.0.1:{port}"]
        command += ["--workers", "1", "--log-level", "warning"]
    else:
        module = "tests.runtime.server_app"
        command = [
            sys.executable,
            "-c",
            WSGI_RUNNER.format(root=str(ROOT), port=port, module=module),
        ]
    proc = subprocess.Popen(
        command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    base = f"http://127.0.0.1:{port}"
    wait_for_http(base + "/version", proc, name)
    return proc, base


@pytest.fixture
def built(tmp_path: Path) -> Path:
    src = write_tree(tmp_path / "src", SOURCES)
    out = tmp_path / "out"
    build([str(src)], str(out), BuildOptions())
    return out


@pytest.fixture(params=SERVERS)
def server(request: pytest.FixtureRequest, built: Path):  # type: ignore[no-untyped-def]
    proc, base = start_server(request.param, built)
    yield base, built
    stop(proc)


def hashed_url(out: Path, canonical: str) -> str:
    paths = json.loads((out / "staticfiles.json").read_text())["paths"]
    return "/static/" + quote(paths[canonical])


IDENTITY = {"Accept-Encoding": "identity"}


def test_static_under_a_real_server(server) -> None:  # type: ignore[no-untyped-def]
    base, out = server
    with httpx.Client(base_url=base, timeout=10) as client:
        big = client.get(hashed_url(out, "js/big.js"), headers=IDENTITY)
        assert big.status_code == 200 and big.content == BIG
        assert int(big.headers["content-length"]) == len(BIG)
        for first, last in ((0, 9), (5, 9), (0, len(BIG) - 1), (300_000, 300_009)):
            reply = client.get(
                hashed_url(out, "js/big.js"), headers={**IDENTITY, "Range": f"bytes={first}-{last}"}
            )
            assert reply.status_code == 206 and reply.content == BIG[first : last + 1]
        small = client.get(hashed_url(out, "js/app.js"), headers={**IDENTITY, "Range": "bytes=0-9"})
        assert small.status_code == 206 and small.content == SMALL[:10]
        cafe = client.get("/static/img/caf%C3%A9.svg", headers=IDENTITY)
        assert cafe.status_code == 200 and cafe.content == SOURCES["img/café.svg"].encode()
        etag = big.headers["etag"]
        not_modified = client.get(
            hashed_url(out, "js/big.js"), headers={**IDENTITY, "If-None-Match": etag}
        )
        assert not_modified.status_code == 304 and "content-type" not in not_modified.headers
        get, head = client.get("/"), client.head("/")
        assert head.headers["content-length"] == get.headers["content-length"]
        assert int(get.headers["content-length"]) == len(get.content)
        os.remove(out / json.loads((out / "staticfiles.json").read_text())["paths"]["js/big.js"])
        gone = client.get(hashed_url(out, "js/big.js"), headers=IDENTITY)
        assert gone.status_code == 404 and gone.headers["x-app-version"]


def _check(reply: httpx.Response, body: bytes, expected: set[bytes]) -> str | None:
    """What is wrong with a reply from the load below (None: nothing); ``body`` as sent."""
    if reply.status_code == 404:
        return None  # a pruned hashed file, or a canonical name between two builds
    if reply.status_code != 200:
        return f"status {reply.status_code}"
    if int(reply.headers["content-length"]) != len(body):
        return f"declared {reply.headers['content-length']}, sent {len(body)}"
    encoding = reply.headers.get("content-encoding")
    try:
        if encoding == "gzip":
            body = gzip.decompress(body)
        elif encoding == "br":
            import brotli

            body = brotli.decompress(body)
    except Exception as exc:  # noqa: BLE001 - any decoding failure is the finding
        return f"{encoding} body does not decode: {exc!r}"
    return None if body in expected else f"unexpected bytes ({len(body)})"


def test_rebuilds_and_prunes_into_the_live_directory_under_load(tmp_path: Path) -> None:
    sizes = [1501, 4501, 320, 260_000, 1680, 300_000]
    versions = [(f"/*{i}*/" + "x" * (size - 7) + "\n").encode() for i, size in enumerate(sizes)]
    src = write_tree(tmp_path / "src", {"js/app.js": versions[0]})
    out = tmp_path / "out"
    build([str(src)], str(out), BuildOptions())
    proc, base = start_server("uvicorn", out)
    urls = ["/static/js/app.js", hashed_url(out, "js/app.js")]
    problems: list[str] = []
    done = threading.Event()
    counts = [0]

    def load(accept: str) -> None:
        with httpx.Client(base_url=base, timeout=10) as client:
            while not done.is_set():
                for target in list(urls):
                    try:
                        with client.stream(
                            "GET", target, headers={"Accept-Encoding": accept}
                        ) as reply:
                            body = b"".join(reply.iter_raw())
                    except httpx.HTTPError as exc:  # a short body breaks the connection
                        problems.append(f"{target}: {exc!r}")
                        continue
                    counts[0] += 1
                    problem = _check(reply, body, set(versions))
                    if problem:
                        problems.append(f"{target} ({accept}): {problem}")

    threads = [threading.Thread(target=load, args=(a,)) for a in ("identity", "gzip", "gzip, br")]
    try:
        for thread in threads:
            thread.start()
        for data in versions[1:]:
            time.sleep(0.3)
            (src / "js/app.js").write_bytes(data)
            build([str(src)], str(out), BuildOptions())
            urls.append(hashed_url(out, "js/app.js"))
            apply_prune(str(out), plan_prune(str(out), 1, timedelta(0)))
        time.sleep(0.3)
    finally:
        done.set()
        for thread in threads:
            thread.join()
        stop(proc)
    assert counts[0] > 50
    assert not problems, problems[:5]

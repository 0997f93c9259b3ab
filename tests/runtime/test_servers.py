"""Behaviour that needs a real server: unbuffered streaming, and busts racing requests.

ASGI runs under uvicorn, WSGI under a threaded WSGI server (wsgiref with threads), each in its
own process on a free loopback port."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from skewguard.build import BuildOptions, build
from skewguard.tokens import make_token

from ..build.helpers import build_small_site
from ..processes import WSGI_RUNNER, free_port, stop, wait_for_http

HERE = Path(__file__).parent


@pytest.fixture
def built_site(tmp_path):
    return build_small_site(tmp_path, "out")


@pytest.fixture(params=["asgi", "wsgi"])
def server(request, built_site):
    src, out = built_site
    port = free_port()
    root = str(HERE.parent.parent)
    env = {
        **os.environ,
        "TEST_APP_KIND": request.param,
        "SKEWGUARD_STATIC_ROOT": str(out),
        "SKEWGUARD_SECRET_KEY": "s3cret",
        "SKEWGUARD_VITE_HOT_FILE": "",
        "PYTHONPATH": root,
    }
    if request.param == "asgi":
        command = [
            sys.executable,
            "-m",
            "uvicorn",
            "tests.runtime.server_app:app",
            "--port",
            str(port),
            "--host",
            "127.0.0.1",
            "--log-level",
            "warning",
        ]
    else:
        command = [
            sys.executable,
            "-c",
            WSGI_RUNNER.format(root=root, port=port, module="tests.runtime.server_app"),
        ]
    proc = subprocess.Popen(
        command, env=env, cwd=root, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    base = f"http://127.0.0.1:{port}"
    wait_for_http(base + "/version", proc, f"{request.param} server")
    yield request.param, base, src, out
    stop(proc)


def test_streamed_responses_pass_through_unbuffered(server):
    _, base, _, _ = server
    started = time.monotonic()
    with httpx.stream("GET", base + "/stream", timeout=10) as response:
        assert response.headers["x-app-version"]
        chunks = response.iter_raw()
        first = next(chunks)
        first_at = time.monotonic() - started
        rest = b"".join(chunks)
    total = time.monotonic() - started
    assert first.startswith(b"first chunk")
    assert first_at < 1.0, f"first chunk after {first_at:.2f}s: the body was buffered"
    assert total >= 1.4 and b"second chunk" in first + rest


def test_concurrent_busts_never_expose_a_half_updated_version(server):
    kind, base, src, out = server
    versions = {json.loads(httpx.get(base + "/version").content)["version"]}
    # A second build to flip to and from: both releases stay valid.
    (src / "css/app.css").write_text("a{color:blue}")
    build([str(src)], str(out), BuildOptions(compress=False))
    token = make_token("s3cret", 600)
    stop = threading.Event()
    problems: list[str] = []
    seen: set[str] = set()

    def reader():
        with httpx.Client(base_url=base, timeout=10) as client:
            while not stop.is_set():
                r = client.get("/version")
                body = json.loads(r.content)
                # One snapshot per response: header, body version and release all agree.
                if not (r.headers["x-app-version"] == body["version"] == body["release"]["id"]):
                    problems.append(f"{kind}: mixed response {r.headers['x-app-version']} {body}")
                seen.add(body["version"])
                page = client.get("/")
                if page.status_code != 200 or not page.headers.get("x-app-version"):
                    problems.append(f"{kind}: page {page.status_code}")

    threads = [threading.Thread(target=reader) for _ in range(4)]
    for t in threads:
        t.start()
    with httpx.Client(base_url=base, timeout=10) as client:
        for i in range(20):
            r = client.post("/cache/bust", headers={"Authorization": f"Bearer {token}"})
            assert r.status_code == 200, r.text
            versions.add(r.json()["version"])
            if i % 2 == 0:  # alternate between the two builds' manifests
                (src / "css/app.css").write_text("a{color:red}" if i % 4 == 0 else "a{color:blue}")
                build([str(src)], str(out), BuildOptions(compress=False))
    stop.set()
    for t in threads:
        t.join()
    assert not problems, problems[:5]
    assert len(versions) >= 2 and len(seen) >= 2
    assert seen <= versions  # readers only ever saw versions a bust announced (or the first)

"""The container scenario in Chromium: a rolling update from image N to N+1, where each image
holds only its own release, and a tab still running release N keeps working."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from urllib.parse import urlsplit

import httpx
import pytest

from ..conftest import ROOT
from .conftest import CREDENTIALS, AppServer, write_site

pytestmark = pytest.mark.browser


@pytest.fixture
def context(browser):
    ctx = browser.new_context(permissions=["camera", "microphone"])
    yield ctx
    ctx.close()


def _build_and_publish(work, name: str, release: int, store: str):
    """What CI does for one image: a fresh build directory, published to the store."""
    src = work / f"{name}-src"
    write_site(src, release)
    out = work / name
    result = subprocess.run(
        [sys.executable, "-m", "skewguard", "build", str(src), "-o", str(out), "--publish", store],
        capture_output=True,
        text=True,
        env={**CREDENTIALS, "PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT / "src")},
    )
    assert result.returncode == 0, result.stderr
    return out


def test_a_tab_of_release_1_loads_its_chunk_from_a_server_of_release_2(
    tmp_path,
    context,
    store_url,
):
    image_a = _build_and_publish(tmp_path, "image-a", 1, store_url)
    server_a = AppServer("asgi", image_a, store_url, tmp_path, client_poll_interval="0.3")
    page = context.new_page()
    failures: list[str] = []
    # A /version poll that meets the swap (no server for a moment; a load balancer would send it
    # to another replica) fails and is retried: the client's contract. Nothing else may fail.
    page.on(
        "requestfailed",
        lambda r: urlsplit(r.url).path == "/version" or failures.append(f"failed {r.url}"),
    )
    page.on("response", lambda r: r.status >= 400 and failures.append(f"{r.status} {r.url}"))
    page.on("pageerror", lambda e: failures.append(f"error {e}"))
    page.goto(server_a.base + "/")
    page.wait_for_function("window.skewguard !== undefined")
    boot = page.evaluate("performance.timeOrigin")
    version_1 = page.text_content("#release")
    page.evaluate("window.startCamera()")
    page.wait_for_function("window.skewguard.holding.includes('capture')")

    image_b = _build_and_publish(tmp_path, "image-b", 2, store_url)  # a fresh directory
    chunk_1 = json.loads((image_a / "staticfiles.json").read_text())["paths"]["js/chunk.js"]
    assert not (image_b / chunk_1).exists()
    port = server_a.port
    server_a.stop()  # the rolling update: A is gone, B takes its place behind the same address
    shutil.rmtree(image_a)
    server_b = AppServer("asgi", image_b, store_url, tmp_path, port, client_poll_interval="0.3")
    try:
        page.wait_for_function("window.skewguard.stale", timeout=15000)
        assert httpx.get(server_b.base + "/version").json()["version"] != version_1
        page.click("#load")
        page.wait_for_function(
            "document.getElementById('out').textContent.includes('release 1')", timeout=15000
        )
        page.wait_for_timeout(1000)
        assert page.evaluate("performance.timeOrigin") == boot  # no reload while the camera runs
        assert page.text_content("#release") == version_1
        assert page.evaluate("!document.getElementById('clip').paused")
        assert failures == [], failures
        assert "Traceback" not in server_b.log()
    finally:
        server_b.stop()


def test_cdn_setup_static_url_at_the_bucket_and_the_app_serves_no_static(
    tmp_path,
    context,
    s3_env,
    s3_server,
):
    bucket = s3_server.new_bucket()
    store = s3_server.url(bucket, "site")
    # The bucket (or the CDN in front of it) serves files/ to browsers: public reads of files/,
    # and CORS, since module scripts are fetched in CORS mode.
    s3_server.client().put_bucket_policy(
        Bucket=bucket,
        Policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": "*",
                        "Action": "s3:GetObject",
                        "Resource": f"arn:aws:s3:::{bucket}/site/files/*",
                    }
                ],
            }
        ),
    )
    s3_server.client().put_bucket_cors(
        Bucket=bucket,
        CORSConfiguration={
            "CORSRules": [{"AllowedOrigins": ["*"], "AllowedMethods": ["GET", "HEAD"]}]
        },
    )
    image = _build_and_publish(tmp_path, "image", 1, store)
    cdn = f"{s3_server.endpoint}/{bucket}/site/files/"
    server = AppServer("asgi", image, "", tmp_path, static_url=cdn)
    try:
        manifest = json.loads((image / "staticfiles.json").read_text())
        css = manifest["paths"]["site.css"]
        from_cdn = httpx.get(cdn + css)
        assert from_cdn.status_code == 200 and from_cdn.content == (image / css).read_bytes()
        assert from_cdn.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert from_cdn.headers["content-type"] == "text/css; charset=utf-8"
        # The app serves no static file: /static/ paths are the app's own (a 404 here).
        assert httpx.get(f"{server.base}/static/{css}").status_code == 404

        page = context.new_page()
        seen: list[str] = []
        page.on("response", lambda r: seen.append(f"{r.status} {r.url}"))
        page.goto(server.base + "/")
        page.wait_for_function("window.skewguard !== undefined")  # the client, from the bucket
        page.click("#load")
        page.wait_for_function(
            "document.getElementById('out').textContent.includes('release 1')", timeout=15000
        )
        static = [s for s in seen if "/files/" in s]
        assert static and all(s.startswith("200 ") and s.split()[1].startswith(cdn) for s in static)
        assert any("__skewguard/client." in s for s in static)
        assert any(manifest["paths"]["js/chunk.js"] in s for s in static)
    finally:
        server.stop()

"""Several app servers sharing a real Redis: fleet-wide busts, outages, rolling deploys."""

from __future__ import annotations

import threading
import time

import httpx

from skewguard.build import BuildOptions, build
from skewguard.tokens import make_token

from ..build.helpers import write_tree
from ..conftest import run_cli

TOKEN = {
    "Authorization": "Bearer " + make_token("s3cret", 86400)
}  # minted at collection: outlives the suite


def built(root, color: str):
    src = write_tree(root / "src", {"css/app.css": f"a{{color:{color}}}"})
    out = root / "out"
    return src, out, build([str(src)], str(out), BuildOptions(compress=False)).version


def wait_until(predicate, timeout: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if predicate():
            return time.monotonic() - started
        time.sleep(0.02)
    raise AssertionError(f"not within {timeout} s")


def test_a_bust_on_one_server_reaches_every_server_within_a_second(
    tmp_path, redis_server, app_servers
):
    src, out, v1 = built(tmp_path, "red")
    a = app_servers(STATIC_ROOT=str(out), REDIS_URL=redis_server.url)
    b = app_servers(STATIC_ROOT=str(out), REDIS_URL=redis_server.url)
    c = app_servers(STATIC_ROOT=str(out), REDIS_URL=redis_server.url)
    assert a.version() == b.version() == c.version() == v1  # same build, same version everywhere
    (src / "css/app.css").write_text("a{color:blue}")
    v2 = build([str(src)], str(out), BuildOptions(compress=False)).version
    assert httpx.post(a.base + "/cache/bust", headers=TOKEN).json()["version"] == v2
    elapsed = wait_until(lambda: b.version() == v2 and c.version() == v2, timeout=3)
    assert elapsed < 1.0, f"took {elapsed:.2f} s"


def test_redis_outage_keeps_serving_and_converges_after_restart(
    tmp_path, redis_server, app_servers
):
    src, out, v1 = built(tmp_path, "red")
    a = app_servers(STATIC_ROOT=str(out), REDIS_URL=redis_server.url)
    b = app_servers(STATIC_ROOT=str(out), REDIS_URL=redis_server.url)
    redis_server.stop()
    time.sleep(0.5)
    for server in (a, b):  # still answering, from their last known state
        response = httpx.get(server.base + "/version", timeout=5)
        assert response.status_code == 200 and response.json()["version"] == v1
        assert httpx.get(server.base + "/", timeout=5).headers["x-app-version"] == v1
    (src / "css/app.css").write_text("a{color:blue}")
    v2 = build([str(src)], str(out), BuildOptions(compress=False)).version
    bust = httpx.post(a.base + "/cache/bust", headers=TOKEN, timeout=15)
    # Applied where it was received; not a 200, since the fleet could not be told.
    assert bust.status_code == 503 and bust.json()["status"] == "pending"
    assert a.version() == v2 and b.version() == v1
    redis_server.start()
    elapsed = wait_until(lambda: b.version() == v2, timeout=5)  # announced once Redis is back
    assert elapsed < 1.5, f"took {elapsed:.2f} s"


def test_a_hung_redis_never_loses_a_bust(tmp_path, redis_server, app_servers):
    """SIGSTOP: the connection stays open and nothing answers; a quiet pub/sub channel looks
    exactly like that, so only a read with a timeout can tell."""
    src, out, v1 = built(tmp_path, "red")
    a = app_servers(STATIC_ROOT=str(out), REDIS_URL=redis_server.url)
    b = app_servers(STATIC_ROOT=str(out), REDIS_URL=redis_server.url)
    (src / "css/app.css").write_text("a{color:blue}")
    v2 = build([str(src)], str(out), BuildOptions(compress=False)).version
    redis_server.pause()
    try:
        bust = httpx.post(a.base + "/cache/bust", headers=TOKEN, timeout=15)
        assert a.version() == v2 and b.version() == v1  # both still answer
    finally:
        redis_server.resume()
    elapsed = wait_until(lambda: b.version() == v2, timeout=5)  # the bust was not lost
    assert elapsed < 1.5, f"took {elapsed:.2f} s"
    assert bust.status_code == 503 and bust.json()["status"] == "pending"
    # Redis stopped for less than the bust's patience: the bust waits for it and answers 200.
    (src / "css/app.css").write_text("a{color:green}")
    v3 = build([str(src)], str(out), BuildOptions(compress=False)).version
    redis_server.pause()
    threading.Timer(1.5, redis_server.resume).start()
    bust = httpx.post(a.base + "/cache/bust", headers=TOKEN, timeout=15)
    assert bust.status_code == 200 and bust.json()["version"] == v3
    elapsed = wait_until(lambda: b.version() == v3, timeout=3)
    assert elapsed < 1.0, f"took {elapsed:.2f} s"


def inertia_get(base: str, version: str) -> httpx.Response:
    return httpx.get(
        base + "/", headers={"X-Inertia": "true", "X-Inertia-Version": version}, timeout=5
    )


def test_rolling_deploy_without_ping_pong(tmp_path, redis_server, app_servers):
    _, out1, r1 = built(tmp_path / "one", "red")
    _, out2, r2 = built(tmp_path / "two", "blue")
    b = app_servers(STATIC_ROOT=str(out1), REDIS_URL=redis_server.url)  # the old release: active
    a = app_servers(STATIC_ROOT=str(out2), REDIS_URL=redis_server.url)  # the new one, rolling out
    servers = [a, b]

    # Mid-rollout, a client on either release alternates between the servers: zero 409s.
    for client in (r1, r2):
        for i in range(10):
            response = inertia_get(servers[i % 2].base, client)
            assert response.status_code != 409, (client, i)
            if client == r2 and servers[i % 2] is b:
                assert response.headers["x-app-stale"] == "server"  # b is behind: never forced

    # The rollout completes: b gets the new build, then the new release is activated.
    b.stop()
    b = app_servers(STATIC_ROOT=str(out2), REDIS_URL=redis_server.url)
    servers = [a, b]
    activated = run_cli("release", "activate", r2, "--redis-url", redis_server.url)
    assert activated.returncode == 0, activated.stderr
    time.sleep(1.0)  # the activation reaches both servers

    # The client on r1 is moved once, then stays: no ping-pong.
    page_version, conflicts = r1, 0
    for i in range(12):
        server = servers[i % 2]
        response = inertia_get(server.base, page_version)
        if response.status_code == 409:
            conflicts += 1
            reload = httpx.get(
                servers[(i + 1) % 2].base + "/", timeout=5
            )  # the full load lands elsewhere
            page_version = reload.headers["x-app-version"]
    assert conflicts == 1 and page_version == r2

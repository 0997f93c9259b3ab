"""Tab counts in a real Redis: two uvicorn servers agree, an outage is survived, hostile beats
stay inside the documented memory bound."""

from __future__ import annotations

import random
import string
import tracemalloc

import httpx
import redis

from skewguard.telemetry import parse_beat
from skewguard.telemetry.redis_recorder import QUEUE_LIMIT, REDIS_TAB_BYTES, RedisRecorder

from ..conftest import run_cli
from ..deploys.test_fleet import built, wait_until

TOKEN = {"Authorization": "Bearer status-token"}
SETTINGS = {"STATUS_PATH": "/_skewguard/status", "STATUS_TOKEN": "status-token"}


def beat(server, tab: str, release: str, **extra: str) -> httpx.Response:
    params = {"tid": tab, "rel": release, **extra}
    response = httpx.get(server.base + "/version", params=params, timeout=5)
    assert response.status_code == 200
    assert set(response.json()) >= {"version"}  # the answer is the ordinary /version answer
    return response


def counts(server) -> dict:
    response = httpx.get(
        server.base + "/_skewguard/status", params={"format": "json"}, headers=TOKEN, timeout=5
    )
    assert response.status_code == 200, response.text
    document = response.json()
    return {
        "available": document["available"],
        **{
            r["version"]: (r["live"], r["stale"], r["held"], r["reasons"])
            for r in document["releases"]
            if r["live"]
        },
    }


def test_two_servers_sharing_redis_agree_and_survive_an_outage(tmp_path, redis_server, app_servers):
    _, out, version = built(tmp_path, "red")
    a = app_servers(STATIC_ROOT=str(out), REDIS_URL=redis_server.url, **SETTINGS)
    b = app_servers(STATIC_ROOT=str(out), REDIS_URL=redis_server.url, **SETTINGS)
    beat(a, "tab-aaaa-1", version)
    beat(b, "tab-bbbb-2", version, stale="1")
    beat(a, "tab-cccc-3", version, held="call,capture")
    beat(b, "tab-cccc-3", version, held="call,capture")  # the same tab, via the other server
    beat(a, "tab-dddd-4", "not-a-release")  # never counted: the registry does not know it
    expected = {"available": True, version: (3, 1, 1, {"capture": 1, "call": 1})}
    wait_until(lambda: counts(a) == expected and counts(b) == expected, 5)
    unauthorized = httpx.get(a.base + "/_skewguard/status", params={"format": "json"})
    assert unauthorized.status_code == 401

    cli = run_cli("status", "--redis-url", redis_server.url, "--json")
    assert cli.returncode == 0, cli.stderr
    assert '"live": 3' in cli.stdout

    redis_server.stop()
    for server in (a, b):  # the servers keep answering, beats included
        beat(server, "tab-aaaa-1", version)
        assert httpx.get(server.base + "/", timeout=5).status_code == 200
    wait_until(lambda: not counts(a)["available"], 5)
    down = run_cli("status", "--redis-url", redis_server.url)
    assert down.returncode == 1 and "unreachable" in down.stderr

    redis_server.start()  # an empty Redis (no persistence): the counts come back with the beats

    def recovered() -> bool:
        beat(a, "tab-aaaa-1", version)
        beat(b, "tab-bbbb-2", version, stale="1")
        beat(a, "tab-cccc-3", version, held="call,capture")
        return counts(a) == expected and counts(b) == expected

    wait_until(recovered, 15)


def test_hostile_beats_stay_under_the_documented_redis_and_process_bound(redis_server):
    """100,000 beats with random tab ids, garbage releases and every flag set."""
    max_tabs = 10_000
    known = frozenset({"rel-a", "rel-b", "rel-c"})
    recorder = RedisRecorder(redis_server.url, "hostile", window=300, max_tabs=max_tabs)
    recorder._thread = object()  # type: ignore[assignment]  # this test drives the writer itself
    client = redis.Redis.from_url(redis_server.url)
    rng = random.Random(7)
    alphabet = string.ascii_letters + string.digits
    beats = []
    for i in range(100_000):
        tab = "".join(rng.choices(alphabet, k=32))
        release = rng.choice([*known, "".join(rng.choices(alphabet, k=20))])
        query = (
            f"tid={tab}&rel={release}&stale=1&held=media,capture,call,form,request,evil{i}"
            f"&err=100&from=rel-b&waited=99999999"
        )
        parsed = parse_beat(query)
        assert parsed is not None
        beats.append(parsed)

    # In the server: with Redis slow or away, the writer's queue is all that grows, and it is
    # bounded (the oldest beats give way).
    tracemalloc.start()
    process_before = tracemalloc.get_traced_memory()[0]
    for parsed in beats:
        recorder.record(parsed, known)
    process_used = tracemalloc.get_traced_memory()[0] - process_before
    tracemalloc.stop()
    assert len(recorder._queue) == QUEUE_LIMIT
    assert process_used < QUEUE_LIMIT * 100, process_used  # the queue's slots, not the beats
    recorder._queue.clear()

    # In Redis: every beat written.
    before = client.info("memory")["used_memory"]
    for start in range(0, len(beats), 5000):
        for parsed in beats[start : start + 5000]:
            recorder.record(parsed, known)
        while recorder._queue:
            recorder.flush()
    used = client.info("memory")["used_memory"] - before
    bound = len(known) * max_tabs * REDIS_TAB_BYTES
    assert used < bound, f"Redis grew by {used} bytes (bound {bound})"
    report = recorder.report()
    assert {r.version for r in report.releases} == set(known)
    assert all(r.live == max_tabs for r in report.releases)
    assert report.dropped > 100_000 / 4 * 0.9  # the garbage releases, at least
    names = {k.decode() for k in client.scan_iter("hostile:*")}
    # Only known release names ever become keys; garbage names never reach Redis.
    assert all(
        any(rel in name for rel in known) or name.split(":")[2] in ("releases", "dropped", "chunks")
        for name in names
    ), names

"""The heartbeat parser and the in-process window: plain data, no server."""

from __future__ import annotations

import random
import string
import tracemalloc

from skewguard.telemetry import TabWindow, parse_beat
from skewguard.telemetry.window import TAB_BYTES

KNOWN = frozenset({"rel-a", "rel-b"})


def beat_query(tab: str = "tab-0001", rel: str = "rel-a", **extra: str) -> str:
    return "&".join([f"tid={tab}", f"rel={rel}", *(f"{k}={v}" for k, v in extra.items())])


def test_a_full_beat_parses():
    beat = parse_beat(
        beat_query(
            stale="1", held="capture,call,media", err="2", **{"from": "rel-b"}, waited="8400"
        )
    )
    assert beat is not None
    assert (beat.tab, beat.release, beat.stale) == ("tab-0001", "rel-a", True)
    assert beat.held == ("media", "capture", "call")
    assert beat.chunk_errors == 2
    assert (beat.converged_from, beat.stale_seconds) == ("rel-b", 8.4)


def test_forged_values_are_refused_or_clipped():
    assert parse_beat("") is None
    assert parse_beat("tab=whatever") is None  # another app's query, not a beat
    assert parse_beat(beat_query(tab="short")) is None
    assert parse_beat(beat_query(tab="x" * 33)) is None
    assert parse_beat(beat_query(tab="a/b/../c%00d")) is None
    assert parse_beat(beat_query(rel="<script>")) is None
    assert parse_beat(beat_query(rel="r" * 65)) is None
    assert parse_beat(beat_query() + "&pad=" + "x" * 600) is None  # over the size limit
    beat = parse_beat(beat_query(err="1e9", held="upload,media,evil\u0000", waited="-5"))
    assert beat is not None
    assert beat.chunk_errors == 100  # clipped
    assert beat.held == ("media", "app")  # an app's own reasons count as "app", never by name
    assert beat.stale_seconds is None  # no "from": not a convergence
    nan = parse_beat(beat_query(err="nan", **{"from": "rel-b"}, waited="nan"))
    assert nan is not None and nan.chunk_errors == 0 and nan.stale_seconds is None
    same = parse_beat(beat_query(**{"from": "rel-a"}, waited="100"))
    assert same is not None and same.converged_from is None  # "from" itself: no convergence


def test_the_window_counts_per_release_and_moves_converged_tabs():
    window = TabWindow(window=60, max_tabs=100)
    now = 1_000_000.0
    for query in (
        beat_query("tab-0001", "rel-a", stale="1", held="capture,call"),
        beat_query("tab-0002", "rel-a"),
        beat_query("tab-0003", "rel-b", err="3"),
    ):
        beat = parse_beat(query)
        assert beat is not None
        assert window.record(beat, KNOWN, now)
    report = window.report(now)
    a, b = report.get("rel-a"), report.get("rel-b")
    assert (a.live, a.stale, a.held, dict(a.reasons)) == (2, 1, 1, {"capture": 1, "call": 1})
    assert (b.live, b.chunk_errors) == (1, 3)
    # tab-0001 converges on rel-b: it moves, it is not counted twice
    moved = parse_beat(beat_query("tab-0001", "rel-b", **{"from": "rel-a"}, waited="4000"))
    assert moved is not None and window.record(moved, KNOWN, now + 1)
    report = window.report(now + 1)
    assert (report.get("rel-a").live, report.get("rel-a").held) == (1, 0)
    assert report.get("rel-b").live == 2
    assert list(report.get("rel-b").convergence) == [4.0]
    # the window passes: the tabs that stopped beating are gone; chunk errors (kept per
    # minute) a minute later
    assert window.report(now + 62).live == 0
    assert window.report(now + 125).get("rel-b").chunk_errors == 0


def test_unknown_releases_and_the_tab_cap_only_count_as_dropped():
    window = TabWindow(window=60, max_tabs=3)
    now = 2_000_000.0
    for i in range(5):
        window.record(parse_beat(beat_query(f"tab-{i:04d}", "rel-a")), KNOWN, now)  # type: ignore[arg-type]
    window.record(parse_beat(beat_query("tab-9999", "nobody-knows")), KNOWN, now)  # type: ignore[arg-type]
    report = window.report(now)
    assert report.get("rel-a").live == 3
    assert report.dropped == 3
    assert [r.version for r in report.releases] == ["rel-a"]  # the garbage name is not kept
    # a tab already counted keeps beating although the release is full
    assert window.record(parse_beat(beat_query("tab-0000", "rel-a")), KNOWN, now + 1)  # type: ignore[arg-type]


def test_hostile_beats_stay_under_the_documented_process_memory_bound():
    """100,000 beats with random tab ids, garbage releases and every flag set: the window's
    memory stays under releases x max_tabs x TAB_BYTES (measured with tracemalloc)."""
    rng = random.Random(12)
    alphabet = string.ascii_letters + string.digits
    max_tabs = 20_000
    window = TabWindow(window=300, max_tabs=max_tabs)
    beats = []
    for i in range(100_000):
        tab = "".join(rng.choices(alphabet, k=24))
        rel = rng.choice(["rel-a", "rel-b", "".join(rng.choices(alphabet, k=12))])
        held = "media,capture,call,form,request,x" + str(i)
        query = beat_query(tab, rel, stale="1", held=held, err="100")
        beats.append(parse_beat(query))
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    now = 3_000_000.0
    for i, beat in enumerate(beats):
        assert beat is not None
        window.record(beat, KNOWN, now + i / 1000)
    used = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    report = window.report(now + 100)
    assert report.get("rel-a").live == max_tabs and report.get("rel-b").live == max_tabs
    assert report.dropped > 30_000  # the garbage-release third plus everything over the cap
    bound = len(KNOWN) * max_tabs * TAB_BYTES
    assert used < bound, f"{used} bytes for {len(window)} tabs (bound {bound})"

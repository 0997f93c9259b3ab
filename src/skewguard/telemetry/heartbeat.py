"""The heartbeat a tab adds to its ``/version`` poll, and the rules that make it safe to count.

The browser client appends a few query parameters to the poll it already makes (no extra
request, the response is unchanged)::

    /version?tid=9f3c51d2a8e0b4c7&rel=3f2a9c1d0b7e&stale=1&held=media,form&err=2&from=1a2b3c&waited=8400

Everything in it is forgeable, so parsing is strict and every value is bounded: a tab id is 8-32
URL-safe characters, a release must look like a version, reasons come from a fixed list (anything
else an app passes to ``skewguard.hold()`` counts as "app"), numbers are clipped. Whether the
release is one the registry knows is the recorder's question, not the parser's. Nothing about the
sender (address, cookies, user agent) is ever read.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import NamedTuple
from urllib.parse import unquote

from ..settings import VERSION_PATTERN

# What can hold a tab: a playing video or audio, a camera or microphone capture, a WebRTC call,
# a dirty form, a request in flight, or the app itself (skewguard.hold()).
REASONS = ("media", "capture", "call", "form", "request", "app")
_TAB_ID = re.compile(r"^[A-Za-z0-9_-]{8,32}$")
MAX_CHUNK_ERRORS = 100  # per beat: a page that fails more often than this is simply broken
MAX_WAITED_SECONDS = 30 * 86400.0  # a convergence longer than a month is a clock problem
_FIELDS = frozenset(("tid", "rel", "stale", "held", "err", "from", "waited"))
_MAX_QUERY = 512  # a real beat is ~150 bytes; longer query strings are not parsed at all


class Beat(NamedTuple):
    """One tab's report: which release it runs and what state it is in. (A named tuple: one is
    made per beat, and a tuple is several times cheaper to make than a frozen dataclass.)"""

    tab: str
    release: str
    stale: bool = False
    held: tuple[str, ...] = ()  # a subset of REASONS, in REASONS order
    chunk_errors: int = 0  # chunk-load failures since the tab's previous beat
    converged_from: str | None = None  # set on the first beat after a reload skewguard caused
    stale_seconds: float | None = None  # how long the tab ran the old release before converging


def parse_beat(query: str) -> Beat | None:
    """The beat in a ``/version`` query string; None when there is none or it is malformed."""
    if not query or len(query) > _MAX_QUERY or "tid=" not in query:
        return None
    fields: dict[str, str] = {}
    for part in query.split("&", 16)[:16]:
        name, _, value = part.partition("=")
        if name in _FIELDS and name not in fields:
            fields[name] = unquote(value) if "%" in value else value
    tab = fields.get("tid", "")
    release = fields.get("rel", "")
    if not _TAB_ID.match(tab) or not VERSION_PATTERN.match(release):
        return None
    held = _reasons(fields.get("held", ""))
    source = fields.get("from") or None
    if source is not None and (source == release or not VERSION_PATTERN.match(source)):
        source = None
    waited = _number(fields.get("waited"), MAX_WAITED_SECONDS * 1000)
    return Beat(
        tab=tab,
        release=release,
        stale=fields.get("stale") == "1",
        held=held,
        chunk_errors=int(_number(fields.get("err"), MAX_CHUNK_ERRORS) or 0),
        converged_from=source,
        stale_seconds=waited / 1000 if source is not None and waited is not None else None,
    )


@lru_cache(maxsize=256)  # a fleet sends a handful of distinct values; forged ones just miss
def _reasons(text: str) -> tuple[str, ...]:
    if not text:
        return ()
    named = set(text.split(",")[: len(REASONS) + 4])
    known = {r for r in named if r in REASONS}
    if named - known:
        known.add("app")  # an app's own reason: counted, never stored by name
    return tuple(r for r in REASONS if r in known)


def _number(text: str | None, cap: float) -> float | None:
    if not text or len(text) > 12:
        return None
    try:
        value = float(text)
    except ValueError:
        return None
    if value != value or value < 0:  # NaN or negative
        return None
    return min(value, cap)

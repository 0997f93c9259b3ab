"""Counting tabs fleet-wide in Redis, within a hard memory bound.

Per release four keys, trimmed to the window by every batch of beats and expiring after two
windows without one: ``tabs:<release>`` and ``stale:<release>`` and ``held:<release>`` (sorted sets of tab
ids scored by the time of their last beat) and ``why:<release>`` (a hash: held tab id -> its
reasons). A release holds at most ``max_tabs`` ids; new ids beyond that only bump a per-minute
``dropped`` counter, and so do beats from releases the registry does not know (those never reach
Redis as names). Besides: per-minute chunk-error hashes, the last 500 convergence times per
release, and one small once-a-minute history sample. Redis memory is therefore at most about
``releases x max_tabs x REDIS_TAB_BYTES`` (docs/operations.md has the figures).

Requests never wait for Redis: beats go to a bounded queue that a background thread writes in
pipelines. While Redis is away beats are dropped (the servers keep answering) and reports say
``available: false``; once it is back the next beats rebuild the counts within one poll interval.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import threading
import time
from collections import deque
from collections.abc import Container
from typing import Any

import redis

from .heartbeat import Beat
from .report import ReleaseTabs, TabsReport
from .window import CONVERGENCE_KEPT, HISTORY_MINUTES, minute_of

logger = logging.getLogger("skewguard")

REDIS_TAB_BYTES = (
    700  # worst case per tab id (32 characters, live, stale and held for every reason)
)
QUEUE_LIMIT = 50_000  # beats waiting for the writer; more (Redis slow or away) are dropped
FLUSH_SECONDS = 0.05
BATCH = 200  # beats per script call

# One call writes a batch of beats: ARGV = prefix, window, max_tabs, convergence kept, and the
# beats as one string, a line each: "<time> <tab> <release> <stale> <held> <from> <errors>
# <waited>" (held, from and waited may be empty; none of the fields can hold a space). One
# argument, not nine per beat: the client's cost of packing arguments was most of a beat's.
# Each release's keys are trimmed to the window and given their expiry once per batch.
_BEATS = """
local p, win, cap, kept = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local ttl = math.ceil(win * 2)
local function keys(r)
  return p .. ':tabs:' .. r, p .. ':stale:' .. r, p .. ':held:' .. r, p .. ':why:' .. r
end
local trimmed = {}
local counted = 0
local line = '(%S+) (%S+) (%S+) (%S) ([^ ]*) ([^ ]*) (%d+) ([^\\n]*)\\n'
for now, tab, rel, stale, held, from, errors, waited in string.gmatch(ARGV[5], line) do
  now, errors = tonumber(now), tonumber(errors)
  local minute = string.format('%d', math.floor(now / 60) * 60)
  if from ~= '' then
    local t, s, h, why = keys(from)
    redis.call('ZREM', t, tab)
    redis.call('ZREM', s, tab)
    redis.call('ZREM', h, tab)
    redis.call('HDEL', why, tab)
  end
  local t, s, h, why = keys(rel)
  if not trimmed[rel] then
    trimmed[rel] = true
    local cutoff = '(' .. (now - win)
    redis.call('ZREMRANGEBYSCORE', t, '-inf', cutoff)
    redis.call('ZREMRANGEBYSCORE', s, '-inf', cutoff)
    local gone = redis.call('ZRANGEBYSCORE', h, '-inf', cutoff, 'LIMIT', 0, 1000)
    if #gone > 0 then
      redis.call('ZREM', h, unpack(gone))
      redis.call('HDEL', why, unpack(gone))
    end
    redis.call('ZADD', p .. ':releases', now, rel)
  end
  if not redis.call('ZSCORE', t, tab) and redis.call('ZCARD', t) >= cap then
    local d = p .. ':dropped:' .. minute
    redis.call('INCR', d)
    redis.call('EXPIRE', d, ttl + 120)
  else
    counted = counted + 1
    redis.call('ZADD', t, now, tab)
    if stale == '1' then
      redis.call('ZADD', s, now, tab)
    else
      redis.call('ZREM', s, tab)
    end
    if held ~= '' then
      redis.call('ZADD', h, now, tab)
      redis.call('HSET', why, tab, held)
    else
      redis.call('ZREM', h, tab)
      redis.call('HDEL', why, tab)
    end
    if errors > 0 then
      local c = p .. ':chunks:' .. minute
      redis.call('HINCRBY', c, rel, errors)
      redis.call('EXPIRE', c, ttl + 120)
    end
    if waited ~= '' then
      local c = p .. ':conv:' .. rel
      redis.call('LPUSH', c, waited)
      redis.call('LTRIM', c, 0, kept - 1)
      redis.call('EXPIRE', c, 604800)
    end
  end
end
for rel, _ in pairs(trimmed) do
  local t, s, h, why = keys(rel)
  redis.call('EXPIRE', t, ttl)
  redis.call('EXPIRE', s, ttl)
  redis.call('EXPIRE', h, ttl)
  redis.call('EXPIRE', why, ttl)
end
return counted
"""


class RedisRecorder:
    backend = "redis"

    def __init__(self, url: str, prefix: str, window: float, max_tabs: int) -> None:
        self.client = redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)
        self.url = url
        self.prefix = prefix + ":tabs"
        self.window = window
        self.max_tabs = max_tabs
        # Called by its sha; loaded when Redis says it has not got it (first use, a restart).
        self._sha = hashlib.sha1(_BEATS.encode()).hexdigest()
        self._queue: deque[tuple[Beat, float]] = deque(maxlen=QUEUE_LIMIT)
        self._unknown = 0  # beats from releases nobody registered, not yet written
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._down = False
        self._last: TabsReport | None = None
        self._sampled_minute = 0.0

    def record(self, beat: Beat, known: Container[str]) -> None:
        if beat.release in known:
            self._queue.append((beat, time.time()))  # deque.append is atomic: no lock needed
        else:
            self._unknown += 1
        if self._thread is None:
            self._start()

    def _start(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="skewguard-tabs-redis", daemon=True
                )
                self._thread.start()

    def _run(self) -> None:
        backoff = FLUSH_SECONDS
        while not self._stop.wait(backoff):
            try:
                self.flush()
                self._sample()
                backoff = FLUSH_SECONDS
                self._came_back()
            except redis.RedisError as exc:
                self._went_down(exc)
                self._queue.clear()  # stale beats are worthless: the tabs beat again soon
                backoff = min(max(backoff * 2, 0.2), 2.0)
            except Exception:  # a telemetry thread must never die
                logger.exception("skewguard: writing tab telemetry to Redis failed")

    def flush(self) -> None:
        """Write what is queued (raises redis.RedisError when Redis is unreachable)."""
        queue = self._queue
        if not queue and not self._unknown:
            return
        batches: list[str] = []
        while queue and len(batches) < 20:
            lines = []
            for _ in range(min(BATCH, len(queue))):
                beat, at = queue.popleft()
                waited = beat.stale_seconds
                lines.append(
                    f"{at:.3f} {beat.tab} {beat.release} {'1' if beat.stale else '0'}"
                    f" {','.join(beat.held)} {beat.converged_from or ''} {beat.chunk_errors}"
                    f" {'' if waited is None else f'{waited:.3f}'}\n"
                )
            batches.append("".join(lines))
        unknown, self._unknown = self._unknown, 0
        try:
            self._write(batches, unknown)
        except redis.exceptions.NoScriptError:
            # A restarted or flushed Redis has lost the script: load it, write again.
            self.client.script_load(_BEATS)
            self._write(batches, 0)

    def _write(self, batches: list[str], unknown: int) -> None:
        head = (self.prefix, self.window, self.max_tabs, CONVERGENCE_KEPT)
        pipe = self.client.pipeline(transaction=False)
        if unknown:
            key = f"{self.prefix}:dropped:{int(minute_of(time.time()))}"
            pipe.incrby(key, unknown)
            pipe.expire(key, math.ceil(self.window * 2) + 120)
        for batch in batches:
            pipe.evalsha(self._sha, 0, *head, batch)
        pipe.execute()

    def _sample(self) -> None:
        """Once a minute one server (whichever comes first) stores the fleet's live counts."""
        minute = minute_of(time.time())
        if minute == self._sampled_minute:
            return
        first = not self._sampled_minute
        self._sampled_minute = minute
        if first:
            return
        counts = {r.version: r.live for r in self.report().releases if r.live}
        self.client.set(
            f"{self.prefix}:hist:{int(minute)}",
            json.dumps(counts),
            nx=True,
            ex=HISTORY_MINUTES * 60 + 600,
        )

    def report(self) -> TabsReport:
        try:
            report = self._read()
        except redis.RedisError as exc:
            self._went_down(exc)
            last = self._last or TabsReport(time.time(), self.window, self.backend)
            return TabsReport(
                last.at, last.window, last.backend, last.releases, last.history, last.dropped, False
            )
        self._last = report
        return report

    def _read(self) -> TabsReport:
        now = time.time()
        cutoff = now - self.window
        p = self.prefix
        client = self.client
        client.zremrangebyscore(f"{p}:releases", "-inf", now - HISTORY_MINUTES * 60)
        found: list[bytes] = client.zrangebyscore(f"{p}:releases", cutoff, "+inf")  # type: ignore[assignment]
        names = [n.decode() for n in found]
        pipe = client.pipeline(transaction=False)
        for name in names:
            pipe.zcount(f"{p}:tabs:{name}", cutoff, "+inf")
            pipe.zcount(f"{p}:stale:{name}", cutoff, "+inf")
            pipe.zrangebyscore(f"{p}:held:{name}", cutoff, "+inf")
            pipe.lrange(f"{p}:conv:{name}", 0, CONVERGENCE_KEPT - 1)
        first, last = int(minute_of(cutoff)), int(minute_of(now))
        minutes = list(range(first, last + 1, 60))
        for minute in minutes:
            pipe.hgetall(f"{p}:chunks:{minute}")
        pipe.mget([f"{p}:dropped:{minute}" for minute in minutes])
        history_minutes = list(range(last - (HISTORY_MINUTES - 1) * 60, last + 1, 60))
        pipe.mget([f"{p}:hist:{minute}" for minute in history_minutes])
        results: list[Any] = pipe.execute()
        per_release = [results[i * 4 : i * 4 + 4] for i in range(len(names))]
        rest = results[len(names) * 4 :]
        chunk_maps, dropped_values, history_values = rest[:-2], rest[-2], rest[-1]
        chunks: dict[str, int] = {}
        for mapping in chunk_maps:
            for release, count in mapping.items():
                chunks[release.decode()] = chunks.get(release.decode(), 0) + int(count)
        releases = []
        for name, (live, stale, held_ids, convergence) in zip(names, per_release, strict=True):
            reasons: dict[str, int] = {}
            if held_ids:
                values: list[bytes | None] = client.hmget(f"{p}:why:{name}", held_ids)  # type: ignore[assignment]
                for value in values:
                    for reason in (value or b"").decode().split(","):
                        if reason:
                            reasons[reason] = reasons.get(reason, 0) + 1
            releases.append(
                ReleaseTabs(
                    version=name,
                    live=int(live),
                    stale=int(stale),
                    held=len(held_ids),
                    reasons=reasons,
                    chunk_errors=chunks.get(name, 0),
                    convergence=tuple(float(v) for v in reversed(convergence)),
                )
            )
        history = tuple(
            (float(minute), json.loads(value))
            for minute, value in zip(history_minutes, history_values, strict=True)
            if value
        )
        return TabsReport(
            at=now,
            window=self.window,
            backend=self.backend,
            releases=tuple(sorted(releases, key=lambda r: r.version)),
            history=history,
            dropped=sum(int(v) for v in dropped_values if v),
        )

    def close(self) -> None:
        self._stop.set()

    def _went_down(self, exc: Exception) -> None:
        if not self._down:
            self._down = True
            logger.warning("skewguard: tab telemetry: Redis at %s unreachable (%s)", self.url, exc)

    def _came_back(self) -> None:
        if self._down:
            self._down = False
            logger.warning("skewguard: tab telemetry: Redis at %s reachable again", self.url)

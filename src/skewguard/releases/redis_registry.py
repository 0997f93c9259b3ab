"""The registry in Redis: one key holds the state (updated in WATCH/MULTI transactions), one
channel announces changes.

Every worker listens on the channel and also re-reads the key every ``poll_seconds``: the read is
the health check (a hung Redis, stopped with SIGSTOP say, answers nothing, and the read times out
where a quiet channel would not), and it catches a change whose message was lost. While Redis is
unreachable, workers keep their last known state, log once, and retry every half second; a bust
made meanwhile is announced as soon as Redis answers again.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import time
from collections.abc import Callable

import redis

from .base import RegistryError, RegistryUnreachable, ReleaseRegistry, describe
from .model import RegistryState

logger = logging.getLogger("skewguard")

SOCKET_TIMEOUT = 1.0  # a Redis that does not answer within this is treated as down
RETRY_SECONDS = 0.5  # between reconnection attempts
WORKER_TTL = 5  # seconds a worker's record outlives its last refresh (then it counts as gone)


class RedisRegistry(ReleaseRegistry):
    def __init__(self, url: str, prefix: str = "skewguard", poll_seconds: float = 0.5):
        super().__init__()
        self.url = url
        self.key = f"{prefix}:registry"
        self.channel = f"{prefix}:changes"
        self.workers = f"{prefix}:worker:"
        self.poll_seconds = poll_seconds
        self.client = self._connect()
        self._last = RegistryState()
        self._down = False

    def _connect(self) -> redis.Redis:
        try:
            return redis.Redis.from_url(
                self.url, socket_timeout=SOCKET_TIMEOUT, socket_connect_timeout=SOCKET_TIMEOUT
            )
        except ValueError as exc:
            raise RegistryError(f"invalid REDIS_URL: {exc}") from None

    def _forked(self) -> None:
        self.client = self._connect()  # connections are never shared with a parent process

    def _parse(self, raw: bytes | None) -> RegistryState:
        if not raw:
            return RegistryState()
        try:
            return RegistryState.from_json(json.loads(raw))
        except (ValueError, UnicodeDecodeError) as exc:
            raise RegistryError(
                f"the registry in Redis ({self.key}) is not a registry ({describe(exc)})"
            ) from None

    def state(self) -> RegistryState:
        try:
            raw = self.client.get(self.key)
        except redis.RedisError as exc:
            self._went_down(exc)
            return self._last
        self._came_back()
        self._last = self._parse(raw)  # type: ignore[arg-type]
        return self._last

    def _update(self, change: Callable[[RegistryState], RegistryState]) -> RegistryState:
        try:
            with self.client.pipeline() as pipe:
                while True:
                    try:
                        pipe.watch(self.key)  # type: ignore[no-untyped-call]
                        new = change(self._parse(pipe.get(self.key)))  # type: ignore[arg-type]
                        pipe.multi()
                        pipe.set(self.key, json.dumps(new.as_json()))
                        pipe.publish(self.channel, b"changed")
                        pipe.execute()
                        self._last = new
                        return new
                    except redis.WatchError:
                        continue  # another server changed it meanwhile: apply ours on top
        except redis.RedisError as exc:
            self._went_down(exc)
            raise RegistryUnreachable(
                f"Redis at {self.url} is unreachable ({describe(exc)})"
            ) from None

    # -- workers: each refreshes "<prefix>:worker:<host>:<pid>" = the bust it applied --------

    def _worker_key(self) -> str:
        return f"{self.workers}{socket.gethostname()}:{os.getpid()}"

    def acknowledge(self, state: RegistryState) -> None:
        try:
            self.client.set(self._worker_key(), str(state.bust), ex=WORKER_TTL)
        except redis.RedisError as exc:
            self._went_down(exc)

    def wait_for(self, bust: int, timeout: float) -> list[str]:
        deadline = time.monotonic() + timeout
        own = self._worker_key().encode()
        late: list[str] = []
        try:
            while True:
                keys = [k for k in self.client.scan_iter(match=self.workers + "*") if k != own]
                values = self.client.mget(keys) if keys else []
                late = [
                    key.decode()[len(self.workers) :]
                    for key, value in zip(keys, values, strict=True)
                    if value is not None and int(value) < bust
                ]
                if not late or time.monotonic() >= deadline:
                    return late
                time.sleep(0.01)
        except redis.RedisError as exc:  # cannot tell: do not hold the bust up
            self._went_down(exc)
            return late
        except ValueError:  # a record that is not a number: not one of ours
            return late

    def _watch_loop(self) -> None:
        applied: bytes | None = None
        served = RegistryState()
        while self._listener() is not None:
            pubsub = None
            try:
                pubsub = self.client.pubsub(ignore_subscribe_messages=True)  # type: ignore[no-untyped-call]
                pubsub.subscribe(self.channel)
                while True:
                    self._announce_pending()
                    raw = self.client.get(self.key)  # the re-read, and the health check
                    self._came_back()
                    if raw != applied:
                        state = self._parse(raw)  # type: ignore[arg-type]
                        self._last = state
                        if not self._deliver(state):
                            return
                        applied, served = raw, state  # type: ignore[assignment]
                    else:
                        self.acknowledge(served)  # still here: refresh the record
                    # Wake at once on an announcement, else after poll_seconds; drain the rest.
                    pubsub.get_message(timeout=self.poll_seconds)
                    while pubsub.get_message(timeout=0) is not None:
                        pass
            except (redis.RedisError, RegistryError, OSError) as exc:
                self._went_down(exc)
                time.sleep(RETRY_SECONDS)
            finally:
                if pubsub is not None:
                    try:
                        pubsub.close()
                    except (redis.RedisError, OSError):
                        pass

    def _went_down(self, exc: Exception) -> None:
        if not self._down:
            self._down = True
            logger.warning(
                "skewguard: Redis at %s unreachable (%s); serving the last known state",
                self.url,
                describe(exc),
            )

    def _came_back(self) -> None:
        if self._down:
            self._down = False
            logger.warning("skewguard: Redis at %s reachable again", self.url)

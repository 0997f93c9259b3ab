"""The registry in Redis: one key holds the state (updated in WATCH/MULTI transactions), one
channel announces changes. If Redis goes away, servers keep their last known state, log once,
and reconnect with backoff; on reconnecting they re-read the state (catching up)."""

from __future__ import annotations

import json
import logging
import threading
import time

import redis

from .model import RegistryState
from .registry import RegistryError, ReleaseRegistry

logger = logging.getLogger("skewguard")


class RedisRegistry(ReleaseRegistry):
    def __init__(self, url: str, prefix: str = "skewguard"):
        try:
            self.client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        except ValueError as exc:
            raise RegistryError(f"invalid REDIS_URL: {exc}") from None
        self.url = url
        self.key = f"{prefix}:registry"
        self.channel = f"{prefix}:changes"
        self._last = RegistryState()
        self._down = False
        self._watching = False

    def state(self) -> RegistryState:
        try:
            raw = self.client.get(self.key)
        except redis.RedisError as exc:
            self._went_down(exc)
            return self._last
        self._came_back()
        self._last = RegistryState.from_json(json.loads(raw)) if raw else RegistryState()
        return self._last

    def _update(self, change):
        try:
            with self.client.pipeline() as pipe:
                while True:
                    try:
                        pipe.watch(self.key)
                        raw = pipe.get(self.key)
                        new = change(
                            RegistryState.from_json(json.loads(raw)) if raw else RegistryState()
                        )
                        pipe.multi()
                        pipe.set(self.key, json.dumps(new.as_json()))
                        pipe.publish(self.channel, b"changed")
                        pipe.execute()
                        self._last = new
                        return new
                    except redis.WatchError:
                        continue  # another server changed it meanwhile: apply ours on top
        except redis.RedisError as exc:
            raise RegistryError(f"Redis at {self.url} is unreachable ({exc})") from None

    def watch(self, on_change) -> None:
        if self._watching:
            return
        self._watching = True
        threading.Thread(
            target=self._listen, args=(on_change,), name="skewguard-redis", daemon=True
        ).start()

    def _listen(self, on_change) -> None:
        backoff = 0.1
        while True:
            pubsub = None
            try:
                pubsub = self.client.pubsub(ignore_subscribe_messages=True)
                pubsub.subscribe(self.channel)
                self._apply(on_change)  # catch up on what happened while we were away
                backoff = 0.1
                while True:
                    message = pubsub.get_message(timeout=1.0)
                    if message is not None and message.get("type") == "message":
                        self._apply(on_change)
            except redis.RedisError as exc:
                self._went_down(exc)
                time.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
            finally:
                if pubsub is not None:
                    try:
                        pubsub.close()
                    except redis.RedisError:
                        pass

    def _apply(self, on_change) -> None:
        state = self.state()
        try:
            on_change(state)
        except Exception:  # a watcher must never die
            logger.exception("skewguard: applying a registry change failed")

    def _went_down(self, exc: Exception) -> None:
        if not self._down:
            self._down = True
            logger.warning(
                "skewguard: Redis at %s unreachable (%s); serving the last known state",
                self.url,
                exc,
            )

    def _came_back(self) -> None:
        if self._down:
            self._down = False
            logger.warning("skewguard: Redis at %s reachable again", self.url)

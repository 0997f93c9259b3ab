"""Real Redis and real app servers on loopback ports, started and stopped by the fixtures."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from ..conftest import ROOT, require_tool
from ..processes import free_port, stop, wait_for_http


class RedisServer:
    def __init__(self, workdir: Path):
        self.binary = require_tool("redis-server")
        self.port = free_port()
        self.workdir = workdir
        self.proc: subprocess.Popen | None = None
        self.start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        import redis

        deadline = time.monotonic() + 10
        while True:
            try:
                redis.Redis(port=self.port).ping()
                return
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise RuntimeError("redis-server did not start")
                time.sleep(0.05)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def redis_server(tmp_path):
    server = RedisServer(tmp_path)
    yield server
    server.stop()


class AppServer:
    """tests/runtime/server_app.py under uvicorn with the given SKEWGUARD_* settings."""

    def __init__(self, **settings: str):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = {
            **os.environ,
            "TEST_APP_KIND": "asgi",
            "SKEWGUARD_VITE_HOT_FILE": "",
            "PYTHONPATH": str(ROOT),
            "SKEWGUARD_SECRET_KEY": "s3cret",
            **{f"SKEWGUARD_{k}": v for k, v in settings.items()},
        }
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "tests.runtime.server_app:app",
                "--port",
                str(self.port),
                "--host",
                "127.0.0.1",
                "--log-level",
                "warning",
            ],
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        wait_for_http(self.base + "/version", self.proc, "app server")

    def version(self) -> str:
        return httpx.get(self.base + "/version", timeout=5).json()["version"]

    def stop(self) -> None:
        stop(self.proc)


@pytest.fixture
def app_servers():
    servers: list[AppServer] = []

    def start(**settings: str) -> AppServer:
        server = AppServer(**settings)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()

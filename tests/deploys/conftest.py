"""Real Redis and real app servers on loopback ports, started and stopped by the fixtures."""

from __future__ import annotations

import os
import signal
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
                    raise RuntimeError("redis-server did not start") from None
                time.sleep(0.05)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.resume()
            self.proc.kill()
            self.proc.wait()

    def pause(self) -> None:
        """SIGSTOP: Redis hangs, its connections stay open and nothing answers."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)


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


class Server:
    """tests/deploys/server_app.py under a real server: ``uvicorn`` (ASGI), ``gunicorn`` or
    ``gunicorn-preload`` (WSGI, threaded workers), with ``workers`` processes, configured only by
    SKEWGUARD_* settings."""

    def __init__(self, kind: str, workers: int = 1, **settings: str):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = {
            **os.environ,
            "TEST_APP_KIND": "asgi" if kind == "uvicorn" else "wsgi",
            "SKEWGUARD_VITE_HOT_FILE": "",
            "PYTHONPATH": str(ROOT),
            "SKEWGUARD_SECRET_KEY": "s3cret",
            **{f"SKEWGUARD_{k}": v for k, v in settings.items()},
        }
        bind = ["--host", "127.0.0.1", "--port", str(self.port)]
        if kind == "uvicorn":
            command = [sys.executable, "-m", "uvicorn", "tests.deploys.server_app:app", *bind]
            command += ["--workers", str(workers), "--log-level", "warning"]
        else:
            command = [sys.executable, "-m", "gunicorn", "tests.deploys.server_app:app"]
            command += ["--bind", f"127.0.0.1:{self.port}", "--workers", str(workers)]
            command += ["--threads", "4", "--log-level", "warning"]
            if kind == "gunicorn-preload":  # the app is built once, then the workers fork
                command.append("--preload")
        self.proc = subprocess.Popen(
            command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        wait_for_http(self.base + "/version", self.proc, kind)
        if workers > 1:
            self.wait_for_workers(workers)

    def wait_for_workers(self, workers: int) -> None:
        """Until requests have reached ``workers`` distinct processes (they start one by one)."""
        seen: set[str] = set()
        deadline = time.monotonic() + 30
        with httpx.Client(timeout=5) as client:
            while len(seen) < workers:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"only {len(seen)} of {workers} workers answered")
                seen.add(client.get(self.base + "/pid", headers={"Connection": "close"}).text)

    def version(self) -> str:
        return httpx.get(self.base + "/version", timeout=5).json()["version"]

    def stop(self) -> None:
        stop(self.proc)


@pytest.fixture
def servers():
    started: list[Server] = []

    def start(kind: str, workers: int = 1, **settings: str) -> Server:
        server = Server(kind, workers, **settings)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


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


def raw_request(
    port: int, target: str = "/", headers: list[tuple[str, str]] | None = None
) -> tuple[int, dict[str, str], bytes]:
    """One HTTP/1.1 request sent byte for byte as given (header order, duplicates, odd bytes:
    no client library normalises anything); (status, headers, body)."""
    import socket

    lines = [f"GET {target} HTTP/1.1", "Host: 127.0.0.1", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in headers or ()]
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *fields = head.decode("latin-1").split("\r\n")
    parsed: dict[str, str] = {}
    for line in fields:
        name, _, value = line.partition(":")
        parsed[name.strip().lower()] = value.strip()
    if parsed.get("transfer-encoding") == "chunked":
        body = _unchunk(body)
    return int(status_line.split()[1]), parsed, body


def _unchunk(body: bytes) -> bytes:
    out = b""
    while body:
        size_line, _, rest = body.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            break
        out, body = out + rest[:size], rest[size + 2 :]
    return out

"""Helpers for tests that start real server processes on free loopback ports."""

from __future__ import annotations

import socket
import subprocess
import time

import httpx

# A threaded wsgiref server for `module:app` (a WSGI app under a real, concurrent server).
WSGI_RUNNER = """
import sys
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server
sys.path.insert(0, {root!r})
from {module} import app

class Quiet(WSGIRequestHandler):
    def log_message(self, *args):
        pass

class ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True

make_server("127.0.0.1", {port}, app, server_class=ThreadingServer, handler_class=Quiet).serve_forever()
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_http(url: str, proc: subprocess.Popen, what: str, timeout: float = 30) -> None:
    """Until ``url`` answers; a process that exits or a timeout raises with its stderr."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.TransportError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                stderr = proc.stderr.read() if proc.stderr else ""
                stderr = stderr.decode() if isinstance(stderr, bytes) else stderr
                raise RuntimeError(f"{what} did not start: {stderr[-3000:]}") from None
            time.sleep(0.05)


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()

"""Servers the benchmarks start on loopback: a free port, and waiting until one listens."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Callable


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(
    port: int,
    proc: subprocess.Popen,
    seconds: float = 20,
    output: Callable[[], str] | None = None,
) -> None:
    """Return once ``port`` accepts connections; exit the bench if ``proc`` ends first (with
    the end of ``output()``, or of its stderr when piped) or the port stays closed."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            if output is not None:
                said = output()
            elif proc.stderr is not None:
                said = proc.stderr.read().decode(errors="replace")
            else:
                said = ""
            raise SystemExit(f"bench: server exited:\n{said[-1500:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"bench: server did not start on port {port}")

"""One build or prune at a time per output directory."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager

from .errors import BuildError


@contextmanager
def exclusive(state_dir: str) -> Iterator[None]:
    path = os.path.join(state_dir, "lock")
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise BuildError(f"another build or prune is running on {os.path.dirname(state_dir)}") from None
        yield
    finally:
        os.close(fd)

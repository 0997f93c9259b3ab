"""One build or prune at a time per output directory."""

from __future__ import annotations

import errno
import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager

from .errors import BuildError


@contextmanager
def exclusive(state_dir: str) -> Iterator[None]:
    # A POSIX record lock (lockf), not flock: it belongs to this process alone, so worker
    # processes forked during the build do not inherit it, and a build killed with SIGKILL
    # frees the directory at once even while its orphaned workers finish their last chunk.
    path = os.path.join(state_dir, "lock")
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o644)
    try:
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno not in (errno.EACCES, errno.EAGAIN):
                raise
            raise BuildError(
                f"another build or prune is running on {os.path.dirname(state_dir)}"
            ) from None
        yield
    finally:
        os.close(fd)

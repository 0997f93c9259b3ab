"""``skewguard demo``: a small app that shows detection and each policy in two browser tabs."""

from __future__ import annotations

import socket
import tempfile
from pathlib import Path

from ..errors import SkewguardError


class DemoError(SkewguardError):
    """The demo cannot start; the message says why in one line."""


def serve(
    host: str = "127.0.0.1", port: int = 8000, workdir: str | None = None, poll_seconds: float = 3.0
) -> None:
    try:
        import jinja2  # noqa: F401 - only checking it is installed
        import starlette  # noqa: F401 - only checking it is installed
        import uvicorn
    except ImportError as exc:
        raise DemoError(f"the demo needs {exc.name}: pip install 'skewguard[demo]'") from None
    with socket.socket() as probe:
        try:
            probe.bind((host, port))
        except OSError:
            raise DemoError(
                f"{host}:{port} is already in use; pass --port to pick another"
            ) from None
    from .app import Demo

    directory = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="skewguard-demo-"))
    demo = Demo(directory, poll_seconds=poll_seconds)
    print(
        f"skewguard demo: open http://{host}:{port}/ in two tabs (assets built in {directory}); Ctrl-C stops it."
    )
    uvicorn.run(demo.app, host=host, port=port, log_level="warning")

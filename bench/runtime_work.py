"""Work per request, counted rather than timed: the middleware overhead as the number of CPU
instructions uvicorn's own HTTP protocol and the app execute per request, in process.

Run by hand:   .venv/bin/python bench/runtime_work.py [--http httptools h11]
               (needs valgrind: apt-get install valgrind; bench/runtime.py runs it too)

Why: on a shared VM whose speed swings by 30% within a minute, req/s and even CPU time cannot
show a 5% difference. An instruction count under valgrind's callgrind is the same from run to
run (PYTHONHASHSEED is fixed), whatever else the machine does. Each variant answers N1 and then
N2 requests through uvicorn's protocol class fed by an in-memory transport (no socket, no kernel:
the kernel's share of a real request is left out, so the percentages are an upper bound of what
the same work costs a server under load). Instructions per request = (count at N2 - count at N1)
/ (N2 - N1), which cancels interpreter start and imports. Variants:

- bare: the tiny ASGI app of runtime_apps (two response headers, body "ok");
- bare + 1 header: the same app sending an X-App-Version header itself: what one more response
  header costs uvicorn, which skewguard's header pays too;
- header middleware: the floor for any pure ASGI middleware that adds a response header: the
  bare app wrapped by ten lines that add X-App-Version and do nothing else;
- ServeStatic: the bare app wrapped by ServeStaticASGI (a peer: it only serves files, and passes
  this request through);
- skewguard's shape: skewguard's middleware with its checks taken out (which paths are its own,
  the request headers it reads, the response's HTML and own-header check): the class, the state
  read once per request, and the send wrapper that can hand messages to an injector (with
  REGISTRY=none, so no watcher thread). What REGISTRY=none costs above it is the checks;
- defaults / REGISTRY=none: the bare app wrapped by skewguard, as bench/runtime.py serves it.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REQUEST = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: wrk\r\nAccept: */*\r\n\r\n"
VARIANTS = (
    "bare",
    "bare + 1 header",
    "header middleware",
    "ServeStatic",
    "skewguard's shape",
    "defaults",
    "REGISTRY=none",
)


class MemoryTransport(asyncio.Transport):
    """What uvicorn writes goes nowhere; a response is complete when its body ("ok") is out."""

    def __init__(self) -> None:
        super().__init__()
        self.responses = 0

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if bytes(data).endswith(b"ok"):
            self.responses += 1

    def get_extra_info(self, name: str, default: object = None) -> object:
        return {"sockname": ("127.0.0.1", 8000), "peername": ("127.0.0.1", 50000)}.get(
            name, default
        )

    def is_closing(self) -> bool:
        return False

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def close(self) -> None:
        pass


async def bare_with_header(scope, receive, send):
    if scope["type"] != "http":
        return
    headers = [(b"content-type", b"text/plain"), (b"content-length", b"2")]
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [*headers, (b"x-app-version", b"0123456789ab")],
        }
    )
    await send({"type": "http.response.body", "body": b"ok"})


def header_middleware(app):
    """The least a middleware that adds one response header can do."""
    version = (b"x-app-version", b"0123456789ab")

    async def middleware(scope, receive, send):
        def send_with_header(message):
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), version]
            return send(message)

        await app(scope, receive, send_with_header)

    return middleware


def skewguard_shape(root: str):
    """skewguard's middleware as bench/runtime.py serves it, with the checks of its ``__call__``
    taken out (kept in step with src/skewguard/web/asgi.py by hand: a bench, not a test)."""
    import runtime_apps

    from skewguard import Skewguard
    from skewguard.web.asgi import ASGIMiddleware, _send_injected

    class Shape(ASGIMiddleware):
        async def __call__(self, scope, receive, send):
            if scope["type"] != "http":
                await self.app(scope, receive, send)
                return
            state = self.guard.current()
            extra = state.response_headers
            injector = None

            def send_wrapper(message):
                nonlocal injector
                if injector is not None:
                    return _send_injected(send, injector, message)
                if message["type"] != "http.response.start":
                    return send(message)
                message["headers"] = [*message.get("headers", ()), *extra]
                return send(message)

            await self.app(scope, receive, send_wrapper)

    guard = Skewguard(static_root=root, secret_key="bench", vite_hot_file="")
    return Shape(runtime_apps.bare, guard)


def app_for(variant: str, root: str):
    import runtime_apps

    if variant == "bare":
        return runtime_apps.bare
    if variant == "bare + 1 header":
        return bare_with_header
    if variant == "header middleware":
        return header_middleware(runtime_apps.bare)
    if variant == "ServeStatic":
        from servestatic import ServeStaticASGI

        return ServeStaticASGI(runtime_apps.bare, root=root, prefix="static/")
    if variant in ("skewguard's shape", "REGISTRY=none"):
        # No registry, so no watcher thread: callgrind counts every thread, and a watcher's polls
        # scale with the (valgrind-slowed) wall time, not with the requests.
        os.environ["SKEWGUARD_REGISTRY"] = "none"
    if variant == "skewguard's shape":
        return skewguard_shape(root)
    return runtime_apps.with_skewguard(root)


async def answer(app, http: str, requests: int) -> None:
    """``requests`` requests, one after the other on one keep-alive connection."""
    from uvicorn.config import Config
    from uvicorn.server import ServerState

    config = Config(app=app, http=http, lifespan="off", log_level="warning", access_log=False)
    config.load()
    protocol = config.http_protocol_class(
        config=config, server_state=ServerState(), app_state={}, _loop=asyncio.get_running_loop()
    )
    transport = MemoryTransport()
    protocol.connection_made(transport)
    for _ in range(requests):
        expected = transport.responses + 1
        protocol.data_received(REQUEST)
        while transport.responses < expected:
            await asyncio.sleep(0)


def child(variant: str, http: str, requests: int, root: str) -> None:
    os.environ.setdefault("SKEWGUARD_VITE_HOT_FILE", "")
    asyncio.run(answer(app_for(variant, root), http, requests))


def instructions(variant: str, http: str, requests: int, root: Path) -> int:
    env = {
        **os.environ,
        "PYTHONHASHSEED": "0",
        "PYTHONPATH": f"{HERE}:{HERE.parent / 'src'}",
    }
    env.pop("SKEWGUARD_REGISTRY", None)
    done = subprocess.run(
        [
            "valgrind",
            "--tool=callgrind",
            "--callgrind-out-file=/dev/null",
            sys.executable,
            __file__,
            "--child",
            variant,
            http,
            str(requests),
            str(root),
        ],
        env=env,
        capture_output=True,
        text=True,
    )
    found = re.search(r"Collected : (\d+)", done.stderr)
    if done.returncode != 0 or found is None:
        raise SystemExit(f"bench: callgrind failed for {variant}: {done.stderr[-1500:]}")
    return int(found.group(1))


def per_request(variant: str, http: str, root: Path, low: int = 500, high: int = 2500) -> float:
    return (instructions(variant, http, high, root) - instructions(variant, http, low, root)) / (
        high - low
    )


def report(root: Path, parsers: list[str]) -> dict[str, dict[str, float]]:
    from concurrent.futures import ThreadPoolExecutor

    results: dict[str, dict[str, float]] = {}
    with ThreadPoolExecutor(os.cpu_count() or 1) as pool:
        jobs = {
            (http, v): pool.submit(per_request, v, http, root) for http in parsers for v in VARIANTS
        }
    for http in parsers:
        counts = {v: jobs[(http, v)].result() for v in VARIANTS}
        results[http] = counts
        bare = counts["bare"]
        print(f"  uvicorn --http {http}: instructions per request (callgrind, in process)")
        for v in VARIANTS:
            above = "" if v == "bare" else f"  {(counts[v] / bare - 1) * 100:+.1f}% on bare"
            print(f"    {v:<18} {counts[v]:>9,.0f}{above}")
    return results


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        sys.path.insert(0, str(HERE))
        child(sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5])
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--http", nargs="+", default=["httptools", "h11"])
    args = parser.parse_args()
    if not shutil.which("valgrind"):
        raise SystemExit("bench: valgrind is not installed (apt-get install valgrind)")
    sys.path.insert(0, str(HERE))
    import runtime

    with tempfile.TemporaryDirectory(prefix="bench-work-") as work:
        root, _, _ = runtime.build_files(Path(work))
        report(root, args.http)


if __name__ == "__main__":
    main()

"""Runtime speed: middleware overhead, and static file serving against ServeStatic, Starlette's
StaticFiles and nginx (the ceiling), all on the same machine in one run.

Run by hand:   make bench-runtime     (needs wrk and nginx: apt-get install wrk nginx)

Every server is one uvicorn process (one worker) on a free loopback port, loaded by wrk with one
thread and 32 connections for --seconds (default 5) after a 1 s warm-up. The in-process figure
times the middleware around a tiny ASGI app without any server or network.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(port: int, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"bench: server exited: {proc.stderr.read().decode()[-1500:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise SystemExit("bench: server did not start")


def wrk(url: str, seconds: int, headers: dict[str, str] | None = None) -> float:
    args = ["wrk", "-t1", "-c32", f"-d{seconds}s", "--latency"]
    for k, v in (headers or {}).items():
        args += ["-H", f"{k}: {v}"]
    subprocess.run(["wrk", "-t1", "-c32", "-d1s", url], capture_output=True)  # warm-up
    out = subprocess.run(args + [url], capture_output=True, text=True, check=True).stdout
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        raise SystemExit(f"bench: {url} answered {errors.group(1)} errors under load")
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))


def uvicorn_rps(app: str, root: Path, url_path: str, seconds: int, headers=None) -> float:
    port = free_port()
    env = {
        **os.environ,
        "BENCH_APP": app,
        "BENCH_ROOT": str(root),
        "PYTHONPATH": f"{HERE}:{HERE.parent / 'src'}",
    }
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "runtime_apps:app",
            "--port",
            str(port),
            "--host",
            "127.0.0.1",
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        cwd=HERE,
    )
    try:
        wait_for(port, proc)
        url = f"http://127.0.0.1:{port}{url_path}"
        check(url, app)
        return wrk(url, seconds, headers)
    finally:
        proc.terminate()
        proc.wait()


def check(url: str, label: str) -> None:
    """One request before the load: a server that answers errors is not measured."""
    import urllib.request

    with urllib.request.urlopen(url, timeout=5) as response:
        if response.status != 200:
            raise SystemExit(f"bench: {label} answered {response.status} for {url}")


def nginx_rps(root: Path, url_path: str, seconds: int) -> float | None:
    nginx = shutil.which("nginx") or (
        "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
    )
    if nginx is None:
        return None
    port = free_port()
    work = Path(tempfile.mkdtemp(prefix="bench-nginx-"))
    (work / "nginx.conf").write_text(
        textwrap.dedent(f"""
        worker_processes 1;
        error_log {work}/error.log;
        pid {work}/nginx.pid;
        daemon off;
        events {{ worker_connections 1024; }}
        http {{
            access_log off;
            sendfile on;
            include /etc/nginx/mime.types;
            client_body_temp_path {work}; proxy_temp_path {work}; fastcgi_temp_path {work};
            uwsgi_temp_path {work}; scgi_temp_path {work};
            server {{
                listen 127.0.0.1:{port};
                location /static/ {{ alias {root}/; add_header Cache-Control "public, max-age=31536000, immutable"; }}
            }}
        }}
    """)
    )
    proc = subprocess.Popen(
        [nginx, "-c", str(work / "nginx.conf"), "-p", str(work)], stderr=subprocess.PIPE
    )
    try:
        wait_for(port, proc)
        url = f"http://127.0.0.1:{port}{url_path}"
        check(url, "nginx")
        return wrk(url, seconds)
    finally:
        proc.terminate()
        proc.wait()
        shutil.rmtree(work, ignore_errors=True)


def in_process_overhead(requests: int = 200_000) -> tuple[float, float]:
    """Microseconds per request: bare ASGI app, and the same wrapped by skewguard's middleware."""
    import runtime_apps  # noqa: F401 - on sys.path below

    from skewguard import Skewguard

    os.environ.setdefault("SKEWGUARD_VITE_HOT_FILE", "")
    guard = Skewguard(APP_VERSION="1.0.0", MANIFEST_REQUIRED=False, SERVE_STATIC=False)
    wrapped = guard.asgi(runtime_apps.bare)
    scope = {
        "type": "http",
        "method": "GET",
        "path": "/",
        "raw_path": b"/",
        "query_string": b"",
        "headers": [(b"host", b"127.0.0.1"), (b"accept", b"*/*"), (b"user-agent", b"bench")],
    }

    async def receive():
        return {"type": "http.request", "body": b""}

    async def send(message):
        pass

    async def run(app) -> float:
        started = time.perf_counter()
        for _ in range(requests):
            await app(scope, receive, send)
        return (time.perf_counter() - started) / requests * 1e6

    bare_us = min(asyncio.run(run(runtime_apps.bare)) for _ in range(3))
    wrapped_us = min(asyncio.run(run(wrapped)) for _ in range(3))
    return bare_us, wrapped_us


def build_files(work: Path) -> tuple[Path, str, str]:
    from skewguard.build import BuildOptions, build

    src = work / "src"
    (src / "css").mkdir(parents=True)
    (src / "js").mkdir(parents=True)
    css = "".join(
        f".rule-{i} {{ color: #{i % 4096:03x}; margin: {i % 17}px; }}\n" for i in range(400)
    )
    (src / "css" / "app.css").write_text(css[:10240].ljust(10240))
    (src / "js" / "big.js").write_bytes(
        os.urandom(512 * 1024).hex().encode()
    )  # 1 MB, incompressible-ish
    out = work / "out"
    build([str(src)], str(out), BuildOptions(compress=False))
    import json

    paths = json.loads((out / "staticfiles.json").read_text())["paths"]
    return out, "/static/" + paths["css/app.css"], "/static/" + paths["js/big.js"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=5)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("bench: wrk is not installed (apt-get install wrk)")
    sys.path.insert(0, str(HERE))
    work = Path(tempfile.mkdtemp(prefix="bench-runtime-"))
    work.chmod(0o755)  # nginx's workers run unprivileged and must read the files
    try:
        root, small, big = build_files(work)
        s = args.seconds
        print(
            f"{os.cpu_count()} cores; Python {sys.version.split()[0]}; wrk -t1 -c32 -d{s}s; one uvicorn worker each\n"
        )

        bare_us, wrapped_us = in_process_overhead()
        print("(a) middleware overhead")
        print(
            f"  in-process, per request: bare {bare_us:.2f} us, with skewguard {wrapped_us:.2f} us "
            f"(+{wrapped_us - bare_us:.2f} us)"
        )
        bare = uvicorn_rps("bare", root, "/", s)
        wrapped = uvicorn_rps("skewguard_middleware", root, "/", s)
        print(
            f"  uvicorn: bare {bare:,.0f} req/s, with skewguard {wrapped:,.0f} req/s "
            f"({(1 - wrapped / bare) * 100:+.1f}% loss)\n"
        )

        print("(b) static files, 10 KB hashed CSS")
        bare_10k = uvicorn_rps("bare_10k", root, "/", s)
        results = {
            name: uvicorn_rps(name, root, small, s)
            for name in ("skewguard_static", "servestatic", "starlette_static")
        }
        ceiling = nginx_rps(root, small, s)
        print(f"  bare ASGI app answering 10 KB from memory: {bare_10k:,.0f} req/s")
        for name, rps in results.items():
            print(
                f"  {name:<18} {rps:>9,.0f} req/s  {rps / results['servestatic']:.1f}x ServeStatic, "
                f"{rps / bare:.0%} of the bare app, {rps / bare_10k:.0%} of bare 10 KB"
            )
        if ceiling:
            print(f"  {'nginx (ceiling)':<18} {ceiling:>9,.0f} req/s")

        print("\n(b) static files, 1 MB hashed JS")
        results = {
            name: uvicorn_rps(name, root, big, s)
            for name in ("skewguard_static", "servestatic", "starlette_static")
        }
        ceiling = nginx_rps(root, big, s)
        for name, rps in results.items():
            print(
                f"  {name:<18} {rps:>9,.0f} req/s  {rps / results['servestatic']:.2f}x ServeStatic"
            )
        if ceiling:
            print(f"  {'nginx (ceiling)':<18} {ceiling:>9,.0f} req/s")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
